import assert from 'node:assert/strict';
import http from 'node:http';
import { afterEach, test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import express from 'express';
import { createTracing } from '../src/index.ts';
import type { OperationRecord, Tracing } from '../src/index.ts';
import { closeServer, listen, receiver, spansOf, waitFor } from './helpers.ts';

let tracing: Tracing | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await tracing?.shutdown(1000);
  tracing = undefined;
  for (const c of cleanups.splice(0)) await c();
});

async function appServer(t: Tracing): Promise<number> {
  const app = express();
  app.use(t.expressMiddleware());
  app.get('/work/:n', (_req, res) => {
    res.end('ok');
  });
  const server = http.createServer(app);
  const port = await listen(server);
  cleanups.push(() => closeServer(server));
  return port;
}

async function hammer(port: number, n: number): Promise<number> {
  // Bounded load: n sequential requests; returns the slowest latency in ms.
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/work/${i}`);
    assert.equal(res.status, 200);
    await res.text();
    worst = Math.max(worst, performance.now() - t0);
  }
  return worst;
}

const PROTOCOLS: Array<[string, Record<string, string>, string]> = [
  ['http/protobuf (the default)', {}, 'application/x-protobuf'],
  ['http/json', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, 'application/json'],
];
for (const [protocol, env, contentType] of PROTOCOLS) {
  test(`OTLP ${protocol} reaches a real receiver; our own export request is not traced`, async () => {
    const rcv = await receiver();
    cleanups.push(() => rcv.close());
    const records: OperationRecord[] = [];
    tracing = createTracing({ env, serviceName: 'otlp-svc', endpoint: rcv.url, scheduledDelayMillis: 20, onOperation: (x) => records.push(x), resourceAttributes: { 'deployment.environment.name': 'test' } });
    const port = await appServer(tracing);
    await hammer(port, 5);
    await tracing.forceFlush();
    await waitFor(() => spansOf(rcv).filter((s) => s.kind === 2).length >= 5);
    assert.equal(rcv.bodies[0]!.contentType, contentType);
    const res = rcv.bodies[0]!.json.resourceSpans[0]!.resource.attributes;
    assert.equal(res.find((a) => a.key === 'service.name')?.value.stringValue, 'otlp-svc');
    assert.equal(res.find((a) => a.key === 'deployment.environment.name')?.value.stringValue, 'test');
    const server = spansOf(rcv).filter((s) => s.name === 'GET /work/:n');
    assert.equal(server.length, 5);
    // Flush again: if the exporter's POST had been traced it would show up now.
    await new Promise((r) => setTimeout(r, 50));
    await tracing.forceFlush();
    assert.equal(spansOf(rcv).filter((s) => s.name === 'POST').length, 0);
    assert.equal(records.filter((x) => x.kind === 'http_client' && x.method === 'POST').length, 0);
    const st = tracing.stats();
    assert.ok(st.exported >= 10, JSON.stringify(st)); // 5 server + 5 fetch client spans
    assert.deepEqual(st.dropped, { queueFull: 0, exportFailed: 0 });
  });
}

test('endpoint answering 500: requests unaffected, failures counted, one warning', async () => {
  const rcv = await receiver();
  rcv.mode = 'fail500';
  cleanups.push(() => rcv.close());
  const warnings: string[] = [];
  tracing = createTracing({ env: {}, endpoint: rcv.url, scheduledDelayMillis: 10, httpClient: false, onFirstExportError: (e, where) => warnings.push(`${where}: ${e.message}`) });
  const port = await appServer(tracing);
  await hammer(port, 20);
  await tracing.forceFlush();
  await hammer(port, 5);
  await tracing.forceFlush();
  const st = tracing.stats();
  assert.equal(st.exported, 0);
  assert.equal(st.dropped.exportFailed, 25);
  assert.equal(warnings.length, 1);
  assert.ok(warnings[0]!.startsWith(rcv.url));
});

test('endpoint down: queue stays bounded, drops are counted, latency unaffected', async () => {
  const rcv = await receiver();
  await rcv.close(); // nothing listens there any more
  tracing = createTracing({ env: {}, endpoint: rcv.url, maxQueueSize: 50, maxExportBatchSize: 10, scheduledDelayMillis: 5, exportTimeoutMillis: 300, httpClient: false, onFirstExportError: () => {} });
  const port = await appServer(tracing);
  for (let i = 0; i < 300; i++) tracing.tracer.startSpan('filler').end();
  const worst = await hammer(port, 30);
  const st = tracing.stats();
  assert.ok(st.queued <= 50 + 10, JSON.stringify(st));
  assert.ok(st.dropped.queueFull > 0, JSON.stringify(st));
  assert.equal(st.exported, 0);
  assert.equal(st.exported + st.dropped.queueFull + st.dropped.exportFailed + st.queued, 330, 'every span accounted for');
  assert.ok(worst < 500, `a request took ${worst} ms`);
});

test('slow endpoint: export times out and is counted; shutdown is bounded', async () => {
  const rcv = await receiver();
  rcv.mode = 'hang';
  cleanups.push(() => rcv.close());
  tracing = createTracing({ env: {}, endpoint: rcv.url, scheduledDelayMillis: 5, exportTimeoutMillis: 150, httpClient: false, onFirstExportError: () => {} });
  const port = await appServer(tracing);
  const worst = await hammer(port, 10);
  assert.ok(worst < 500, `a request took ${worst} ms`);
  await waitFor(() => tracing!.stats().dropped.exportFailed > 0, 3000);
  const t0 = Date.now();
  await tracing.shutdown(400);
  assert.ok(Date.now() - t0 < 1500, 'shutdown bounded');
  tracing = undefined;
});

test('a throwing onOperation never reaches the request', async () => {
  tracing = createTracing({ env: {}, exporter: { export: (_s, cb) => cb({ code: 0 }), shutdown: async () => {} }, httpClient: false, onOperation: () => {
    throw new Error('consumer bug');
  } });
  const port = await appServer(tracing);
  const worst = await hammer(port, 3);
  assert.ok(worst < 1000);
});

test('spans from an always_off sampler are not exported but records are emitted', async () => {
  const rcv = await receiver();
  cleanups.push(() => rcv.close());
  const records: OperationRecord[] = [];
  tracing = createTracing({ env: { OTEL_TRACES_SAMPLER: 'always_off' }, endpoint: rcv.url, scheduledDelayMillis: 5, httpClient: false, onOperation: (x) => records.push(x) });
  const port = await appServer(tracing);
  await hammer(port, 3);
  await tracing.forceFlush();
  assert.equal(rcv.bodies.length, 0);
  assert.equal(records.length, 3);
  for (const r of records) {
    assert.equal(r.route, '/work/:n');
    assert.equal(r.traceId, undefined);
  }
  assert.equal(SpanKind.SERVER, 1);
});

test('exporter none (option or OTEL_TRACES_EXPORTER=none) exports nothing but feeds extra span processors', async () => {
  for (const opts of [{ exporter: 'none' as const, env: {} }, { env: { OTEL_TRACES_EXPORTER: 'none' } }]) {
    const rcv = await receiver();
    cleanups.push(() => rcv.close());
    const seen: string[] = [];
    tracing = createTracing({
      ...opts, endpoint: rcv.url, scheduledDelayMillis: 5, httpClient: false,
      spanProcessors: [{ onStart: () => {}, onEnd: (s) => seen.push(s.name), forceFlush: async () => {}, shutdown: async () => {} }],
    });
    assert.equal(tracing.exportTarget, 'nowhere (exporter none)');
    const port = await appServer(tracing);
    await hammer(port, 3);
    await tracing.forceFlush();
    assert.equal(rcv.bodies.length, 0);
    assert.deepEqual(seen, ['GET /work/:n', 'GET /work/:n', 'GET /work/:n']);
    assert.deepEqual(tracing.stats(), { exported: 0, dropped: { queueFull: 0, exportFailed: 0 }, queued: 0, inFlightBatches: 0, abandonedBatches: 0 });
    await tracing.shutdown(500);
    tracing = undefined;
  }
});

test('OTEL_BSP_MAX_QUEUE_SIZE bounds the queue when no option is given', async () => {
  const rcv = await receiver();
  await rcv.close();
  tracing = createTracing({ env: { OTEL_BSP_MAX_QUEUE_SIZE: '20', OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1000' }, endpoint: rcv.url, httpClient: false, onFirstExportError: () => {} });
  assert.equal(tracing.exportTarget, rcv.url);
  for (let i = 0; i < 50; i++) tracing.tracer.startSpan('filler').end();
  const st = tracing.stats();
  // At most one queue plus one batch in flight (a batch is capped at the queue size); with the
  // default 2048 nothing would have been dropped.
  assert.ok(st.queued <= 40, JSON.stringify(st));
  assert.ok(st.dropped.queueFull >= 10, JSON.stringify(st));
  assert.equal(st.queued + st.dropped.queueFull + st.dropped.exportFailed + st.exported, 50);
});

/** An OTLP endpoint that sends its headers, then a byte every `everyMs`, never finishing. */
async function trickler(everyMs: number) {
  const seen = { requests: 0, open: 0, closed: 0 };
  const server = http.createServer((req, res) => {
    seen.requests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1_000_000 });
      res.flushHeaders();
      const drip = setInterval(() => res.write(' '), everyMs);
      res.on('close', () => clearInterval(drip));
    });
  });
  server.on('connection', (s) => {
    seen.open++;
    s.on('close', () => seen.closed++);
  });
  const port = await listen(server);
  cleanups.push(() => closeServer(server));
  return { url: `http://127.0.0.1:${port}/v1/traces`, seen };
}

for (const exportThread of ['worker', 'main'] as const) {
  test(`a trickling endpoint (exportThread ${exportThread}): each request is destroyed at its deadline, its socket released, the batch counted`, async () => {
    // Bytes every 20 ms keep any idle timeout from firing; only a hard deadline ends the request.
    const t = await trickler(20);
    tracing = createTracing({ env: {}, endpoint: t.url, exportThread, scheduledDelayMillis: 5, exportTimeoutMillis: 150, httpClient: false, sampler: 'always_on', onFirstExportError: () => {} });
    const total = 40;
    for (let i = 0; i < total; i++) {
      tracing.tracer.startSpan(`s${i}`).end();
      await new Promise((r) => setTimeout(r, 25));
    }
    // Without deadlines the two sockets of the agent stay with their first two requests forever.
    await waitFor(() => t.seen.requests >= 5 && t.seen.closed >= 4, 5000);
    await waitFor(() => tracing!.stats().queued === 0 && tracing!.stats().inFlightBatches === 0, 3000);
    const st = tracing.stats();
    assert.equal(st.exported, 0);
    assert.equal(st.dropped.exportFailed + st.dropped.queueFull, total, JSON.stringify(st));
    assert.ok(st.dropped.exportFailed > 0, JSON.stringify(st));
    assert.ok(t.seen.open - t.seen.closed <= 2, `connections still open: ${t.seen.open - t.seen.closed}`);
  });
}

test('an exporter that never answers holds at most maxInFlightBatches; the rest is dropped and counted, nothing piles up', async () => {
  let calls = 0;
  const never = { export: () => { calls++; }, shutdown: async () => {} };
  tracing = createTracing({ env: {}, exporter: never, maxQueueSize: 20, maxExportBatchSize: 5, scheduledDelayMillis: 5, exportTimeoutMillis: 30, httpClient: false, sampler: 'always_on' });
  const total = 200;
  for (let i = 0; i < total; i++) {
    tracing.tracer.startSpan(`s${i}`).end();
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 100));
  const st = tracing.stats();
  assert.equal(calls, 2, 'two batches handed over, then no more until one is answered');
  assert.equal(st.inFlightBatches, 2, JSON.stringify(st));
  assert.equal(st.abandonedBatches, 2, JSON.stringify(st));
  assert.equal(st.exported + st.dropped.queueFull + st.dropped.exportFailed + st.queued, total, 'every span accounted for');
  assert.ok(st.queued <= 20, JSON.stringify(st));
});

test('a late answer after the deadline frees its slot: export resumes', async () => {
  const pending: Array<(r: { code: number }) => void> = [];
  const slow = { export: (_s: unknown, cb: (r: { code: number }) => void) => { pending.push(cb); }, shutdown: async () => {} };
  tracing = createTracing({ env: {}, exporter: slow, maxExportBatchSize: 1, scheduledDelayMillis: 5, exportTimeoutMillis: 20, maxInFlightBatches: 1, httpClient: false, sampler: 'always_on' });
  tracing.tracer.startSpan('a').end();
  tracing.tracer.startSpan('b').end();
  await waitFor(() => tracing!.stats().abandonedBatches === 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pending.length, 1, 'the second batch waits while the first is held');
  pending[0]!({ code: 0 });
  await waitFor(() => pending.length === 2);
  pending[1]!({ code: 0 });
  await waitFor(() => tracing!.stats().exported === 1);
  const st = tracing.stats();
  assert.deepEqual({ exported: st.exported, failed: st.dropped.exportFailed, inFlight: st.inFlightBatches }, { exported: 1, failed: 1, inFlight: 0 });
});
