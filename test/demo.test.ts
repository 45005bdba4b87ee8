// `npm run demo` is the main job: run it briefly, exactly as the README says, and check what a
// person would read: metrics URLs, the per-hop table, the slowest trace IDs with their spans,
// and the JSON report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DemoReport } from '@tailtrace/examples/report';
import { startStack } from '@tailtrace/examples/stack';

const root = process.env.TAILTRACE_ROOT ?? join(import.meta.dirname, '..');

test('the demo runs, prints the hop table and slowest traces, and writes the JSON report', () => {
  const json = join(mkdtempSync(join(tmpdir(), 'tailtrace-demo-')), 'report.json');
  // Fixed metrics ports, as the bundled Prometheus targets expect: a random base below Linux's
  // ephemeral range (32768-60999), where the client sockets of every other test take their local
  // ports (a base of 38666 once met one). A port some other process holds all the same is not
  // the demo's fault: one more base is tried then.
  const runDemo = () => {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const r = spawnSync(process.execPath, [join(root, 'examples', 'demo.ts'), '--duration', '4', '--rate', '50', '--warmup', '1', '--json', json, '--metrics-port', String(base)], {
      encoding: 'utf8',
      timeout: 90_000,
    });
    return { base, r };
  };
  let { base, r } = runDemo();
  if (r.status !== 0 && /EADDRINUSE/.test(r.stderr)) ({ base, r } = runDemo());
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  ['gateway', 'orders', 'inventory'].forEach((svc, i) => assert.match(out, new RegExp(`${svc}\\s+metrics: http://127\\.0\\.0\\.1:${base + i}/metrics\\s+pprof: http://127\\.0\\.0\\.1:${base + i}/debug/pprof/\n`)));
  assert.match(out, /Protocol\s+Hop\s+Operation\s+Requests\s+Errors\s+Avg ms\s+P50 ms\s+P99 ms\s+P99\.9 ms\s+Server RSS MB/);
  assert.match(out, /HTTP\s+client -> gateway/);
  assert.match(out, /gRPC\s+client -> orders/);
  assert.match(out, /gRPC\s+gateway -> orders/);
  assert.match(out, /HTTP\s+orders -> inventory/);
  assert.match(out, new RegExp(`report: ${json.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

  const report = JSON.parse(readFileSync(json, 'utf8')) as DemoReport;
  const client = report.hops.find((h) => h.hop === 'client -> gateway')!;
  assert.equal(client.requests, 200);
  assert.equal(client.errors, 0);
  assert.ok(client.p99Ms >= client.p50Ms && client.p50Ms > 0);
  assert.ok(client.serverRssMb > 10);
  assert.equal(report.slowest.length, 5);
  for (const s of report.slowest) {
    assert.match(s.traceId, /^[0-9a-f]{32}$/);
    assert.ok(out.includes(s.traceId), 'trace id printed');
    // The embedded span ring (no backend) still shows the slow request's spans.
    assert.ok(s.spans.length >= 2, `spans kept for ${s.traceId}`);
    assert.ok(s.spans.every((sp) => sp.traceId === s.traceId));
  }
});

test('every demo service serves /metrics and /debug/pprof on its own metrics port, and neither on its app port', async () => {
  const stack = await startStack({ quiet: true, stderr: false });
  try {
    for (const svc of [stack.gateway, stack.orders, stack.inventory]) {
      const metrics = await fetch(svc.metricsUrl);
      assert.equal(metrics.status, 200, svc.name);
      assert.match(await metrics.text(), /# TYPE tailtrace_latency_seconds summary/);
      const heap = await fetch(new URL('heap', svc.pprofUrl));
      assert.equal(heap.status, 200, `${svc.name} ${svc.pprofUrl}heap`);
      assert.equal(heap.headers.get('content-type'), 'application/octet-stream');
      await heap.arrayBuffer();
    }
    for (const svc of [stack.gateway, stack.inventory]) {
      for (const path of ['/metrics', '/debug/pprof/heap']) {
        const r = await fetch(`http://127.0.0.1:${svc.port}${path}`);
        assert.equal(r.status, 404, `${svc.name} app port ${path}`);
        await r.arrayBuffer();
      }
    }
  } finally {
    await stack.stop();
  }
});
