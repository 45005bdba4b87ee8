import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import {
  createMetrics, DEFAULT_BUCKETS, negotiate, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE,
} from '@tailtrace/metrics';
import { parseExposition } from './exposition-parser.ts';

const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

test('negotiate picks OpenMetrics only when asked for it', () => {
  assert.equal(negotiate(PROMETHEUS_ACCEPT), 'openmetrics');
  assert.equal(negotiate('application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,text/plain;q=0.2'), 'openmetrics');
  assert.equal(negotiate('application/openmetrics-text'), 'openmetrics');
  assert.equal(negotiate(undefined), 'text');
  assert.equal(negotiate('*/*'), 'text');
  assert.equal(negotiate('text/plain;version=0.0.4'), 'text');
  assert.equal(negotiate('text/plain;q=0.9,application/openmetrics-text;q=0.5'), 'text');
  assert.equal(negotiate('application/openmetrics-text;version=2.0.0'), 'text');
  assert.equal(negotiate('application/openmetrics-text;q=0'), 'text');
});

test('RED histograms: names, labels and bucket bounds as in CONTRACTS.md', async () => {
  const m = createMetrics({ runtime: false });
  m.record({ kind: 'http_server', method: 'GET', route: '/users/:id', statusCode: 200, durationS: 0.012 });
  m.record({ kind: 'http_client', method: 'POST', serverAddress: 'stub.local', statusCode: 503, durationS: 0.2 });
  m.record({ kind: 'rpc_server', rpcService: 'orders.OrderService', rpcMethod: 'Get', grpcStatusCode: 0, durationS: 0.004 });
  m.record({ kind: 'rpc_client', rpcService: 'orders.OrderService', rpcMethod: 'Get', grpcStatusCode: 14, durationS: 0.0045 });
  const fams = parseExposition((await m.render()).body, false);
  const expect: [string, Record<string, string>][] = [
    ['http_server_request_duration_seconds', { http_request_method: 'GET', http_route: '/users/:id', http_response_status_code: '200' }],
    ['http_client_request_duration_seconds', { http_request_method: 'POST', server_address: 'stub.local', http_response_status_code: '503' }],
    ['rpc_server_duration_seconds', { rpc_service: 'orders.OrderService', rpc_method: 'Get', rpc_grpc_status_code: '0' }],
    ['rpc_client_duration_seconds', { rpc_service: 'orders.OrderService', rpc_method: 'Get', rpc_grpc_status_code: '14' }],
  ];
  for (const [name, labels] of expect) {
    const f = fams.get(name);
    assert.ok(f, name);
    assert.equal(f.type, 'histogram');
    const buckets = f.samples.filter((s) => s.name === `${name}_bucket`);
    assert.deepEqual(buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le))), [...DEFAULT_BUCKETS, Infinity]);
    for (const b of buckets) {
      const { le: _le, ...rest } = b.labels;
      assert.deepEqual(rest, labels);
    }
    assert.equal(f.samples.find((s) => s.name === `${name}_count`)?.value, 1);
  }
  const server = fams.get('http_server_request_duration_seconds')!;
  const le = (b: string) => server.samples.find((s) => s.name.endsWith('_bucket') && s.labels.le === b)!.value;
  assert.equal(le('0.01'), 0);
  assert.equal(le('0.015'), 1);
  assert.equal(server.samples.find((s) => s.name.endsWith('_sum'))!.value, 0.012);
  m.close();
});

test('custom buckets, missing fields get documented placeholders', async () => {
  const m = createMetrics({ runtime: false, buckets: [0.5, 0.1, 0.1, -1, 1] });
  m.record({ kind: 'http_server', durationS: 0.05 });
  m.record({ kind: 'rpc_server', durationS: 0.05 });
  const fams = parseExposition((await m.render()).body, false);
  const b = fams.get('http_server_request_duration_seconds')!.samples.filter((s) => s.name.endsWith('_bucket'));
  assert.deepEqual(b.map((s) => s.labels.le), ['0.1', '0.5', '1.0', '+Inf']);
  assert.deepEqual({ ...b[0]!.labels, le: undefined }, { http_request_method: '_OTHER', http_route: '(unmatched)', http_response_status_code: '0', le: undefined });
  const r = fams.get('rpc_server_duration_seconds')!.samples[0]!;
  assert.equal(r.labels.rpc_grpc_status_code, '2');
  m.close();
});

test('OpenMetrics answer is valid and carries exemplars; classic text has none', async () => {
  const now = 1_700_000_000_123;
  const m = createMetrics({ runtime: true, now: () => now, defaultLabels: { service: 'gw' } });
  m.record({ kind: 'http_server', method: 'GET', route: '/users/:id', statusCode: 200, durationS: 0.0123, traceId: TRACE, spanId: SPAN });
  m.record({ kind: 'http_server', method: 'GET', route: '/users/:id', statusCode: 200, durationS: 0.3 }); // no exemplar
  m.record({ kind: 'rpc_client', rpcService: 'orders.OrderService', rpcMethod: 'Get', grpcStatusCode: 0, durationS: 0.002, traceId: TRACE });

  const om = await m.render(PROMETHEUS_ACCEPT);
  assert.equal(om.contentType, OPENMETRICS_CONTENT_TYPE);
  const fams = parseExposition(om.body, true);
  const server = fams.get('http_server_request_duration_seconds')!;
  assert.equal(server.unit, 'seconds');
  const withEx = server.samples.filter((s) => s.exemplar);
  assert.equal(withEx.length, 1);
  assert.equal(withEx[0]!.labels.le, '0.015');
  assert.deepEqual(withEx[0]!.exemplar, { labels: { trace_id: TRACE, span_id: SPAN }, value: 0.0123, timestamp: 1_700_000_000.123 });
  assert.equal(withEx[0]!.labels.service, 'gw');
  const rpc = fams.get('rpc_client_duration_seconds')!.samples.filter((s) => s.exemplar);
  assert.deepEqual(rpc.map((s) => s.exemplar!.labels), [{ trace_id: TRACE }]);
  // Counters: family without _total, samples with it.
  assert.equal(fams.get('tailtrace_spans_exported')?.type, 'counter');
  assert.equal(fams.get('process_cpu_seconds')?.type, 'counter');
  assert.ok(fams.get('process_cpu_seconds')!.samples.every((s) => s.name === 'process_cpu_seconds_total'));
  assert.ok(om.body.match(/ # \{trace_id="[0-9a-f]{32}"(,span_id="[0-9a-f]{16}")?\} [0-9.e-]+ \d+\.\d{3}\n/g)?.length === 2);

  const text = await m.render('text/plain;version=0.0.4');
  assert.equal(text.contentType, PROMETHEUS_CONTENT_TYPE);
  assert.ok(!text.body.includes(' # {'));
  const tf = parseExposition(text.body, false);
  assert.equal(tf.get('tailtrace_spans_exported_total')?.type, 'counter');
  assert.equal(tf.get('http_server_request_duration_seconds')!.samples.find((s) => s.name.endsWith('_count'))!.value, 2);
  m.close();
});

test('exemplars: false stores none; over-long ids are dropped', async () => {
  const m = createMetrics({ runtime: false, exemplars: false });
  m.record({ kind: 'http_server', method: 'GET', route: '/a', statusCode: 200, durationS: 0.01, traceId: TRACE, spanId: SPAN });
  assert.ok(!(await m.render('application/openmetrics-text')).body.includes(' # {'));
  m.close();
  const m2 = createMetrics({ runtime: false });
  m2.record({ kind: 'http_server', method: 'GET', route: '/a', statusCode: 200, durationS: 0.01, traceId: 'x'.repeat(200) });
  assert.ok(!(await m2.render('application/openmetrics-text')).body.includes(' # {'));
  m2.close();
});

test('foreign prom-client metrics on the same registry render in both formats; registry.metrics() still works', async () => {
  const registry = new Registry();
  const c = new Counter({ name: 'app_jobs_total', help: 'Jobs "done"\nhere', registers: [registry], labelNames: ['q'] });
  c.inc({ q: 'a\\b' }, 3);
  const m = createMetrics({ registry, runtime: false });
  m.record({ kind: 'http_server', method: 'GET', route: '/', statusCode: 200, durationS: 0.001, traceId: TRACE });
  const om = parseExposition((await m.render('application/openmetrics-text')).body, true);
  assert.deepEqual(om.get('app_jobs')!.samples.map((s) => [s.name, s.labels.q, s.value]), [['app_jobs_total', 'a\\b', 3]]);
  const text = parseExposition((await m.render()).body, false);
  assert.equal(text.get('app_jobs_total')!.samples[0]!.value, 3);
  const legacy = await registry.metrics();
  assert.match(legacy, /http_server_request_duration_seconds_count\{http_request_method="GET",http_route="\/",http_response_status_code="200"\} 1/);
  const json = await registry.getMetricsAsJSON();
  assert.ok(json.some((j) => j.name === 'tailtrace_latency_seconds'));
  m.close();
});

test('label values are escaped', async () => {
  const m = createMetrics({ runtime: false });
  m.record({ kind: 'http_server', method: 'GET', route: '/q/"x"\\y\nz', statusCode: 200, durationS: 0.001 });
  const f = parseExposition((await m.render('application/openmetrics-text')).body, true);
  assert.equal(f.get('http_server_request_duration_seconds')!.samples[0]!.labels.http_route, '/q/"x"\\y\nz');
  m.close();
});
