// diagnose as a library: reading bundles, the comparison, text rendering. Real HDR windows
// (hdr-histogram-js, µs), real heap snapshots from child processes, pprof through the codec.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import hdr from 'hdr-histogram-js';
import {
  DEFAULT_OPTIONS, EvidenceError, analyzeSnapshot, diagnose, diagnosePaths, loadEvidence, readBundle, readEvidence, renderDiagnoseText, resolveOptions,
} from '../src/index.ts';
import type { PprofProfile } from '@tailtrace/formats';
import type { DiagnoseReport, EvidenceBundle } from '../src/index.ts';
import {
  ORDERS_GET, encodeSamples, healthyOps, heapProfile, leakSnapshot, leakingOps, memoryBundle, sampler, samplesOf, writeBundle,
} from './evidence-fixtures.ts';
import { steadyWindows } from '../src/diagnose/latency.ts';
import type { BundleSpec, OpSpec } from './evidence-fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'tailtrace-diagnose-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2025, 5, 3, 10, 0, 0);
const DAY = 86_400_000;
const MiB = 1024 * 1024;

function baselineSpec(extra: Partial<BundleSpec> = {}): BundleSpec {
  return { pid: 100, trigger: 'baseline', endMs: T0, seed: 1, ops: healthyOps(), runtime: { gcMsPerMin: 300, elP99Ms: 12, heapMB: [40] }, heapAfterGcMB: [40, 40, 41, 40], ...extra };
}
function currentSpec(extra: Partial<BundleSpec> = {}): BundleSpec {
  return {
    pid: 200,
    trigger: 'p99_regression',
    endMs: T0 + DAY,
    seed: 2,
    ops: leakingOps(),
    runtime: { gcMsPerMin: 1020, elP99Ms: 31, heapMB: [80, 100, 120], baseGcMsPerMin: 400, baseElP99Ms: 14 },
    heapAfterGcMB: [60, 80, 100, 120],
    ...extra,
  };
}
const op = (r: DiagnoseReport, name: string) => r.operations.find((o) => o.operation === name);

describe('diagnose with snapshots on both sides', () => {
  let report: DiagnoseReport;
  let base: string;
  let cur: string;
  before(async () => {
    base = writeBundle(dir, 'snap-base', baselineSpec({ snapshot: leakSnapshot(dir, 'base', 20), profile: heapProfile(0.5) }));
    cur = writeBundle(dir, 'snap-cur', currentSpec({ snapshot: leakSnapshot(dir, 'cur', 4000), profile: heapProfile(6) }));
    report = await diagnosePaths(base, cur);
  });

  test('the verdict names the regressed route and the class that grew', () => {
    assert.match(report.verdict[0]!, /^GET \/orders\/:id regressed: P99 \d+\.\d ms → \d+\.\d ms \(\d\.\dx, n=1,500 vs 1,200\)\./);
    assert.match(report.verdict[1]!, /^Heap grew \+80\.0 MiB .*led by LeakedSession \(\+7,960 objects, \+\d\.\d+ MiB retained\)/);
    assert.match(report.verdict[2]!, /^GC pause time \+240%/);
    assert.equal(report.regressed, 1);
    assert.equal(op(report, 'GET /orders/:id')!.status, 'regressed');
    for (const name of ['POST /orders', 'orders.OrderService/Get', 'GET inventory']) assert.equal(op(report, name)!.status, 'unchanged', name);
  });

  test('merged windows give the percentiles of all the samples recorded together', () => {
    // the same samples, recorded into one histogram instead of five windows
    const spec = baselineSpec();
    const i = spec.ops.findIndex((o) => o.operation === ORDERS_GET.operation);
    const s = samplesOf(spec, i);
    const all = [...s.baseline.flat(), ...s.current];
    const h = hdr.decodeFromCompressedBase64(encodeSamples(all), 64, false);
    const b = op(report, ORDERS_GET.operation)!.baseline!;
    assert.equal(b.count, all.length);
    assert.equal(b.windows, 5);
    assert.equal(b.ms.p50, h.getValueAtPercentile(50) / 1000);
    assert.equal(b.ms.p99, h.getValueAtPercentile(99) / 1000);
    assert.equal(b.ms.p999, h.getValueAtPercentile(99.9) / 1000);
    // the current side is the CURRENT bundle's window only
    assert.equal(op(report, ORDERS_GET.operation)!.current!.count, 1200);
    assert.equal(op(report, ORDERS_GET.operation)!.current!.windows, 1);
  });

  test('the engine diff ranks LeakedSession first, its holders apart', () => {
    const s = report.heap.snapshot!;
    assert.ok(s, 'snapshot diff present');
    assert.equal(s.classes[0]!.name, 'LeakedSession');
    assert.equal(s.classes[0]!.count.delta, 7960); // two copies of 4,000 (a global Map and a closure's), minus 2 x 20
    // closure contexts multiplied (live handlers) while one of them holds a copy: a holder, not the leak
    assert.ok(!s.classes.some((c) => c.name === 'system / Context'), JSON.stringify(s.classes.slice(0, 3)));
    assert.ok(s.holders.some((c) => c.name === 'system / Context' && c.count.delta > 0), JSON.stringify(s.holders));
    assert.ok(s.classes[0]!.retained.delta > 4 * MiB, `retained delta ${s.classes[0]!.retained.delta}`);
    assert.match(s.classes[0]!.key, /^LeakedSession @\d+:\d+$/);
    // the Map the sessions sit in (and the global object) grew because they hold them
    assert.ok(s.holders.some((c) => c.name === 'Map' && c.count.delta === 0 && c.retained.delta > 4 * MiB), JSON.stringify(s.holders));
    assert.ok(!s.classes.some((c) => c.name === 'Map' || c.name === 'global'));
    assert.ok(s.holders.every((c) => c.retained.delta >= s.classes[0]!.retained.delta / 2));
  });

  test('suspects: the class first with the evidence behind it, then GC', () => {
    const [first, ...rest] = report.suspects;
    assert.equal(first!.kind, 'heap_class');
    assert.match(first!.title, /^LeakedSession grew/);
    assert.ok(first!.evidence.some((e) => e.includes(join(cur, 'heap.heapsnapshot'))), 'names the snapshot file');
    assert.ok(first!.evidence.some((e) => /held by Map/.test(e)), first!.evidence.join('\n'));
    assert.ok(first!.evidence.some((e) => /sampling heap profile agrees: allocation site LeakedSession \/app\/session\.js:3/.test(e)));
    // the corroborating allocation site is folded into the class, (string) is its contents
    assert.ok(!rest.some((x) => x.kind === 'allocation_site'));
    assert.ok(!rest.some((x) => x.title.startsWith('(string)')));
    const gc = rest.find((x) => x.kind === 'gc');
    assert.ok(gc, 'GC suspect');
    assert.ok(gc.evidence.some((e) => e.includes(join(cur, 'runtime.json'))));
    assert.deepEqual(report.suspects.map((x) => x.rank), report.suspects.map((_, i) => i + 1));
  });

  test('slow traces: the regressed route first, slowest first', () => {
    const t = report.slowTraces;
    assert.equal(t.length, 20);
    assert.ok(t.slice(0, 5).every((x) => x.operation === 'GET /orders/:id' && x.regressed));
    assert.ok(t.slice(5).every((x) => !x.regressed));
    for (let i = 1; i < 5; i++) assert.ok(t[i - 1]!.durationMs >= t[i]!.durationMs);
    assert.match(t[0]!.traceId, /^[0-9a-f]{32}$/);
    assert.equal(t[0]!.file, join(cur, 'traces.json'));
  });

  test('text: verdict first, then the tables', () => {
    const text = renderDiagnoseText(report);
    const lines = text.split('\n');
    assert.equal(lines[3], '  trigger:  P99 of GET /orders/:id over 2.0x baseline');
    assert.equal(lines[5], 'Verdict');
    assert.equal(lines[6], `  ${report.verdict[0]}`);
    assert.match(text, /GET \/orders\/:id\s+http_server\s+REGRESSED\s+1,500\s+1,200/);
    assert.match(text, /What multiplied: classes by growth of retained size/);
    assert.match(text, /LeakedSession @\d+:\d+ .* Map \(8,000\)\n/, 'held by the Map');
    assert.match(text, /\nMap +0 +\+[\d.]+ MiB +[\d.]+ MiB +LeakedSession @\d+:\d+/, 'the Map holds LeakedSession');
    assert.match(text, /LeakedSession @\d+:\d+\s+\+7,960/);
    assert.match(text, /Holders \(grew because they hold what multiplied\)\n[^]*\nMap\s+0\s+\+\d/);
    assert.match(text, /GC pause time\s+300 ms\/min\s+1\.02 s\/min\s+\+240%/);
    assert.match(text, /\n {2}1\. LeakedSession grew/);
  });

  test('analyzeSnapshot and loadEvidence: the engine runs only when both sides have a snapshot', async () => {
    const s = await analyzeSnapshot(join(cur, 'heap.heapsnapshot'));
    assert.equal(s.classes.find((c) => c.name === 'LeakedSession')?.count, 8000);
    const both = await loadEvidence(base, cur);
    assert.ok(both.baseline.snapshot && both.current.snapshot);
    const noSnap = writeBundle(dir, 'nosnap-base', baselineSpec());
    const one = await loadEvidence(noSnap, cur);
    assert.equal(one.baseline.snapshot, null);
    assert.equal(one.current.snapshot, null, 'a single snapshot is not analyzed');
  });
});

describe('diagnose without snapshots', () => {
  test('pprof only: the allocation site that grew leads', async () => {
    const base = writeBundle(dir, 'pprof-base', baselineSpec({ profile: heapProfile(0.5) }));
    const cur = writeBundle(dir, 'pprof-cur', currentSpec({ profile: heapProfile(6) }));
    const r = await diagnosePaths(base, cur);
    assert.equal(r.heap.snapshot, null);
    assert.ok(r.heap.notes.some((n) => /no heap snapshot on the baseline side \(newest bundle: snapshot skipped: policy: snapshots off\)/.test(n)), r.heap.notes.join('\n'));
    const site = r.heap.profile!.sites[0]!;
    assert.equal(site.site, 'LeakedSession /app/session.js:3');
    assert.equal(site.inuseBytes.delta, 5.5 * MiB);
    assert.deepEqual(site.stack.slice(0, 3), ['LeakedSession /app/session.js:3', 'createSession /app/session.js:20', 'getOrder /app/routes/orders.js:42']);
    // steady sites did not grow and are not listed
    assert.equal(r.heap.profile!.sites.length, 1);
    assert.match(r.verdict[1]!, /led by allocation site LeakedSession \/app\/session\.js:3 \(\+5\.50 MiB in use, sampled\)/);
    assert.equal(r.suspects[0]!.kind, 'allocation_site');
    assert.ok(r.suspects[0]!.evidence.some((e) => e.includes(join(cur, 'heap.pb.gz'))));
    assert.match(r.verdict[0]!, /^GET \/orders\/:id regressed/);
  });

  test("suspects a reader can act on: the service's allocation site before tailtrace's, OpenTelemetry's and Node's, each labelled", async () => {
    // the demo's case: the service's leak grew less than what instrumentation keeps
    const fn = (id: number, name: string, filename: string) => ({ id, name, systemName: name, filename, startLine: 1 });
    const loc = (id: number, functionId: number, line: number) => ({ id, mappingId: 0, address: 0, lines: [{ functionId, line }] });
    const profile = (scale: number): PprofProfile => ({
      sampleTypes: [{ type: 'inuse_objects', unit: 'count' }, { type: 'inuse_space', unit: 'bytes' }],
      samples: [
        { locationIds: [1, 9], values: [100, 4 * MiB * scale] }, // the service: OrderSession in routes/orders.js
        { locationIds: [2, 9], values: [100, 9 * MiB * scale] }, // tailtrace: parseTraceParent
        { locationIds: [3, 9], values: [100, 8 * MiB * scale] }, // OpenTelemetry: Span
        { locationIds: [4, 5, 9], values: [100, 7 * MiB * scale] }, // the demo's span ring, called back by OpenTelemetry
        { locationIds: [6, 9], values: [100, 6 * MiB * scale] }, // Node: a builtin module
        { locationIds: [7, 9], values: [100, 5 * MiB * scale] }, // a dependency
      ],
      mappings: [],
      locations: [loc(1, 1, 40), loc(2, 2, 12), loc(3, 3, 88), loc(4, 4, 30), loc(5, 5, 200), loc(6, 6, 7), loc(7, 7, 300), loc(9, 9, 0)],
      functions: [
        fn(1, 'OrderSession', 'file:///srv/shop/routes/orders.js'),
        fn(2, 'parseTraceParent', 'file:///srv/shop/node_modules/@tailtrace/tracing/dist/traceparent.js'),
        fn(3, 'Span', 'file:///srv/shop/node_modules/@opentelemetry/sdk-trace/build/src/Span.js'),
        fn(4, 'view', 'file:///srv/shop/lib/span-ring.js'),
        fn(5, 'onEnd', 'file:///srv/shop/node_modules/@opentelemetry/sdk-trace/build/src/MultiSpanProcessor.js'),
        fn(6, 'Readable', 'node:internal/streams/readable'),
        fn(7, 'makeUnaryRequest', 'file:///srv/shop/node_modules/@grpc/grpc-js/build/src/client.js'),
        fn(9, '(root)', ''),
      ],
      timeNanos: 0, durationNanos: 0, periodType: { type: 'space', unit: 'bytes' }, period: 524288, comments: [], defaultSampleType: 1,
    });
    const base = writeBundle(dir, 'origin-base', baselineSpec({ profile: profile(0.1) }));
    const cur = writeBundle(dir, 'origin-cur', currentSpec({ profile: profile(1) }));
    const r = await diagnosePaths(base, cur);
    assert.equal(r.heap.profile!.serviceRoot, '/srv/shop');
    const sites = r.suspects.filter((x) => x.kind === 'allocation_site');
    assert.equal(sites[0]!.origin, 'service');
    assert.match(sites[0]!.title, /^allocation site OrderSession \/srv\/shop\/routes\/orders\.js:40 grew/, 'the service first, though it grew least (whole path in the report)');
    assert.equal(sites[1]!.origin, 'dependency');
    assert.match(sites[1]!.title, /makeUnaryRequest .* \[dependency @grpc\/grpc-js\]/);
    assert.ok(sites.slice(2).every((x) => x.origin === 'instrumentation'), 'then instrumentation');
    const firstRuntime = r.suspects.findIndex((x) => x.kind !== 'heap_class' && x.kind !== 'allocation_site');
    assert.ok(firstRuntime > r.suspects.indexOf(sites[1]!) && firstRuntime < r.suspects.indexOf(sites[2]!), 'runtime symptoms between the code and instrumentation');
    const bySite = new Map(r.heap.profile!.sites.map((x) => [x.functionName, x]));
    assert.deepEqual([...bySite.values()].map((x) => [x.functionName, x.origin, x.calledBy]).sort(), [
      ['OrderSession', 'service', null], ['Readable', 'node', null], ['Span', 'opentelemetry', null], ['makeUnaryRequest', 'dependency', null], ['parseTraceParent', 'tailtrace', null], ['view', 'service', 'opentelemetry'],
    ].sort());
    assert.match(r.verdict[1]!, /led by allocation site OrderSession \/srv\/shop\/routes\/orders\.js:40 \(/);
    const text = renderDiagnoseText(r);
    assert.match(text, /led by allocation site OrderSession routes\/orders\.js:40 \(/, 'relative to the service root in text');
    assert.match(text, /parseTraceParent node_modules\/@tailtrace\/tracing\/dist\/traceparent\.js:12 \[tailtrace\]/);
    assert.match(text, /Span node_modules\/@opentelemetry\/sdk-trace\/build\/src\/Span\.js:88 \[OpenTelemetry\]/);
    assert.match(text, /view lib\/span-ring\.js:30 \[called by OpenTelemetry\]/);
    assert.match(text, /Readable node:internal\/streams\/readable:7 \[Node\.js runtime\]/);
    assert.doesNotMatch(text, /\/srv\/shop\//);
  });

  test('no heap profile anywhere: heap figures from heap.json, notes say what is missing', async () => {
    const base = writeBundle(dir, 'plain-base', baselineSpec());
    const cur = writeBundle(dir, 'plain-cur', currentSpec());
    const r = await diagnosePaths(base, cur);
    assert.equal(r.heap.profile, null);
    assert.match(r.verdict[1]!, /^Heap grew \+80\.0 MiB \(40\.0 MiB → 120 MiB used after GC\)\.$/);
    assert.ok(r.heap.notes.some((n) => /no sampling heap profile/.test(n)));
    assert.ok(r.suspects.some((s) => s.kind === 'heap_trend'));
  });
});

describe('regression detection', () => {
  /** Heavy-tailed and light distributions at small and large sample counts. */
  const noiseOps = (): OpSpec[] => [
    { kind: 'http_server', operation: 'GET /heavy', dist: { medianMs: 20, sigma: 1.0 }, n: 60 },
    { kind: 'http_server', operation: 'GET /tail', dist: { medianMs: 8, sigma: 0.3, tailShare: 0.02, tailMs: 200 }, n: 400 },
    { kind: 'rpc_server', operation: 'svc.S/Busy', dist: { medianMs: 3, sigma: 0.6 }, n: 3000 },
    { kind: 'http_client', operation: 'GET few', dist: { medianMs: 5, sigma: 0.5 }, n: 50 },
    { kind: 'http_client', operation: 'GET mid', dist: { medianMs: 5, sigma: 0.5 }, n: 300 },
  ];
  const side = (seed: number, ops: OpSpec[], pid: number): EvidenceBundle =>
    memoryBundle(`/mem/${seed}`, { pid, trigger: 'baseline', endMs: T0 + seed * DAY, seed, ops, runtime: { gcMsPerMin: 300, elP99Ms: 12, heapMB: [40] }, heapAfterGcMB: [40, 41] });

  test('two samples of the same distributions: nothing flagged (30 seed pairs)', () => {
    let judged = 0;
    for (let seed = 10; seed < 40; seed++) {
      const r = diagnose({ bundles: [side(seed, noiseOps(), 1)], snapshot: null }, { bundles: [side(seed + 1000, noiseOps(), 2)], snapshot: null });
      const flagged = r.operations.filter((o) => o.status === 'regressed' || o.status === 'improved');
      assert.deepEqual(flagged.map((o) => `${o.operation}: ${o.why}`), [], `seed ${seed}`);
      judged += r.operations.filter((o) => o.judged && o.status !== 'insufficient').length;
      assert.equal(r.regressed, 0);
      assert.match(r.verdict[0]!, /^No operation regressed/);
      assert.equal(r.suspects.length, 0, `seed ${seed}: ${r.suspects.map((s) => s.title).join('; ')}`);
    }
    assert.equal(judged, 30 * 5, 'every operation was judged (none skipped as too small)');
  });

  test('the same detector flags a real 2x shift, and not a 1.3x one', () => {
    const shifted = (f: number): OpSpec[] => noiseOps().map((o) => ({ ...o, dist: { ...o.dist, medianMs: o.dist.medianMs * f } }));
    for (let seed = 10; seed < 20; seed++) {
      const base = { bundles: [side(seed, noiseOps(), 1)], snapshot: null };
      const r = diagnose(base, { bundles: [side(seed + 1000, shifted(2), 2)], snapshot: null });
      // 300 and 3,000 samples a window are enough to see it every time
      for (const name of ['svc.S/Busy', 'GET mid']) {
        const s = r.operations.find((o) => o.operation === name)!;
        assert.equal(s.status, 'regressed', `seed ${seed}: ${s.why}`);
        assert.ok(s.judged!.pValue < 0.001 && s.judged!.currentAbove > s.judged!.baselineAbove / 5);
      }
      // 50 samples cannot tell a P99 apart: the tail test says so instead of guessing
      const few = r.operations.find((o) => o.operation === 'GET few')!;
      assert.notEqual(few.status, 'regressed', `seed ${seed}: ${few.why}`);
      const small = diagnose(base, { bundles: [side(seed + 1000, shifted(1.3), 2)], snapshot: null });
      assert.equal(small.regressed, 0, `seed ${seed}: ${small.operations.map((o) => o.why).join('; ')}`);
    }
  });

  test('too few samples, new and gone operations', () => {
    const a: OpSpec[] = [
      { kind: 'http_server', operation: 'GET /rare', dist: { medianMs: 5, sigma: 0.2 }, n: 5, baselineWindows: 1 },
      { kind: 'http_server', operation: 'GET /old', dist: { medianMs: 5, sigma: 0.2 }, n: 100 },
    ];
    const b: OpSpec[] = [
      { kind: 'http_server', operation: 'GET /rare', dist: { medianMs: 50, sigma: 0.2 }, n: 40 },
      { kind: 'http_server', operation: 'GET /new', dist: { medianMs: 5, sigma: 0.2 }, n: 100 },
    ];
    const r = diagnose({ bundles: [side(1, a, 1)], snapshot: null }, { bundles: [side(2, b, 2)], snapshot: null });
    assert.equal(r.operations.find((o) => o.operation === 'GET /rare')!.status, 'insufficient');
    assert.match(r.operations.find((o) => o.operation === 'GET /rare')!.why, /n=10 vs 40: fewer than 50 samples on either side/);
    assert.equal(r.operations.find((o) => o.operation === 'GET /new')!.status, 'new');
    assert.equal(r.operations.find((o) => o.operation === 'GET /old')!.status, 'gone');
    assert.equal(r.operations.at(-1)!.operation, 'GET /old', 'gone operations last');
    // with the bar lowered, 10 vs 40 samples still cannot bound a P99 (nothing lies above the
    // pooled P99 of 50 values), but they do show a 10x shift of the median
    const lowBar = (percentile: number) => diagnose({ bundles: [side(1, a, 1)], snapshot: null }, { bundles: [side(2, b, 2)], snapshot: null }, { minSamples: 5, percentile });
    assert.equal(lowBar(99).operations.find((o) => o.operation === 'GET /rare')!.status, 'unchanged');
    assert.match(lowBar(99).operations.find((o) => o.operation === 'GET /rare')!.why, /could be noise/);
    assert.equal(lowBar(50).operations.find((o) => o.operation === 'GET /rare')!.status, 'regressed');
  });

  test("the verdict leads with the service's own entry point: a client call slowed by the same stall comes after it", () => {
    // The leak demo: the gateway's route and its gRPC client call both regress (a blocked event loop
    // delays the client's callbacks too), the client call a little more. Callers see the route.
    const ops = (f: number, fc: number): OpSpec[] => [
      { kind: 'http_server', operation: 'GET /api/orders/:id', dist: { medianMs: 10 * f, sigma: 0.3 }, n: 2000 },
      { kind: 'rpc_client', operation: 'orders.OrderService/Get', dist: { medianMs: 6 * fc, sigma: 0.3 }, n: 2000 },
    ];
    const r = diagnose({ bundles: [side(1, ops(1, 1), 1)], snapshot: null }, { bundles: [side(2, ops(5, 9), 2)], snapshot: null });
    assert.equal(r.regressed, 2);
    assert.match(r.verdict[0]!, /^GET \/api\/orders\/:id regressed: P99 .* Also regressed: orders\.OrderService\/Get \(/);
    // a dependency that regressed alone still leads
    const alone = diagnose({ bundles: [side(1, ops(1, 1), 1)], snapshot: null }, { bundles: [side(2, ops(1, 9), 2)], snapshot: null });
    assert.match(alone.verdict[0]!, /^orders\.OrderService\/Get regressed/);
  });

  test('a stalled baseline window is set aside, as the trigger does: the regression that fired it still reads regressed', () => {
    const ops = (f: number): OpSpec[] => [{ ...ORDERS_GET, dist: { medianMs: 8 * f, sigma: 0.3 }, n: 2000, baselineWindows: 8 }];
    const base = side(1, ops(1), 1);
    // One baseline window in which the machine stalled: a third of its requests waited ~100 ms.
    const stalled = base.histograms.operations[0]!.baseline[3]! as { encoded: string; count: number };
    stalled.encoded = encodeSamples(Array.from({ length: 2000 }, sampler({ medianMs: 8, sigma: 0.3, tailShare: 0.35, tailMs: 100 }, 7)));
    stalled.count = 2000;
    const r = diagnose({ bundles: [base], snapshot: null }, { bundles: [side(2, ops(4), 2)], snapshot: null });
    const op = r.operations[0]!;
    assert.equal(op.status, 'regressed', op.why);
    assert.equal(op.baseline!.stalledWindowsSetAside, 1);
    assert.equal(op.baseline!.windows, 8, "the bundle's own window and 7 of its 8 baseline windows");
    assert.match(op.why, /; 1 stalled baseline window set aside \(P99 over 3x the median window's\)$/);
    assert.match(r.verdict[0]!, /^GET \/orders\/:id regressed/);
    // Why it matters: the stalled window alone is slower than the regression, so merged in, it
    // made the regression read "improved".
    assert.ok(hdr.decodeFromCompressedBase64(stalled.encoded).getValueAtPercentile(99) / 1000 > op.current!.ms.p99);
  });

  test('steadyWindows: a median needs 3 windows; an even stall across windows is kept', () => {
    const w = (ms: number) => ({ startMs: 0, endMs: 1, count: 200, encoded: encodeSamples(Array.from({ length: 200 }, () => ms)) });
    assert.equal(steadyWindows([w(10), w(100)], 99).setAside, 0);
    assert.equal(steadyWindows([w(10), w(12), w(100)], 99).setAside, 1);
    assert.equal(steadyWindows([w(10), w(12), w(29)], 99).setAside, 0, 'under 3x the median');
    assert.equal(steadyWindows([w(100), w(100), w(100)], 99).setAside, 0);
    assert.deepEqual(steadyWindows([{ ...w(10), count: 0 }, w(10), w(10)], 99), { kept: [w(10), w(10)], setAside: 0 }, 'empty windows are not windows');
  });

  test('options: percentile and threshold change what counts', () => {
    const ops = (f: number): OpSpec[] => [{ ...ORDERS_GET, dist: { medianMs: 10 * f, sigma: 0.3 }, n: 2000 }];
    const b = { bundles: [side(1, ops(1), 1)], snapshot: null };
    const c = { bundles: [side(2, ops(1.6), 2)], snapshot: null };
    assert.equal(diagnose(b, c).regressed, 1);
    assert.equal(diagnose(b, c, { threshold: 2 }).regressed, 0);
    assert.equal(diagnose(b, c, { percentile: 50 }).operations[0]!.judged!.percentile, 50);
    assert.match(diagnose(b, c, { percentile: 50 }).verdict[0]!, /regressed: P50 /);
    assert.equal(diagnose(b, c, { minDeltaMs: 100 }).regressed, 0);
  });

  test('resolveOptions: defaults and one clear error per bad option', () => {
    assert.deepEqual(resolveOptions(), DEFAULT_OPTIONS);
    assert.throws(() => resolveOptions({ percentile: 95 }), /percentile must be one of 50, 90, 99, 99\.9, got 95/);
    assert.throws(() => resolveOptions({ threshold: 1 }), /threshold must be a ratio above 1/);
    assert.throws(() => resolveOptions({ minSamples: 0 }), /minSamples must be a positive integer/);
    assert.throws(() => resolveOptions({ minDeltaMs: -1 }), /minDeltaMs/);
    assert.throws(() => resolveOptions({ top: 1.5 }), /top must be a non-negative integer/);
    assert.throws(() => resolveOptions({ traceUrl: 'http://tempo/trace/' }), /traceUrl must contain \{traceId\}/);
    const r = diagnose(
      { bundles: [side(1, healthyOps(), 1)], snapshot: null },
      { bundles: [side(2, leakingOps(), 2)], snapshot: null },
      { traceUrl: 'http://127.0.0.1:3200/trace/{traceId}', traces: 3 },
    );
    assert.equal(r.slowTraces.length, 3);
    assert.equal(r.slowTraces[0]!.url, `http://127.0.0.1:3200/trace/${r.slowTraces[0]!.traceId}`);
  });
});

describe('readEvidence', () => {
  test('outcome.json: a trigger the service later judged a blip says so in the report; a malformed one is an EvidenceError', async () => {
    const base = writeBundle(dir, 'blip-base', baselineSpec({ seed: 7, endMs: T0 }));
    const cur = writeBundle(dir, 'blip-cur', currentSpec());
    const manifest = JSON.parse(readFileSync(join(cur, 'manifest.json'), 'utf8')) as { files: Record<string, unknown> };
    manifest.files['outcome'] = 'outcome.json';
    writeFileSync(join(cur, 'manifest.json'), JSON.stringify(manifest));
    // named but absent: the usual case
    assert.equal((await readBundle(cur)).outcome, null);
    assert.doesNotMatch(renderDiagnoseText(await diagnosePaths(base, cur)), /later judged a blip/);
    const reason = 'P99 back under its threshold 5 s after the trigger';
    writeFileSync(join(cur, 'outcome.json'), JSON.stringify({ triggers: [{ kind: 'p99_regression', outcome: 'blip', reason, decidedAt: '2025-06-03T10:00:00.000Z' }] }));
    const r = await diagnosePaths(base, cur);
    assert.equal(r.current.bundles[0]!.blip, reason);
    assert.match(renderDiagnoseText(r), new RegExp(`later judged a blip by the service: ${reason}`));
    writeFileSync(join(cur, 'outcome.json'), JSON.stringify({ triggers: [{ kind: 'p99_regression', outcome: 'maybe' }] }));
    await assert.rejects(readBundle(cur), (e: unknown) => e instanceof EvidenceError && /triggers\[0\]\.outcome/.test(e.message));
  });

  test('a directory of bundles: newest last, dot names and non-bundles skipped, repeated windows counted once', async () => {
    const parent = join(dir, 'evidence');
    // names sort the other way round from createdAt
    const first = writeBundle(parent, 'z-first', baselineSpec({ seed: 5, endMs: T0 }));
    const second = writeBundle(parent, 'a-second', baselineSpec({ seed: 6, endMs: T0 + 60_000 }));
    mkdirSync(join(parent, '.20250603T100200000Z-baseline-100.partial'));
    writeFileSync(join(parent, '.20250603T100200000Z-baseline-100.partial', 'manifest.json'), '{"half":');
    mkdirSync(join(parent, 'notes'));
    writeFileSync(join(parent, 'README'), 'not a bundle');
    const bundles = await readEvidence(parent);
    assert.deepEqual(bundles.map((b) => b.dir), [first, second]);
    assert.deepEqual(await readEvidence(join(second, 'manifest.json')).then((x) => x.map((b) => b.dir)), [second]);
    assert.equal((await readBundle(first)).manifest.pid, 100);

    const cur = writeBundle(dir, 'dir-cur', currentSpec());
    const r = await diagnosePaths(parent, cur);
    // first: W-4..W0, second: W-3..W1 of the same process -> 6 distinct windows per operation
    assert.equal(r.baseline.windows, 6 * 4);
    assert.equal(op(r, ORDERS_GET.operation)!.baseline!.count, 6 * 300);
    assert.equal(r.baseline.bundles.length, 2);
    assert.equal(r.baseline.span!.endMs, T0 + 60_000);
  });

  test('the same bundle on both sides compares its window with its own baseline windows', async () => {
    const b = writeBundle(dir, 'self', baselineSpec({ seed: 9 }));
    const r = await diagnosePaths(b, b);
    assert.equal(op(r, ORDERS_GET.operation)!.baseline!.windows, 4);
    assert.equal(op(r, ORDERS_GET.operation)!.current!.windows, 1);
    assert.equal(r.regressed, 0);
  });

  test('errors are EvidenceErrors naming the file', async () => {
    await assert.rejects(readEvidence(join(dir, 'nope')), (e: unknown) => e instanceof EvidenceError && e.message === `${join(dir, 'nope')}: no such file or directory`);
    const empty = join(dir, 'empty-dir');
    mkdirSync(empty);
    await assert.rejects(readEvidence(empty), (e: unknown) => e instanceof EvidenceError && /holds no bundles/.test(e.message) && e.file === empty);
  });
});

describe('the tail test', () => {
  test('hypergeometricTail matches exact big-integer combinatorics', async () => {
    const { hypergeometricTail } = await import('../src/diagnose/stats.ts');
    const choose = (n: number, k: number): bigint => {
      if (k < 0 || k > n) return 0n;
      let r = 1n;
      for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
      return r;
    };
    const exact = (N: number, K: number, n: number, x: number): number => {
      let num = 0n;
      for (let k = x; k <= Math.min(K, n); k++) num += choose(K, k) * choose(N - K, n - k);
      // scale so the division keeps 15 significant digits
      return Number((num * 10n ** 18n) / choose(N, n)) / 1e18;
    };
    for (const [N, K, n, x] of [
      [300, 3, 50, 3],
      [300, 18, 300 / 6, 10],
      [1800, 18, 300, 15],
      [18_000, 180, 3000, 127],
      [50, 25, 40, 25],
      [100, 10, 50, 0],
      [100, 10, 50, 11],
    ] as const) {
      const got = hypergeometricTail(N, K, n, x);
      const want = exact(N, K, n, x);
      assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(want, 1e-9) + 1e-15, `N=${N} K=${K} n=${n} x=${x}: ${got} vs ${want}`);
    }
  });
});
