// The debug handler and the evidence endpoint as a gate in front of them uses them: they serve
// the path the gate decided on, ask before work that costs the whole process, and say nothing
// about the host or the process.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodePprof } from '@tailtrace/formats';
import { createDebugHandler, createProfiler, startHeapSampling } from '@tailtrace/profiler';
import type { DebugAdmission, DebugWork, HeapSampler, RequestTarget } from '@tailtrace/profiler';

async function serve(t: { after(fn: () => Promise<void>): void }, handle: (req: IncomingMessage, res: ServerResponse) => boolean): Promise<string> {
  const server: Server = createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(418).end('not ours');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const target = (path: string, query = ''): RequestTarget => ({ pathname: path, searchParams: new URLSearchParams(query) });

describe('createDebugHandler', () => {
  // One V8 sampling heap profiler per process: the inspector backend here, as a user without
  // the optional @datadog/pprof gets it.
  let sampler: HeapSampler;
  after(async () => {
    await sampler?.stop();
  });

  test('serves the target it is given, not its own reading of req.url; without one it parses req.url', async (t) => {
    sampler ??= startHeapSampling({ backend: 'inspector' });
    const handle = createDebugHandler({ sampler });
    // A gate decided `/x` means `/DEBUG/pprof`, the index (compared without case): the handler agrees.
    const base = await serve(t, (req, res) => handle(req, res, req.url === '/x' ? target('/DEBUG/pprof') : undefined));
    const viaTarget = await fetch(`${base}/x`);
    assert.equal(viaTarget.status, 200);
    assert.match(await viaTarget.text(), /tailtrace \/debug\/pprof/);
    assert.equal((await fetch(`${base}/debug/pprof/`)).status, 200);
    assert.equal(await (await fetch(`${base}/debug/pprofx`)).text(), 'not ours');
  });

  test('asks before a heap read that collects garbage (every inspector read; ?gc=1 always) and before a CPU profile; a refusal is 429', async (t) => {
    sampler ??= startHeapSampling({ backend: 'inspector' });
    const asked: DebugWork[] = [];
    const released: DebugWork[] = [];
    let refuse = false;
    const admit = (work: DebugWork): DebugAdmission => {
      asked.push(work);
      if (refuse) return { admitted: false, retryAfterS: 7, reason: 'not now' };
      return { admitted: true, release: () => released.push(work) };
    };
    const handle = createDebugHandler({ sampler, admit, maxCpuSeconds: 2 });
    const base = await serve(t, (req, res) => handle(req, res));
    const heap = await fetch(`${base}/debug/pprof/heap`);
    assert.equal(heap.status, 200);
    assert.ok(decodePprof(new Uint8Array(await heap.arrayBuffer())).sampleTypes.length > 0);
    assert.equal((await fetch(`${base}/debug/pprof/profile?seconds=1`)).status, 200);
    assert.deepEqual(asked, ['heap_gc', 'cpu_profile']);
    assert.deepEqual(released, ['heap_gc', 'cpu_profile'], 'released when the work ended');
    // A bad request is answered before anything is asked.
    assert.equal((await fetch(`${base}/debug/pprof/profile?seconds=0`)).status, 400);
    assert.equal(asked.length, 2);
    refuse = true;
    for (const path of ['/debug/pprof/heap?gc=1', '/debug/pprof/profile?seconds=1']) {
      const r = await fetch(base + path);
      assert.equal(r.status, 429, path);
      assert.equal(r.headers.get('retry-after'), '7');
      assert.match(await r.text(), /not now/);
    }
    assert.deepEqual(released, ['heap_gc', 'cpu_profile'], 'a refusal has nothing to release');
  });
});

describe('the evidence endpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tailtrace-debug-endpoints-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('answers what was captured, without host, pid or versions (the bundle on disk keeps them)', async (t) => {
    const profiler = createProfiler({ serviceName: 'ep', heapSampling: false, evidence: { dir, token: 'tok', snapshots: 'never', baselineEveryMs: false } });
    t.after(() => profiler.stop());
    const handle = profiler.handler();
    // As a gate passes it: the path it decided on, whatever the request line said.
    const base = await serve(t, (req, res) => handle(req, res, req.url === '/x' ? target('/DEBUG/tailtrace/evidence') : undefined));
    const r = await fetch(`${base}/debug/tailtrace/evidence`, { method: 'POST', headers: { authorization: 'Bearer tok' } });
    assert.equal(r.status, 200);
    const text = await r.text();
    const body = JSON.parse(text) as Record<string, unknown>;
    assert.equal(body.service, 'ep');
    assert.equal((body.trigger as { kind: string }).kind, 'endpoint');
    for (const key of ['host', 'pid', 'versions']) assert.ok(!(key in body), key);
    assert.ok(!text.includes(`"pid":${process.pid}`) && !text.includes(process.version));
    assert.equal((await fetch(`${base}/debug/tailtrace/evidence`, { method: 'POST' })).status, 401);
    assert.equal((await fetch(`${base}/x`, { method: 'POST', headers: { authorization: 'Bearer tok' } })).status, 200);
  });
});
