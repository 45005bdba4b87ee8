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

test('the HDR cap is shared across operation kinds', () => {
  const m = createMetrics({ runtime: false, maxSeriesPerMetric: 3 });
  m.record({ kind: 'http_server', method: 'GET', route: '/a', statusCode: 200, durationS: 0.01 });
  m.record({ kind: 'rpc_server', rpcService: 's', rpcMethod: 'A', grpcStatusCode: 0, durationS: 0.01 });
  m.record({ kind: 'rpc_client', rpcService: 's', rpcMethod: 'A', grpcStatusCode: 0, durationS: 0.01 });
  m.record({ kind: 'http_client', method: 'GET', serverAddress: 'h', statusCode: 200, durationS: 0.01 });
  assert.deepEqual(m.hdr.operations().map((o) => `${o.kind} ${o.operation}`), [
    'http_server GET /a', 'rpc_server s/A', 'rpc_client s/A', 'http_client _overflow',
  ]);
  m.close();
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
