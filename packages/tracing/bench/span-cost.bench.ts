// Micro-benchmark: CPU per server span as our instrumentation makes it (start with a performance
// timestamp, nine attributes, rename, context, end), through our tracer and OTLP/protobuf encoding
// versus the OpenTelemetry SDK's tracer with the JSON serializer the previous export used; sampled
// and not. The sender is a no-op: this is the main thread's cost only.
// Run: node --conditions=tailtrace-source packages/tracing/bench/span-cost.bench.ts
// Bounded: fixed iteration counts, no network.
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import type { Tracer } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { CHAIN_ROOT } from '../src/context-chain.ts';
import { BoundedSpanProcessor } from '../src/export.ts';
import { OtlpSpanExport } from '../src/otlp-export.ts';
import { ProtobufBatch } from '../src/otlp-protobuf.ts';
import { Pipeline } from '../src/pipeline.ts';
import { buildSampler } from '../src/sampler.ts';
import { DEFAULT_ATTRIBUTE_VALUE_LENGTH, DEFAULT_COUNT_LIMIT } from '../src/span-limits.ts';
import { LeanTracerProvider } from '../src/tracer.ts';

const resource = defaultResource().merge(resourceFromAttributes({ 'service.name': 'bench' }));
const limits = {
  attributeValueLengthLimit: DEFAULT_ATTRIBUTE_VALUE_LENGTH, attributeCountLimit: DEFAULT_COUNT_LIMIT, eventCountLimit: DEFAULT_COUNT_LIMIT,
  linkCountLimit: DEFAULT_COUNT_LIMIT, attributePerEventCountLimit: DEFAULT_COUNT_LIMIT, attributePerLinkCountLimit: DEFAULT_COUNT_LIMIT,
};
const queue = { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 1000, exportTimeoutMillis: 10_000 };
const ok: ExportResult = { code: ExportResultCode.SUCCESS };

function ours(sampler: 'parentbased_always_on' | 'parentbased_always_off'): Tracer {
  const exp = new OtlpSpanExport(new ProtobufBatch(resource), { send: (_b, done) => done(ok), shutdown: async () => {} }, queue);
  return new LeanTracerProvider({ resource, sampler: buildSampler(sampler, 1), limits, pipeline: new Pipeline([exp], [], () => {}) }).getTracer('bench');
}

function sdk(sampled: boolean): Tracer {
  const json: SpanExporter = {
    export: (spans: ReadableSpan[], done) => {
      JsonTraceSerializer.serializeRequest(spans);
      done(ok);
    },
    shutdown: async () => {},
  };
  return new TracerProvider({
    resource, spanLimits: limits, sampler: new ParentBasedSampler({ root: sampled ? new AlwaysOnSampler() : new AlwaysOffSampler() }),
    spanProcessors: [new BoundedSpanProcessor(json, queue)],
  }).getTracer('bench');
}

let sink = 0;
function serverSpan(tracer: Tracer, root: typeof ROOT_CONTEXT): void {
  const span = tracer.startSpan('GET', { kind: SpanKind.SERVER, startTime: performance.now() }, root);
  if (span.isRecording()) {
    span.setAttribute('http.request.method', 'GET');
    span.setAttribute('url.path', '/items/42');
    span.setAttribute('url.scheme', 'http');
    span.setAttribute('server.address', '127.0.0.1');
    span.setAttribute('server.port', 8080);
    span.setAttribute('user_agent.original', 'wrk');
    span.updateName('GET /items/:id');
    span.setAttribute('http.route', '/items/:id');
    span.setAttribute('http.response.status_code', 200);
  }
  if (trace.setSpan(root, span) !== root) sink++;
  span.end(performance.now());
}

const N = 200_000;
function measure(name: string, tracer: Tracer, root: typeof ROOT_CONTEXT): void {
  for (let i = 0; i < 20_000; i++) serverSpan(tracer, root);
  const runs: number[] = [];
  for (let r = 0; r < 7; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < N; i++) serverSpan(tracer, root);
    const c = process.cpuUsage(c0);
    runs.push(((c.user + c.system) * 1000) / N);
  }
  runs.sort((a, b) => a - b);
  console.log(`${name.padEnd(46)} ${runs[3]!.toFixed(0).padStart(6)} ns CPU per span (min ${runs[0]!.toFixed(0)})`);
}

measure('tailtrace, sampled (encoded to OTLP/protobuf)', ours('parentbased_always_on'), CHAIN_ROOT);
measure('tailtrace, not sampled', ours('parentbased_always_off'), CHAIN_ROOT);
measure('OpenTelemetry SDK, sampled (OTLP/JSON)', sdk(true), ROOT_CONTEXT);
measure('OpenTelemetry SDK, not sampled', sdk(false), ROOT_CONTEXT);
if (sink === 0) console.log('');
