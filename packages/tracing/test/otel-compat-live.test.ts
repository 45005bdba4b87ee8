// OpenTelemetry compatibility, part 2, on a live service: user code on the global OpenTelemetry
// API inside a traced express request gets spans in the same trace, parented to ours, exported by
// the same OTLP export (its own instrumentation scope), with context propagating into an outgoing
// fetch; a span processor, an exporter (OpenTelemetry's own OTLP/HTTP exporter) and a sampler
// that a user supplies plug in and see the same spans.
import assert from 'node:assert/strict';
import http from 'node:http';
import { afterEach, test } from 'node:test';
import { context, SamplingDecision, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import { suppressTracing, TraceState } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ReadableSpan, Sampler, SpanProcessor } from '@opentelemetry/sdk-trace';
import express from 'express';
import { createTracing, currentTraceIds } from '../src/index.ts';
import type { Tracing, TracingOptions } from '../src/index.ts';
import { closeServer, listen, receiver, waitFor } from './helpers.ts';
import type { Receiver } from './helpers.ts';
import { attrsOf, spansOfRequest } from './otlp-decode.ts';

let tracing: Tracing | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await tracing?.shutdown(1000);
  tracing = undefined;
  for (const c of cleanups.splice(0)) await c();
});

/** A downstream HTTP server that records the traceparent it was called with. */
async function downstream(): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(String(req.headers.traceparent ?? ''));
    res.end('{"stock":7}');
  });
  const port = await listen(server);
  cleanups.push(() => closeServer(server));
  return { url: `http://127.0.0.1:${port}/stock`, seen };
}

/** express + tracing; GET /orders/:id runs user code on the global API: a span, a nested context, a fetch. */
async function service(opts: TracingOptions, down: string): Promise<{ port: number; logIds: Record<string, string>[] }> {
  const logIds: Record<string, string>[] = [];
  tracing = createTracing({ serviceName: 'compat-live', sampler: 'always_on', scheduledDelayMillis: 10, env: {}, ...opts });
  const app = express();
  app.use(tracing.expressMiddleware());
  app.get('/orders/:id', (_req, res) => {
    const tracer = trace.getTracer('user-lib', '1.2.3');
    void tracer.startActiveSpan('load order', { kind: SpanKind.INTERNAL, attributes: { 'order.id': 42 } }, async (span: Span) => {
      try {
        logIds.push(currentTraceIds() as Record<string, string>);
        span.addEvent('cache miss');
        const r = await fetch(down);
        await r.text();
        span.setStatus({ code: SpanStatusCode.OK });
        res.json({ ok: true });
      } finally {
        span.end();
      }
    });
  });
  const server = http.createServer(app);
  const port = await listen(server);
  cleanups.push(() => closeServer(server));
  return { port, logIds };
}

/** The test's own request, not traced (it would be one more client span, the server span's parent). */
async function get(port: number): Promise<void> {
  const res = await context.with(suppressTracing(context.active()), () => fetch(`http://127.0.0.1:${port}/orders/42`));
  assert.equal(res.status, 200);
  await res.text();
}

test('user spans on the global API join our trace and our OTLP export; context reaches an outgoing fetch', async () => {
  const rcv: Receiver = await receiver();
  cleanups.push(() => rcv.close());
  const down = await downstream();
  const { port, logIds } = await service({ endpoint: rcv.url }, down.url);
  await get(port);
  await tracing!.forceFlush();
  await waitFor(() => rcv.bodies.flatMap((b) => spansOfRequest(b.json)).length >= 3, 5000);
  assert.equal(rcv.bodies[0]!.contentType, 'application/x-protobuf');
  const spans = rcv.bodies.flatMap((b) => spansOfRequest(b.json));
  const byName = (n: string) => spans.find((s) => s.name === n)!;
  const server = byName('GET /orders/:id');
  const user = byName('load order');
  const client = byName('GET');
  assert.ok(server && user && client, spans.map((s) => s.name).join(', '));
  assert.equal(spans.length, 3);
  assert.equal(new Set(spans.map((s) => s.traceId)).size, 1);
  assert.equal(user.parentSpanId, server.spanId);
  assert.equal(client.parentSpanId, user.spanId);
  assert.deepEqual([server.scope, user.scope, user.scopeVersion, client.scope], ['@tailtrace/tracing', 'user-lib', '1.2.3', '@tailtrace/tracing']);
  assert.equal(user.resource['service.name'], 'compat-live');
  assert.deepEqual(attrsOf(user.attributes), { 'order.id': 42 });
  assert.deepEqual(user.events.map((e) => e.name), ['cache miss']);
  assert.equal(user.status.code, SpanStatusCode.OK);
  // The downstream saw the fetch's span as its parent; the log line inside the user span carries it.
  assert.equal(down.seen[0]!.split('-')[2], client.spanId);
  assert.deepEqual(logIds[0], { trace_id: user.traceId, span_id: user.spanId, trace_flags: '01' });
  assert.equal(tracing!.stats().exported, 3);
});

test('a user span processor sees every span start (with its parent context) and end, as SDK spans', async () => {
  const started: Array<{ name: string; recording: boolean; parentSpanId: string | undefined }> = [];
  const ending: Array<{ name: string; recording: boolean }> = [];
  const ended: ReadableSpan[] = [];
  const processor: SpanProcessor = {
    onStart(span, parent: Context) {
      started.push({ name: span.name, recording: span.isRecording(), parentSpanId: trace.getSpanContext(parent)?.spanId });
    },
    onEnding(span) {
      ending.push({ name: span.name, recording: span.isRecording() });
    },
    onEnd(span) {
      ended.push(span);
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const down = await downstream();
  const { port } = await service({ exporter: 'none', spanProcessors: [processor] }, down.url);
  await get(port);
  await waitFor(() => ended.length === 3);
  // Started as 'GET' (the route is known at the end), then renamed.
  assert.deepEqual(started.map((s) => s.name), ['GET', 'load order', 'GET']);
  assert.ok(started.every((s) => s.recording));
  assert.deepEqual(ending.map((e) => [e.name, e.recording]), [['GET', true], ['load order', true], ['GET /orders/:id', true]]);
  const server = ended.find((s) => s.name === 'GET /orders/:id')!;
  const user = ended.find((s) => s.name === 'load order')!;
  assert.equal(started[1]!.parentSpanId, server.spanContext().spanId);
  assert.equal(user.parentSpanContext?.spanId, server.spanContext().spanId);
  for (const s of ended) {
    assert.equal(s.ended, true);
    assert.equal(s.resource.attributes['service.name'], 'compat-live');
    assert.ok(s.duration[0] >= 0 && s.duration[1] >= 0);
    assert.ok(s.endTime[0] * 1e9 + s.endTime[1] >= s.startTime[0] * 1e9 + s.startTime[1]);
  }
  assert.equal(server.kind, SpanKind.SERVER);
  assert.equal(server.attributes['http.route'], '/orders/:id');
  assert.equal(user.instrumentationScope.name, 'user-lib');
  assert.deepEqual(user.events.map((e) => e.name), ['cache miss']);
});

test("OpenTelemetry's own OTLP/HTTP exporter, supplied as the exporter, exports our spans", async () => {
  const rcv = await receiver();
  cleanups.push(() => rcv.close());
  const down = await downstream();
  const { port } = await service({ exporter: new OTLPTraceExporter({ url: rcv.url }), httpClient: false }, down.url);
  await get(port);
  await tracing!.forceFlush();
  await waitFor(() => rcv.bodies.flatMap((b) => spansOfRequest(b.json)).length >= 2, 5000);
  const spans = rcv.bodies.flatMap((b) => spansOfRequest(b.json));
  const server = spans.find((s) => s.name === 'GET /orders/:id')!;
  const user = spans.find((s) => s.name === 'load order')!;
  assert.ok(server && user, spans.map((s) => s.name).join(', '));
  assert.equal(user.parentSpanId, server.spanId);
  assert.equal(attrsOf(server.attributes)['http.route'], '/orders/:id');
  assert.equal(tracing!.stats().exported, 2);
});

test('a user sampler decides, adds its attributes and trace state, and RECORD spans are processed but not exported', async () => {
  const rcv = await receiver();
  cleanups.push(() => rcv.close());
  const seen: string[] = [];
  const sampler: Sampler = {
    shouldSample(_ctx, _traceId, name) {
      if (name.startsWith('debug')) return { decision: SamplingDecision.RECORD };
      if (name.startsWith('skip')) return { decision: SamplingDecision.NOT_RECORD };
      return { decision: SamplingDecision.RECORD_AND_SAMPLED, attributes: { 'sampler.rule': 'default' }, traceState: new TraceState('rule=default') };
    },
    toString: () => 'TestSampler',
  };
  tracing = createTracing({
    env: {}, endpoint: rcv.url, sampler, httpClient: false, scheduledDelayMillis: 10,
    spanProcessors: [{ onStart() {}, onEnd: (s) => seen.push(s.name), forceFlush: async () => {}, shutdown: async () => {} }],
  });
  const tracer = trace.getTracer('user-lib');
  tracer.startSpan('kept').end();
  tracer.startSpan('debug-only').end();
  const skipped = tracer.startSpan('skip-me');
  assert.equal(skipped.isRecording(), false);
  skipped.end();
  context.with(trace.setSpan(context.active(), tracer.startSpan('parent')), () => tracer.startSpan('child').end());
  await tracing.forceFlush();
  await waitFor(() => rcv.bodies.flatMap((b) => spansOfRequest(b.json)).length >= 2, 5000);
  assert.deepEqual(seen, ['kept', 'debug-only', 'child']);
  const exported = rcv.bodies.flatMap((b) => spansOfRequest(b.json));
  assert.deepEqual(exported.map((s) => s.name).sort(), ['child', 'kept']);
  const kept = exported.find((s) => s.name === 'kept')!;
  assert.deepEqual(attrsOf(kept.attributes), { 'sampler.rule': 'default' });
  assert.equal(kept.traceState, 'rule=default');
});
