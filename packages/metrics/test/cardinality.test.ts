import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics, OVERFLOW_VALUE } from '@tailtrace/metrics';
import { parseExposition } from './exposition-parser.ts';

test('10,000 distinct routes: series bounded by the cap, excess in _overflow and counted', async () => {
  const m = createMetrics({ runtime: false, maxSeriesPerMetric: 100 });
  for (let i = 0; i < 10_000; i++) {
    m.record({ kind: 'http_server', method: 'GET', route: `/r/${i}`, statusCode: 200, durationS: 0.01 });
  }
  // A known series keeps counting into itself after the cap is reached.
  m.record({ kind: 'http_server', method: 'GET', route: '/r/5', statusCode: 200, durationS: 0.01 });
  const fams = parseExposition((await m.render('application/openmetrics-text')).body, true);
  const counts = fams.get('http_server_request_duration_seconds')!.samples.filter((s) => s.name.endsWith('_count'));
  assert.equal(counts.length, 101);
  const over = counts.find((s) => s.labels.http_route === OVERFLOW_VALUE)!;
  assert.deepEqual(over.labels, { http_request_method: '_overflow', http_route: '_overflow', http_response_status_code: '_overflow' });
  assert.equal(over.value, 9_900);
  assert.equal(counts.find((s) => s.labels.http_route === '/r/5')!.value, 2);
  const overflow = fams.get('tailtrace_metric_series_overflow')!;
  const byMetric = Object.fromEntries(overflow.samples.map((s) => [s.labels.metric, s.value]));
  assert.equal(byMetric.http_server_request_duration_seconds, 9_900);
  assert.equal(byMetric.tailtrace_latency_seconds, 9_900);
  // The HDR side is capped the same way.
  const ops = m.hdr.operations();
  assert.equal(ops.length, 101);
  assert.equal(m.hdr.read('http_server', OVERFLOW_VALUE)!.count, 9_900);
  const summary = fams.get('tailtrace_latency_seconds')!.samples.filter((s) => s.name === 'tailtrace_latency_seconds_count');
  assert.equal(summary.length, 101);
  m.close();
});

test('300 distinct client hosts do not push new server routes into _overflow: a budget per kind', async () => {
  const m = createMetrics({ runtime: false });
  for (let i = 0; i < 300; i++) {
    m.record({ kind: 'http_client', method: 'GET', serverAddress: `host-${i}.example`, statusCode: 200, durationS: 0.01 });
    m.record({ kind: 'rpc_client', rpcService: `svc${i}.S`, rpcMethod: 'Get', grpcStatusCode: 0, durationS: 0.01 });
  }
  for (let i = 0; i < 200; i++) m.record({ kind: 'http_server', method: 'GET', route: `/r/${i}/:id`, statusCode: 200, durationS: 0.02 });
  m.record({ kind: 'rpc_server', rpcService: 'orders.OrderService', rpcMethod: 'Get', grpcStatusCode: 0, durationS: 0.02 });
  const ops = m.hdr.operations();
  const of = (kind: string) => ops.filter((o) => o.kind === kind);
  assert.equal(of('http_server').length, 200, 'every route has its own window');
  assert.ok(of('http_server').every((o) => o.operation !== OVERFLOW_VALUE));
  assert.equal(m.hdr.read('http_server', 'GET /r/199/:id')!.count, 1);
  assert.equal(m.hdr.read('rpc_server', 'orders.OrderService/Get')!.count, 1);
  // Clients: 64 each by default, the rest in their kind's own _overflow.
  assert.equal(of('http_client').length, 65);
  assert.equal(m.hdr.read('http_client', OVERFLOW_VALUE)!.count, 236);
  assert.equal(of('rpc_client').length, 65);
  assert.equal(m.hdr.read('rpc_client', OVERFLOW_VALUE)!.count, 236);
  const fams = parseExposition((await m.render('application/openmetrics-text')).body, true);
  const byKind = Object.fromEntries(fams.get('tailtrace_latency_operations_overflow')!.samples.map((s) => [s.labels.kind, s.value]));
  assert.deepEqual(byKind, { http_server: 0, http_client: 236, rpc_server: 0, rpc_client: 236 });
  const byMetric = Object.fromEntries(fams.get('tailtrace_metric_series_overflow')!.samples.map((s) => [s.labels.metric, s.value]));
  assert.equal(byMetric.tailtrace_latency_seconds, 472, 'the total keeps counting for existing dashboards');
  m.close();
});

test('a server kind fills only its own budget', () => {
  const m = createMetrics({ runtime: false, hdr: { maxOperations: { http_server: 2, http_client: 1 } } });
  for (let i = 0; i < 4; i++) m.record({ kind: 'http_server', method: 'GET', route: `/r/${i}`, statusCode: 200, durationS: 0.01 });
  m.record({ kind: 'http_client', method: 'GET', serverAddress: 'a', statusCode: 200, durationS: 0.01 });
  m.record({ kind: 'http_client', method: 'GET', serverAddress: 'b', statusCode: 200, durationS: 0.01 });
  m.record({ kind: 'rpc_server', rpcService: 's', rpcMethod: 'A', grpcStatusCode: 0, durationS: 0.01 });
  assert.deepEqual(m.hdr.operations().map((o) => `${o.kind} ${o.operation}`), [
    'http_server GET /r/0', 'http_server GET /r/1', 'http_server _overflow', 'http_client GET a', 'http_client _overflow', 'rpc_server s/A',
  ]);
  m.close();
});

test('the per-kind caps never exceed maxSeriesPerMetric; a number caps every kind', () => {
  const m = createMetrics({ runtime: false, maxSeriesPerMetric: 3 });
  for (const kind of ['http_server', 'http_client'] as const) {
    for (let i = 0; i < 5; i++) m.record({ kind, method: 'GET', route: `/r/${i}`, serverAddress: `h${i}`, statusCode: 200, durationS: 0.01 });
  }
  assert.equal(m.hdr.operations().length, 8);
  m.close();
  const n = createMetrics({ runtime: false, hdr: { maxOperations: 1 } });
  for (const kind of ['http_server', 'http_client'] as const) {
    for (let i = 0; i < 3; i++) n.record({ kind, method: 'GET', route: `/r/${i}`, serverAddress: `h${i}`, statusCode: 200, durationS: 0.01 });
  }
  assert.deepEqual(n.hdr.operations().map((o) => `${o.kind} ${o.operation}`), [
    'http_server GET /r/0', 'http_server _overflow', 'http_client GET h0', 'http_client _overflow',
  ]);
  n.close();
});

test('record() never throws and counts malformed input', async () => {
  const m = createMetrics({ runtime: false });
  const bad: unknown[] = [
    { kind: 'http_server', durationS: NaN },
    { kind: 'http_server', durationS: -1 },
    { kind: 'http_server', durationS: Infinity },
    { kind: 'http_server', durationS: '0.1' },
    { kind: 'nope', durationS: 0.1 },
    { durationS: 0.1 },
  ];
  for (const b of bad) assert.doesNotThrow(() => m.record(b as never));
  assert.doesNotThrow(() => m.record(null as never));
  assert.doesNotThrow(() => m.record({ kind: 'http_server', durationS: 0.1, method: 42, route: {}, statusCode: 'x' } as never));
  const body = (await m.render()).body;
  assert.match(body, /^tailtrace_metric_invalid_records_total 7$/m);
  // The one with junk labels was recorded with placeholders.
  assert.match(body, /http_request_method="_OTHER",http_route="\(unmatched\)",http_response_status_code="0"/);
  m.close();
});

test('HDR windows have their own, lower cap (memory: ~140 KB each), default 256', () => {
  const m = createMetrics({ runtime: false });
  for (let i = 0; i < 400; i++) m.record({ kind: 'http_server', method: 'GET', route: `/r/${i}`, statusCode: 200, durationS: 0.01 });
  assert.equal(m.hdr.operations().length, 257);
  assert.equal(m.hdr.read('http_server', OVERFLOW_VALUE)!.count, 144);
  m.close();
  const small = createMetrics({ runtime: false, hdr: { maxOperations: 2 } });
  for (let i = 0; i < 5; i++) small.record({ kind: 'http_server', method: 'GET', route: `/r/${i}`, statusCode: 200, durationS: 0.01 });
  assert.equal(small.hdr.operations().length, 3);
  small.close();
});
