// The export protocols on the real Collector: the agent runs collector/otel-collector.yaml as
// shipped (its OTLP/HTTP receiver takes both encodings), its Tempo exporter points at a Tempo
// stand-in whose `file` exporter writes what arrived. For each of http/protobuf, http/json and
// both gzipped, chosen with the standard variables, a traced express request and user spans
// (from a tracer of the registered provider, as `trace.getTracer()` returns it) must arrive
// whole: every span, its parent, kind, typed attributes, events, links and status, decoded by the
// Collector itself; the export counts every span as exported and none as dropped.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTracing } from '@tailtrace/tracing';
import type { Tracing } from '@tailtrace/tracing';
import express from 'express';
import { collectorDir, startCollector, startTraceSink, tempDir } from './support/collector.ts';
import type { OtlpSpan, RunningCollector, TraceSink } from './support/collector.ts';
import { waitFor } from './support/proc.ts';

let tmp: ReturnType<typeof tempDir>;
let sink: TraceSink;
let agent: RunningCollector;
let remoteWrite: http.Server;

before(async () => {
  tmp = tempDir('tailtrace-protocols-');
  sink = await startTraceSink(tmp.dir);
  // The agent's span metrics go to Prometheus by remote write; this test reads traces only.
  remoteWrite = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  remoteWrite.listen(0, '127.0.0.1');
  await once(remoteWrite, 'listening');
  agent = await startCollector({
    configs: [join(collectorDir, 'otel-collector.yaml')],
    logFile: join(tmp.dir, 'agent.log'),
    env: {
      TEMPO_ENDPOINT: sink.collector.grpcEndpoint,
      PROMETHEUS_REMOTE_WRITE_ENDPOINT: `http://127.0.0.1:${(remoteWrite.address() as AddressInfo).port}/api/v1/write`,
    },
  });
});

after(async () => {
  await agent?.stop();
  await sink?.stop();
  remoteWrite?.closeAllConnections();
  remoteWrite?.close();
  tmp?.cleanup();
});

// SpanKind.CLIENT and SpanStatusCode.ERROR of @opentelemetry/api.
const CLIENT = 2;
const ERROR = 2;

type Attr = { key: string; value: Record<string, unknown> };
function attr(s: OtlpSpan, key: string): Record<string, unknown> | undefined {
  return (s.attributes as Attr[] | undefined)?.find((a) => a.key === key)?.value;
}

/** A traced express app whose handler makes user spans on the OpenTelemetry API; one request to it. */
async function oneRequest(tracing: Tracing): Promise<void> {
  const app = express();
  app.use(tracing.expressMiddleware());
  app.get('/orders/:id', (_req, res) => {
    const tracer = tracing.provider!.getTracer('user-lib', '1.2.3');
    tracer.startActiveSpan('load order', { kind: CLIENT, attributes: { 'db.system.name': 'postgresql' } }, (span) => {
      span.setAttributes({ rows: 3, ratio: 0.25, cached: false, tags: ['a', 'b'] });
      span.addEvent('query sent', { bytes: 120 });
      span.addLink({ context: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 }, attributes: { why: 'batch' } });
      tracer.startSpan('parse row').end();
      span.recordException(new Error('retry once'));
      span.setStatus({ code: ERROR, message: 'slow replica' });
      span.end();
    });
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/orders/42`);
    assert.equal(res.status, 200);
    await res.text();
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

const VARIANTS: Array<[string, Record<string, string>]> = [
  ['http-protobuf', {}],
  ['http-json', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }],
  ['http-protobuf-gzip', { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }],
  ['http-json-gzip', { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip' }],
];

for (const [name, env] of VARIANTS) {
  test(`${name}: the Collector decodes every span, field by field`, async () => {
    const warnings: string[] = [];
    const tracing = createTracing({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: agent.httpUrl, OTEL_SERVICE_NAME: `protocols-${name}`, ...env },
      sampler: 'always_on', scheduledDelayMillis: 50, httpClient: false, onConfigWarning: (m) => warnings.push(m),
      onFirstExportError: (e) => warnings.push(`export failed: ${e.message}`),
    });
    try {
      await oneRequest(tracing);
      await tracing.forceFlush();
      await waitFor('the export answered', async () => tracing.stats().exported + tracing.stats().dropped.exportFailed >= 3, 10_000);
      assert.deepEqual(tracing.stats().dropped, { queueFull: 0, exportFailed: 0 }, warnings.join('\n'));
      assert.equal(tracing.stats().exported, 3);
    } finally {
      await tracing.shutdown(2000);
    }
    assert.deepEqual(warnings, []);

    const mine = () => sink.spans().filter((s) => s.service === `protocols-${name}`);
    await waitFor('three spans in Tempo', async () => mine().length >= 3, 15_000);
    const spans = mine();
    assert.equal(spans.length, 3);
    const server = spans.find((s) => s.name === 'GET /orders/:id')!;
    const user = spans.find((s) => s.name === 'load order')!;
    const inner = spans.find((s) => s.name === 'parse row')!;
    assert.ok(server && user && inner, JSON.stringify(spans.map((s) => s.name)));
    assert.equal(server.kind, 2);
    assert.equal(user.kind, 3);
    assert.equal(inner.kind, 1);
    assert.equal(new Set(spans.map((s) => s.traceId)).size, 1, 'one trace');
    assert.equal(server.parentSpanId ?? '', '');
    assert.equal(user.parentSpanId, server.spanId);
    assert.equal(inner.parentSpanId, user.spanId);
    assert.deepEqual(attr(server, 'http.route'), { stringValue: '/orders/:id' });
    assert.deepEqual(attr(server, 'http.response.status_code'), { intValue: '200' });
    assert.deepEqual(attr(user, 'db.system.name'), { stringValue: 'postgresql' });
    assert.deepEqual(attr(user, 'rows'), { intValue: '3' });
    assert.deepEqual(attr(user, 'ratio'), { doubleValue: 0.25 });
    assert.deepEqual(attr(user, 'cached'), { boolValue: false });
    assert.deepEqual(attr(user, 'tags'), { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } });
    const full = user as OtlpSpan & {
      events?: { name: string; attributes?: Attr[] }[];
      links?: { traceId: string; spanId: string; attributes?: Attr[] }[];
      status?: { code?: number; message?: string };
    };
    assert.deepEqual(full.events?.map((e) => e.name), ['query sent', 'exception']);
    assert.deepEqual(full.events?.[0]?.attributes, [{ key: 'bytes', value: { intValue: '120' } }]);
    assert.deepEqual(full.links?.map((l) => [l.traceId, l.spanId, l.attributes]), [
      ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', [{ key: 'why', value: { stringValue: 'batch' } }]],
    ]);
    assert.deepEqual(full.status, { code: 2, message: 'slow replica' });
  });
}
