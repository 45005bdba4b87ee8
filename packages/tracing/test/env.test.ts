import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import express from 'express';
import http from 'node:http';
import { createTracing, isSampled, parseResourceAttributes } from '../src/index.ts';
import type { OperationRecord, Tracing } from '../src/index.ts';
import {
  intFromEnv, resolveCompression, resolveEndpoint, resolveExporterName, resolvePropagators, resolveProtocol, resolveSamplerName, resolveSamplerRatio,
} from '../src/env.ts';
import { closeServer, listen, waitFor } from './helpers.ts';

let tracing: Tracing | undefined;
afterEach(async () => {
  await tracing?.shutdown(1000);
  tracing = undefined;
});

test('OTEL_RESOURCE_ATTRIBUTES parsing: percent-decoding, trimming, bad entries ignored', () => {
  assert.deepEqual(parseResourceAttributes('a=1, b = x%20y ,c=%E2%9C%93,=nokey,novalue,d=%zz,e=a%2Cb'), {
    a: '1', b: 'x y', c: '✓', e: 'a,b',
  });
  assert.deepEqual(parseResourceAttributes(undefined), {});
  assert.deepEqual(parseResourceAttributes(''), {});
});

test('endpoint resolution', () => {
  assert.equal(resolveEndpoint(undefined, {}), 'http://localhost:4318/v1/traces');
  assert.equal(resolveEndpoint(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' }), 'http://c:4318/v1/traces');
  assert.equal(resolveEndpoint(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/custom' }), 'http://t:1/custom');
  assert.equal(resolveEndpoint('http://x/y', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/custom' }), 'http://x/y');
});

test('OTLP protocol and compression: option, then the TRACES variable, then the general one; default http/protobuf, none', () => {
  const lines: string[] = [];
  const warn = (m: string) => lines.push(m);
  assert.equal(resolveProtocol(undefined, {}, warn), 'http/protobuf');
  assert.equal(resolveProtocol(undefined, { OTEL_EXPORTER_OTLP_PROTOCOL: 'HTTP/JSON' }, warn), 'http/json');
  assert.equal(resolveProtocol(undefined, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }, warn), 'http/protobuf');
  assert.equal(resolveProtocol('http/json', { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }, warn), 'http/json');
  assert.equal(resolveProtocol(undefined, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: ' ', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, warn), 'http/json', 'blank means unset');
  assert.deepEqual(lines, []);
  assert.equal(resolveProtocol(undefined, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }, warn), 'http/protobuf');
  assert.match(lines.pop()!, /^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="grpc" is not supported; using http\/protobuf/);
  assert.equal(resolveCompression(undefined, {}, warn), 'none');
  assert.equal(resolveCompression(undefined, { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }, warn), 'gzip');
  assert.equal(resolveCompression(undefined, { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip', OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'none' }, warn), 'none');
  assert.equal(resolveCompression('gzip', { OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'none' }, warn), 'gzip');
  assert.deepEqual(lines, []);
  assert.equal(resolveCompression(undefined, { OTEL_EXPORTER_OTLP_COMPRESSION: 'brotli' }, warn), 'none');
  assert.match(lines.pop()!, /^OTEL_EXPORTER_OTLP_COMPRESSION="brotli" is not supported/);
});

test('sampler and propagator env parsing', () => {
  assert.equal(resolveSamplerName(undefined, {}), 'parentbased_always_on');
  assert.equal(resolveSamplerName(undefined, { OTEL_TRACES_SAMPLER: 'TraceIdRatio' }), 'traceidratio');
  assert.equal(resolveSamplerName(undefined, { OTEL_TRACES_SAMPLER: 'bogus' }), 'parentbased_always_on');
  assert.equal(resolveSamplerRatio(undefined, { OTEL_TRACES_SAMPLER_ARG: '0.25' }), 0.25);
  assert.equal(resolveSamplerRatio(undefined, { OTEL_TRACES_SAMPLER_ARG: 'x' }), 1);
  assert.equal(resolveSamplerRatio(undefined, { OTEL_TRACES_SAMPLER_ARG: '7' }), 1);
  assert.deepEqual(resolvePropagators(undefined, {}), ['tracecontext', 'baggage']);
  assert.deepEqual(resolvePropagators(undefined, { OTEL_PROPAGATORS: 'b3multi, tracecontext,junk' }), ['b3multi', 'tracecontext']);
  assert.deepEqual(resolvePropagators(undefined, { OTEL_PROPAGATORS: 'none' }), []);
});

test('OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES reach the resource', async () => {
  const exporter = new InMemorySpanExporter();
  tracing = createTracing({ exporter, httpClient: false, env: { OTEL_SERVICE_NAME: 'from-env', OTEL_RESOURCE_ATTRIBUTES: 'service.name=ignored,team=core,region=eu%2Dwest' } });
  assert.equal(tracing.serviceName, 'from-env');
  tracing.tracer.startSpan('x').end();
  await tracing.forceFlush();
  const attrs = exporter.getFinishedSpans()[0]!.resource.attributes;
  assert.equal(attrs['service.name'], 'from-env');
  assert.equal(attrs.team, 'core');
  assert.equal(attrs.region, 'eu-west');
});

test('service.name from OTEL_RESOURCE_ATTRIBUTES when nothing else; option wins over env', () => {
  tracing = createTracing({ exporter: new InMemorySpanExporter(), httpClient: false, env: { OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr-svc' } });
  assert.equal(tracing.serviceName, 'attr-svc');
});

test('OTEL_TRACES_SAMPLER=traceidratio with ARG 0 samples nothing', async () => {
  const exporter = new InMemorySpanExporter();
  tracing = createTracing({ exporter, httpClient: false, env: { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' } });
  for (let i = 0; i < 20; i++) tracing.tracer.startSpan('x').end();
  await tracing.forceFlush();
  assert.equal(exporter.getFinishedSpans().length, 0);
});

test('OTEL_PROPAGATORS=b3multi injects X-B3 headers', () => {
  tracing = createTracing({ exporter: new InMemorySpanExporter(), httpClient: false, env: { OTEL_PROPAGATORS: 'b3multi' } });
  const span = tracing.tracer.startSpan('x');
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  span.end();
  assert.equal(carrier['x-b3-traceid'], span.spanContext().traceId);
  assert.equal(carrier.traceparent, undefined);
});

test('OTEL_SDK_DISABLED=true: no spans, no propagation registration, records still emitted', async () => {
  const exporter = new InMemorySpanExporter();
  const records: OperationRecord[] = [];
  tracing = createTracing({ exporter, httpClient: false, env: { OTEL_SDK_DISABLED: 'TRUE' }, onOperation: (r) => records.push(r) });
  assert.equal(tracing.disabled, true);
  assert.equal(tracing.provider, undefined);
  const app = express();
  app.use(tracing.expressMiddleware());
  app.get('/u/:id', (_req, res) => {
    res.end(String(isSampled()));
  });
  const server = http.createServer(app);
  const port = await listen(server);
  const res = await fetch(`http://127.0.0.1:${port}/u/1`);
  assert.equal(await res.text(), 'false');
  await waitFor(() => records.length === 1);
  await closeServer(server);
  assert.equal(records[0]!.route, '/u/:id');
  assert.equal(records[0]!.traceId, undefined);
  await tracing.forceFlush();
  assert.equal(exporter.getFinishedSpans().length, 0);
  assert.deepEqual(tracing.stats(), { exported: 0, dropped: { queueFull: 0, exportFailed: 0 }, queued: 0, inFlightBatches: 0, abandonedBatches: 0 });
});

test('createTracing twice returns the same instance; shutdown unregisters globals', async () => {
  const a = createTracing({ exporter: new InMemorySpanExporter(), httpClient: false, env: {} });
  const b = createTracing({ serviceName: 'other', env: {} });
  assert.equal(a, b);
  const span = a.tracer.startSpan('p');
  // Global API sees our provider and context manager.
  const globalSpan = trace.getTracer('lib').startSpan('child', undefined, trace.setSpan(context.active(), span));
  assert.equal(globalSpan.spanContext().traceId, span.spanContext().traceId);
  assert.equal(context.with(trace.setSpan(ROOT_CONTEXT, span), () => trace.getActiveSpan()), span);
  globalSpan.end();
  span.end();
  await a.shutdown(1000);
  // After shutdown the API is back to no-op and a fresh instance can be created.
  assert.equal(trace.getTracer('lib').startSpan('after').isRecording(), false);
  const c = createTracing({ exporter: new InMemorySpanExporter(), httpClient: false, env: {} });
  assert.notEqual(c, a);
  tracing = c;
});

test('OTEL_BSP_* and timeout variables: option first, then env in order, bad values fall back', () => {
  assert.equal(intFromEnv(7, { OTEL_BSP_MAX_QUEUE_SIZE: '9' }, ['OTEL_BSP_MAX_QUEUE_SIZE'], 2048), 7);
  assert.equal(intFromEnv(undefined, { OTEL_BSP_MAX_QUEUE_SIZE: '9' }, ['OTEL_BSP_MAX_QUEUE_SIZE'], 2048), 9);
  assert.equal(intFromEnv(undefined, { OTEL_BSP_MAX_QUEUE_SIZE: 'lots' }, ['OTEL_BSP_MAX_QUEUE_SIZE'], 2048), 2048);
  assert.equal(intFromEnv(undefined, { OTEL_BSP_MAX_QUEUE_SIZE: '0' }, ['OTEL_BSP_MAX_QUEUE_SIZE'], 2048), 2048);
  assert.equal(intFromEnv(undefined, { B: '5', C: '6' }, ['A', 'B', 'C'], 1), 5);
  assert.equal(intFromEnv(undefined, {}, ['A'], 10_000), 10_000);
});

test('OTEL_TRACES_EXPORTER: none means no export, anything else OTLP', () => {
  assert.equal(resolveExporterName({ OTEL_TRACES_EXPORTER: 'none' }), 'none');
  assert.equal(resolveExporterName({ OTEL_TRACES_EXPORTER: ' None ' }), 'none');
  assert.equal(resolveExporterName({ OTEL_TRACES_EXPORTER: 'otlp' }), 'otlp');
  assert.equal(resolveExporterName({}), 'otlp');
});
