import assert from 'node:assert/strict';
import { test } from 'node:test';
import hdr from 'hdr-histogram-js';
import { createMetrics, decodeHistogram } from '@tailtrace/metrics';
import { createLayout, highestValueAt, indexOf } from '../src/hdr-layout.ts';

// Deterministic PRNG so a failure reproduces.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Nearest-rank percentile of sorted data: the value HDR's bucket must contain. */
function exact(sorted: number[], p: number): number {
  // toFixed: (99.9 / 100) * 50000 is 49950.00000000001 in floating point, which is rank 49950.
  const rank = Math.ceil(Number(((p / 100) * sorted.length).toFixed(6)));
  return sorted[Math.max(0, rank - 1)]!;
}

/** Stated bound (README): |hdr - exact| <= exact / 1024 + 0.5 µs (bucket width at 3 digits + µs rounding). */
function assertWithin(got: number, want: number, what: string): void {
  const bound = want / 1024 + 0.5e-6 + 1e-12;
  assert.ok(Math.abs(got - want) <= bound, `${what}: hdr ${got} vs exact ${want} (bound ${bound})`);
}

test('index math equals hdr-histogram-js countsArrayIndex', () => {
  for (const [lo, hi, d] of [[1, 60e6, 3], [1, 3.6e9, 2], [10, 1e6, 3], [1, 2e6, 5], [1, 1e5, 1]] as const) {
    const layout = createLayout(lo, hi, d);
    const h = new hdr.Int32Histogram(layout.lowest, layout.highest, layout.digits);
    const r = rng(d + lo);
    for (let n = 0; n < 20_000; n++) {
      const v = n < 3000 ? n : Math.floor(r() ** 4 * layout.highest);
      const i = indexOf(layout, v);
      assert.equal(i, h.countsArrayIndex(v), `value ${v}`);
      assert.equal(highestValueAt(layout, i), h.highestEquivalentValue(h.valueFromIndex(i)));
    }
  }
});

const DATASETS: [string, (r: () => number) => number][] = [
  ['uniform 1-500 ms', (r) => 0.001 + r() * 0.499],
  ['log-normal (median 20 ms)', (r) => 0.02 * Math.exp(1.2 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()))],
  ['pareto heavy tail (alpha 1.2, from 2 ms)', (r) => Math.min(59, 0.002 / (1 - r()) ** (1 / 1.2))],
  ['sub-millisecond', (r) => r() * 0.0015],
];

for (const [name, gen] of DATASETS) {
  test(`HDR percentiles vs exact sorted percentiles: ${name}`, () => {
    const m = createMetrics({ runtime: false, now: () => 1_000_000 });
    const r = rng(name.length);
    const data: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      const d = gen(r);
      data.push(d);
      m.record({ kind: 'rpc_server', rpcService: 's.S', rpcMethod: 'M', grpcStatusCode: 0, durationS: d });
    }
    const sorted = data.map((d) => Math.round(d * 1e6) / 1e6).sort((a, b) => a - b);
    const read = m.hdr.read('rpc_server', 's.S/M')!;
    assert.equal(read.count, 50_000);
    assertWithin(read.percentiles.p50, exact(sorted, 50), 'p50');
    assertWithin(read.percentiles.p90, exact(sorted, 90), 'p90');
    assertWithin(read.percentiles.p99, exact(sorted, 99), 'p99');
    assertWithin(read.percentiles.p999, exact(sorted, 99.9), 'p99.9');
    assert.equal(read.min, sorted[0]);
    assert.equal(read.max, sorted[sorted.length - 1]);
    assert.ok(Math.abs(read.mean - data.reduce((a, b) => a + b, 0) / data.length) < 1e-9);
    // Same answers as the library on the encoded window, and the encoding decodes with the library.
    const b64 = m.hdr.encode('rpc_server', 's.S/M');
    const lib = hdr.decodeFromCompressedBase64(b64);
    assert.equal(lib.totalCount, 50_000);
    for (const [p, key] of [[50, 'p50'], [90, 'p90'], [99, 'p99'], [99.9, 'p999']] as const) {
      assert.equal(lib.getValueAtPercentile(p) / 1e6, read.percentiles[key], `library p${p}`);
    }
    const dec = decodeHistogram(b64);
    assert.deepEqual(dec.percentiles, read.percentiles);
    assert.equal(dec.count, 50_000);
    assert.equal(dec.buckets.reduce((n, b) => n + b.count, 0), 50_000);
    m.close();
  });
}

test('window rotation with an injected clock', () => {
  let now = 6_000_000; // sub-window boundary with the defaults (60 s / 6)
  const m = createMetrics({ runtime: false, now: () => now });
  const rec = (d: number) => m.record({ kind: 'http_server', method: 'GET', route: '/r', statusCode: 200, durationS: d });
  for (let i = 0; i < 100; i++) rec(0.1); // sub-window 0
  now += 10_000;
  for (let i = 0; i < 100; i++) rec(0.2); // sub-window 1
  let r = m.hdr.read('http_server', 'GET /r')!;
  assert.equal(r.count, 200);
  assert.ok(Math.abs(r.percentiles.p50 - 0.1) < 0.0002);
  assert.ok(Math.abs(r.max - 0.2) < 1e-9);
  now += 50_000; // sub-window 6: sub-window 0 has left, 1 is still in
  r = m.hdr.read('http_server', 'GET /r')!;
  assert.equal(r.count, 100);
  assert.ok(Math.abs(r.percentiles.p50 - 0.2) < 0.0003);
  assert.ok(Math.abs(r.min - 0.2) < 1e-9);
  assert.equal(r.endMs, now);
  assert.equal(r.startMs, now - 50_000);
  rec(0.05); // recording after reads keeps working
  assert.equal(m.hdr.read('http_server', 'GET /r')!.count, 101);
  now += 10 * 60_000; // long idle: everything expired
  r = m.hdr.read('http_server', 'GET /r')!;
  assert.equal(r.count, 0);
  assert.deepEqual(r.percentiles, { p50: 0, p90: 0, p99: 0, p999: 0 });
  now -= 30_000; // clock going backwards must not break anything
  rec(0.3);
  assert.equal(m.hdr.read('http_server', 'GET /r')!.count, 1);
  m.close();
});

test('summary exposes windowed quantiles and cumulative _sum/_count', async () => {
  let now = 0;
  const m = createMetrics({ runtime: false, now: () => now, hdr: { windowMs: 1000, subWindows: 2 } });
  m.record({ kind: 'http_client', method: 'GET', serverAddress: 'api.example', statusCode: 200, durationS: 0.25 });
  let body = (await m.render()).body;
  assert.match(body, /^tailtrace_latency_seconds\{kind="http_client",operation="GET api\.example",quantile="0\.999"\} 0\.250\d*$/m);
  now = 5000;
  body = (await m.render()).body;
  assert.match(body, /^tailtrace_latency_seconds\{kind="http_client",operation="GET api\.example",quantile="0\.5"\} NaN$/m);
  assert.match(body, /^tailtrace_latency_seconds_count\{kind="http_client",operation="GET api\.example"\} 1$/m);
  assert.match(body, /^tailtrace_latency_seconds_sum\{kind="http_client",operation="GET api\.example"\} 0\.25$/m);
  m.close();
});

test('hdr.operations lists every kind with its operation name; unknown reads are undefined', () => {
  const m = createMetrics({ runtime: false });
  m.record({ kind: 'http_server', method: 'GET', route: '/users/:id', statusCode: 200, durationS: 0.01 });
  m.record({ kind: 'http_client', method: 'GET', serverAddress: 'host', statusCode: 200, durationS: 0.01 });
  m.record({ kind: 'rpc_server', rpcService: 'orders.OrderService', rpcMethod: 'Get', grpcStatusCode: 0, durationS: 0.01 });
  m.record({ kind: 'rpc_client', rpcService: 'orders.OrderService', rpcMethod: 'Get', grpcStatusCode: 0, durationS: 0.01 });
  assert.deepEqual(m.hdr.operations(), [
    { kind: 'http_server', operation: 'GET /users/:id' },
    { kind: 'http_client', operation: 'GET host' },
    { kind: 'rpc_server', operation: 'orders.OrderService/Get' },
    { kind: 'rpc_client', operation: 'orders.OrderService/Get' },
  ]);
  assert.equal(m.hdr.read('http_server', 'GET /nope'), undefined);
  assert.equal(m.hdr.encode('http_server', 'GET /nope'), '');
  m.close();
});

test('values above highestTrackableS are clamped, not lost', () => {
  const m = createMetrics({ runtime: false, hdr: { highestTrackableS: 1 } });
  m.record({ kind: 'http_server', method: 'GET', route: '/slow', statusCode: 200, durationS: 30 });
  const r = m.hdr.read('http_server', 'GET /slow')!;
  assert.equal(r.count, 1);
  assert.ok(r.max <= 1.001 && r.max >= 0.999);
  assert.equal(r.mean, 30);
  m.close();
});

test('decodeHistogram rejects garbage with a TypeError', () => {
  assert.throws(() => decodeHistogram('not base64 at all'), TypeError);
  assert.throws(() => decodeHistogram(''), TypeError);
});

test('hdr.slowest keeps the slowest sampled requests of the window, slowest first, and ages them out', () => {
  let now = 6_000_000;
  const m = createMetrics({ runtime: false, exemplars: false, now: () => now });
  const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
  const rec = (d: number, i: number, sampled = true) => m.record({
    kind: 'rpc_server', rpcService: 'orders.OrderService', rpcMethod: 'Get', grpcStatusCode: 0, durationS: d,
    ...(sampled ? { traceId: hex(i + 1, 32), spanId: hex(i + 1, 16) } : {}),
  });
  const random = rng(7);
  const durations: number[] = [];
  for (let i = 0; i < 500; i++) {
    const d = 0.001 + random() * 0.01;
    durations.push(d);
    rec(d, i);
  }
  rec(5, 999, false); // unsampled: no trace to open, so never listed
  const top = m.hdr.slowest('rpc_server', 'orders.OrderService/Get', 5);
  const expected = [...durations].sort((a, b) => b - a).slice(0, 5);
  assert.deepEqual(top.map((t) => t.durationS), expected);
  assert.equal(top[0]!.traceId, hex(durations.indexOf(expected[0]!) + 1, 32));
  assert.equal(top[0]!.atMs, now);
  now += 10_000;
  rec(0.5, 1000);
  assert.equal(m.hdr.slowest('rpc_server', 'orders.OrderService/Get')[0]!.durationS, 0.5);
  assert.equal(m.hdr.slowest('rpc_server', 'orders.OrderService/Get').length, 6);
  now += 55_000; // the first sub-window has left the window
  assert.deepEqual(m.hdr.slowest('rpc_server', 'orders.OrderService/Get').map((t) => t.durationS), [0.5]);
  assert.deepEqual(m.hdr.slowest('rpc_server', 'nope/Nope'), []);
  m.close();
});
