import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics, EVIDENCE_TRIGGERS, SNAPSHOT_RESULTS } from '@tailtrace/metrics';
import { parseExposition } from './exposition-parser.ts';

const values = (body: string, family: string, om = true) =>
  Object.fromEntries(parseExposition(body, om).get(family)!.samples.map((s) => [Object.values(s.labels).join(',') || '', s.value]));

test('span stats are pulled at scrape time; series exist at 0 before a source is set', async () => {
  const m = createMetrics({ runtime: false });
  let body = (await m.render('application/openmetrics-text')).body;
  assert.deepEqual(values(body, 'tailtrace_spans_exported'), { '': 0 });
  assert.deepEqual(values(body, 'tailtrace_spans_dropped'), { queue_full: 0, export_failed: 0 });
  let exported = 10;
  m.setSpanStatsSource(() => ({ exported, dropped: { queueFull: 3, exportFailed: 1 } }));
  body = (await m.render('application/openmetrics-text')).body;
  assert.deepEqual(values(body, 'tailtrace_spans_exported'), { '': 10 });
  assert.deepEqual(values(body, 'tailtrace_spans_dropped'), { queue_full: 3, export_failed: 1 });
  exported = 25;
  body = (await m.render()).body;
  assert.deepEqual(values(body, 'tailtrace_spans_exported_total', false), { '': 25 });
  // A throwing source keeps the last values and does not fail the scrape.
  m.setSpanStatsSource(() => {
    throw new Error('boom');
  });
  body = (await m.render()).body;
  assert.deepEqual(values(body, 'tailtrace_spans_exported_total', false), { '': 25 });
  m.close();
});

test('evidence counters are pre-initialized and count; unknown values are ignored', async () => {
  const m = createMetrics({ runtime: false });
  let body = (await m.render('application/openmetrics-text')).body;
  assert.deepEqual(values(body, 'tailtrace_evidence_triggers'), Object.fromEntries(EVIDENCE_TRIGGERS.map((t) => [t, 0])));
  assert.deepEqual(values(body, 'tailtrace_heap_snapshots'), Object.fromEntries(SNAPSHOT_RESULTS.map((t) => [t, 0])));
  m.evidence.trigger('p99_regression');
  m.evidence.trigger('p99_regression');
  m.evidence.trigger('signal');
  m.evidence.trigger('bogus' as never);
  m.evidence.snapshot('written');
  m.evidence.snapshot('refused');
  m.evidence.snapshot('??' as never);
  body = (await m.render('application/openmetrics-text')).body;
  assert.deepEqual(values(body, 'tailtrace_evidence_triggers'), { p99_regression: 2, heap_growth: 0, heap_limit: 0, signal: 1, endpoint: 0 });
  assert.deepEqual(values(body, 'tailtrace_heap_snapshots'), { written: 1, refused: 1, failed: 0 });
  // blips: only the triggers a later window can judge
  assert.deepEqual(values(body, 'tailtrace_evidence_blips'), { p99_regression: 0, heap_growth: 0 });
  m.evidence.blip('heap_growth');
  m.evidence.blip('signal');
  body = (await m.render('application/openmetrics-text')).body;
  assert.deepEqual(values(body, 'tailtrace_evidence_blips'), { p99_regression: 0, heap_growth: 1 });
  m.close();
});

test('convenience wrappers record like record()', async () => {
  const m = createMetrics({ runtime: false });
  m.httpServer('GET', '/x', 200, 0.01, 'a'.repeat(32), 'b'.repeat(16));
  m.httpClient('GET', 'h', 200, 0.01);
  m.rpcServer('s.S', 'M', 0, 0.01);
  m.rpcClient('s.S', 'M', 5, 0.01);
  assert.deepEqual(m.hdr.operations().map((o) => o.operation), ['GET /x', 'GET h', 's.S/M', 's.S/M']);
  const body = (await m.render('application/openmetrics-text')).body;
  assert.match(body, /rpc_client_duration_seconds_count\{rpc_service="s.S",rpc_method="M",rpc_grpc_status_code="5"\} 1/);
  assert.match(body, /trace_id="a{32}",span_id="b{16}"/);
  m.close();
});
