import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createMetrics } from '@tailtrace/metrics';
import { parseExposition } from './exposition-parser.ts';

test('runtime metrics: prom-client defaults (names as CONTRACTS.md) plus ELU', async () => {
  const m = createMetrics();
  // Some busy time so ELU is above 0.
  const until = performance.now() + 20;
  while (performance.now() < until);
  await new Promise((r) => setTimeout(r, 20));
  const fams = parseExposition((await m.render('application/openmetrics-text')).body, true);
  for (const name of [
    'process_cpu_seconds', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds',
    'nodejs_eventloop_lag_p50_seconds', 'nodejs_heap_space_size_used_bytes', 'nodejs_active_handles_total',
    'nodejs_gc_duration_seconds', 'nodejs_version_info', 'nodejs_eventloop_utilization_ratio',
  ]) assert.ok(fams.has(name), name);
  assert.equal(fams.get('nodejs_gc_duration_seconds')!.type, 'histogram');
  assert.ok(fams.get('nodejs_heap_space_size_used_bytes')!.samples.every((s) => typeof s.labels.space === 'string'));
  const elu = fams.get('nodejs_eventloop_utilization_ratio')!;
  assert.equal(elu.type, 'gauge');
  assert.ok(elu.samples[0]!.value > 0 && elu.samples[0]!.value <= 1, `elu ${elu.samples[0]!.value}`);
  m.close();
  const off = createMetrics({ runtime: false });
  assert.ok(!(await off.render()).body.includes('nodejs_'));
  off.close();
});

test('a registry that already collects default metrics is accepted', async () => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = createMetrics({ registry });
  assert.match((await m.render()).body, /^process_cpu_seconds_total /m);
  m.close();
});

test('close() leaves no handles: a process that creates, scrapes and closes exits on its own', () => {
  const script = `
    import { createMetrics } from '@tailtrace/metrics';
    // Unref'd timers are invisible to getActiveResourcesInfo(), so track intervals directly.
    let intervals = 0;
    const si = globalThis.setInterval, ci = globalThis.clearInterval;
    globalThis.setInterval = (...a) => { intervals++; return si(...a); };
    globalThis.clearInterval = (t) => { if (t !== undefined) intervals--; return ci(t); };
    const before = process.getActiveResourcesInfo().length;
    const m = createMetrics({ defaultLabels: { service: 't' } });
    const gcCount = async () => (await m.render()).body.split('\\n').filter((l) => l.startsWith('nodejs_gc_duration_seconds_count')).reduce((n, l) => n + Number(l.split(' ')[1]), 0);
    m.record({ kind: 'http_server', method: 'GET', route: '/', statusCode: 200, durationS: 0.01 });
    await m.render('application/openmetrics-text');
    globalThis.gc(); await new Promise((r) => setTimeout(r, 50));
    const gcOpen = await gcCount();
    m.close();
    m.close();
    // The GC observer is disconnected: later collections are no longer counted.
    globalThis.gc(); await new Promise((r) => setTimeout(r, 50));
    const gcClosed = await gcCount();
    await new Promise((r) => setImmediate(r));
    console.log(JSON.stringify({ before, after: process.getActiveResourcesInfo(), intervals, gcOpen, gcClosed }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--conditions=tailtrace-source', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { before: number; after: string[]; intervals: number; gcOpen: number; gcClosed: number };
  assert.deepEqual(out.after.filter((x) => x !== 'TTYWrap'), [], `left open: ${out.after}`);
  assert.equal(out.intervals, 0, 'intervals left running');
  assert.ok(out.gcOpen >= 1, `gc observed while open (${out.gcOpen})`);
  assert.equal(out.gcClosed, out.gcOpen, 'gc still observed after close()');
});
