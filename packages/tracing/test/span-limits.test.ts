// Span limits as OpenTelemetry defines them, with a bounded default for attribute values.
import assert from 'node:assert/strict';
import http from 'node:http';
import { afterEach, test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import express from 'express';
import { createTracing } from '../src/index.ts';
import type { Tracing } from '../src/index.ts';
import { closeServer, listen, receiver, waitFor } from './helpers.ts';
import type { Receiver } from './helpers.ts';

let tracing: Tracing | undefined;
let rcv: Receiver | undefined;
afterEach(async () => {
  await tracing?.shutdown(500);
  tracing = undefined;
  await rcv?.close();
  rcv = undefined;
});

interface WireSpan { name: string; attributes: Array<{ key: string; value: { stringValue?: string } }> }

test('a 14 KB user-agent on a real express request arrives at the OTLP receiver cut to 4096 characters', async () => {
  rcv = await receiver();
  tracing = createTracing({ env: {}, endpoint: rcv.url, scheduledDelayMillis: 5, httpClient: false, sampler: 'always_on' });
  const app = express();
  app.use(tracing.expressMiddleware());
  app.get('/ua', (_req, res) => {
    res.end('ok');
  });
  const server = http.createServer(app);
  const port = await listen(server);
  try {
    const ua = `Mozilla/5.0 ${'x'.repeat(14 * 1024)}`;
    const res = await fetch(`http://127.0.0.1:${port}/ua`, { headers: { 'user-agent': ua } });
    assert.equal(res.status, 200);
    await res.text();
  } finally {
    await closeServer(server);
  }
  const r = rcv;
  await waitFor(() => r.bodies.length > 0, 5000);
  const span = r.bodies[0]!.json.resourceSpans[0]!.scopeSpans[0]!.spans[0] as unknown as WireSpan;
  const got = span.attributes.find((a) => a.key === 'user_agent.original')?.value.stringValue ?? '';
  assert.equal(got.length, 4096);
  assert.ok(got.startsWith('Mozilla/5.0 xxx'));
});

function limitsWith(env: Record<string, string>, spanLimits?: Record<string, number>) {
  const exporter = new InMemorySpanExporter();
  tracing = createTracing({ env, exporter, httpClient: false, sampler: 'always_on', scheduledDelayMillis: 5, ...(spanLimits ? { spanLimits } : {}) });
  const link = { context: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 }, attributes: { a: 1, b: 2 } };
  const span = tracing.tracer.startSpan('limited', { links: [link, link, link] });
  for (let i = 0; i < 10; i++) span.setAttribute(`k${i}`, 'v'.repeat(200));
  for (let i = 0; i < 5; i++) span.addEvent(`e${i}`, { a: 1, b: 2, c: 3 });
  span.end();
  return async () => {
    await tracing!.forceFlush();
    return exporter.getFinishedSpans()[0]!;
  };
}

test('the OTEL_SPAN_* / OTEL_EVENT_* / OTEL_LINK_* variables set each limit', async () => {
  const s = await limitsWith({
    OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '10', OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '3', OTEL_SPAN_EVENT_COUNT_LIMIT: '2',
    OTEL_SPAN_LINK_COUNT_LIMIT: '1', OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '1', OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: '1',
  })();
  assert.equal(Object.keys(s.attributes).length, 3);
  assert.equal(String(s.attributes.k0).length, 10);
  assert.equal(s.events.length, 2);
  assert.equal(Object.keys(s.events[0]!.attributes ?? {}).length, 1);
  assert.equal(s.links.length, 1);
  assert.equal(Object.keys(s.links[0]!.attributes ?? {}).length, 1);
});

test('the general OTEL_ATTRIBUTE_* variables apply when the span ones are unset; the span ones win; options win over both', async () => {
  const general = await limitsWith({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '20', OTEL_ATTRIBUTE_COUNT_LIMIT: '4' })();
  assert.equal(String(general.attributes.k0).length, 20);
  assert.equal(Object.keys(general.attributes).length, 4);
  assert.equal(Object.keys(general.events[0]!.attributes ?? {}).length, 3, 'under the general count of 4');
  await tracing!.shutdown(500);
  const specific = await limitsWith({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '20', OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '30' })();
  assert.equal(String(specific.attributes.k0).length, 30);
  await tracing!.shutdown(500);
  const option = await limitsWith({ OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '30' }, { attributeValueLengthLimit: 40, attributeCountLimit: 2 })();
  assert.equal(String(option.attributes.k0).length, 40);
  assert.equal(Object.keys(option.attributes).length, 2);
});

test('defaults: values cut at 4096, 128 of each count (the spec default)', async () => {
  const exporter = new InMemorySpanExporter();
  tracing = createTracing({ env: {}, exporter, httpClient: false, sampler: 'always_on' });
  const span = tracing.tracer.startSpan('defaults');
  span.setAttribute('long', 'y'.repeat(10_000));
  for (let i = 0; i < 200; i++) span.setAttribute(`a${i}`, i);
  for (let i = 0; i < 200; i++) span.addEvent(`e${i}`);
  span.end();
  await tracing.forceFlush();
  const s = exporter.getFinishedSpans()[0]!;
  assert.equal(String(s.attributes.long).length, 4096);
  assert.equal(Object.keys(s.attributes).length, 128);
  assert.equal(s.events.length, 128);
});
