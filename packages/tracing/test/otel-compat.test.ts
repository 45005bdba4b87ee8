// OpenTelemetry compatibility, part 1: the same user code on the OpenTelemetry API, run once on
// the OpenTelemetry SDK and once on our tracer (same resource, sampler, limits and ID sequence,
// explicit times), gives the same spans as ReadableSpans, and the same OTLP bytes: our protobuf
// encoder's output equals the SDK's ProtobufTraceSerializer's byte for byte, our JSON equals its
// JsonTraceSerializer's, and the SDK's serializers take our spans as they take their own.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Span, SpanContext, Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TraceState } from '@opentelemetry/core';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler, InMemorySpanExporter, ParentBasedSampler, SamplingDecision, SimpleSpanProcessor, TraceIdRatioBasedSampler, TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { IdGenerator, ReadableSpan } from '@opentelemetry/sdk-trace';
import { JsonBatch } from '../src/otlp-json.ts';
import { ProtobufBatch } from '../src/otlp-protobuf.ts';
import { Pipeline } from '../src/pipeline.ts';
import { buildSampler } from '../src/sampler.ts';
import type { RecordingSpan } from '../src/span.ts';
import { LeanTracerProvider } from '../src/tracer.ts';
import { decodeTraceRequest } from './otlp-decode.ts';

const LIMITS = {
  attributeValueLengthLimit: 20, attributeCountLimit: 8, eventCountLimit: 3, linkCountLimit: 2,
  attributePerEventCountLimit: 2, attributePerLinkCountLimit: 2,
};
const RESOURCE = resourceFromAttributes({ 'service.name': 'compat', 'service.version': '1.0.0', 'host.cores': 2 });
/** Epoch milliseconds with a fraction: every time in the scenario is explicit, so both runs agree. */
const T = 1_764_700_000_123.25;
const REMOTE: SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true, traceState: new TraceState('vendor=a1,other=b2'),
};
const UNSAMPLED_REMOTE: SpanContext = { traceId: '1af7651916cd43dd8448eb211c80319c', spanId: 'c7ad6b7169203331', traceFlags: 0, isRemote: true };
// One error object for both runs: its stack names the frames that created it.
const ERROR = Object.assign(new Error('boom'), { code: 'E_BOOM' });

function sequentialIds(): { traceId(): string; spanId(): string } & IdGenerator {
  let n = 0;
  const next = (len: number) => (++n).toString(16).padStart(len, '0');
  return { traceId: () => next(32), spanId: () => next(16), generateTraceId: () => next(32), generateSpanId: () => next(16) };
}

/** User code on the OpenTelemetry API, touching every part of a span. Returns the non-recorded span's context. */
function scenario(tracer: Tracer, other: Tracer): SpanContext {
  tracer.startActiveSpan('root', {
    kind: SpanKind.SERVER, startTime: T,
    attributes: { 'http.request.method': 'GET', list: ['a', 'b'], n: 3, d: 1.5, yes: true, nested: { a: 1, b: ['x'] }, gone: undefined },
    links: [{ context: REMOTE, attributes: { la: 'x', lb: 2, lc: 'dropped' } }],
  }, (root: Span) => {
    root.setAttribute('long', 'y'.repeat(50));
    root.setAttributes({ big: -(2 ** 40), neg: -7, frac: -0.25, bytes: new Uint8Array([1, 2, 3]) as unknown as string });
    root.setAttribute('', 'empty key is invalid');
    for (let i = 0; i < 4; i++) root.setAttribute(`extra${i}`, i); // past the count limit: dropped
    root.addEvent('with-attributes', { ea: 1, eb: 'two', ec: 'dropped' }, T + 1);
    root.addEvent('time-only', T + 2);
    root.addEvent('at-date', new Date(T + 3));
    root.addEvent('one-too-many', { arr: [1, 2] }, T + 3.5);
    const child = tracer.startSpan('child', { kind: SpanKind.CLIENT, startTime: T + 4 });
    child.recordException(ERROR, T + 5);
    child.recordException('just a message', T + 5.5);
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'bad' });
    context.with(trace.setSpan(context.active(), child), () => {
      const g = other.startSpan('grandchild', { kind: SpanKind.PRODUCER, startTime: T + 6 });
      g.setAttribute('unicode', 'naïve ☃ 日本');
      g.end(T + 7);
    });
    child.end(T + 8);
    root.addLink({ context: child.spanContext(), attributes: { why: 'follows' } });
    root.addLinks([{ context: REMOTE }]);
    root.updateName('root renamed');
    root.setStatus({ code: SpanStatusCode.OK });
    root.setStatus({ code: SpanStatusCode.ERROR, message: 'ignored: OK is final' });
    root.end(T + 10);
    root.end(T + 11);
    root.setAttribute('after-end', 1);
  });
  const remoteCtx = trace.setSpanContext(ROOT_CONTEXT, REMOTE);
  tracer.startSpan('from-remote', { kind: SpanKind.CONSUMER, startTime: new Date(T) }, remoteCtx).end(new Date(T + 1));
  tracer.startSpan('new-root', { root: true, startTime: T }, remoteCtx).end(T + 0.001);
  const unsampled = tracer.startSpan('unsampled', { startTime: T }, trace.setSpanContext(ROOT_CONTEXT, UNSAMPLED_REMOTE));
  unsampled.setAttribute('ignored', 1);
  unsampled.end(T + 1);
  return unsampled.spanContext();
}

function view(s: ReadableSpan) {
  const sc = s.spanContext();
  return {
    name: s.name, kind: s.kind, traceId: sc.traceId, spanId: sc.spanId, traceFlags: sc.traceFlags, traceState: sc.traceState?.serialize(),
    parent: s.parentSpanContext === undefined ? undefined : { ...s.parentSpanContext, traceState: s.parentSpanContext.traceState?.serialize() },
    startTime: s.startTime, endTime: s.endTime, duration: s.duration, ended: s.ended, status: s.status, attributes: s.attributes,
    events: s.events, links: s.links.map((l) => ({ ...l, context: { ...l.context, traceState: l.context.traceState?.serialize() } })),
    droppedAttributesCount: s.droppedAttributesCount, droppedEventsCount: s.droppedEventsCount, droppedLinksCount: s.droppedLinksCount,
    scope: { name: s.instrumentationScope.name, version: s.instrumentationScope.version, schemaUrl: s.instrumentationScope.schemaUrl },
    resource: s.resource.attributes,
  };
}

let manager: AsyncLocalStorageContextManager;
const sdk: { spans: ReadableSpan[]; unsampled?: SpanContext } = { spans: [] };
const ours: { spans: RecordingSpan[]; unsampled?: SpanContext } = { spans: [] };

before(async () => {
  manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);

  const exporter = new InMemorySpanExporter();
  const reference = new TracerProvider({
    resource: RESOURCE, idGenerator: sequentialIds(), spanLimits: LIMITS,
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }), spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  sdk.unsampled = scenario(reference.getTracer('compat-lib', '2.0.0'), reference.getTracer('other-lib', undefined, { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' }));
  await reference.forceFlush();
  sdk.spans = exporter.getFinishedSpans();

  const collect = { onEnd: (s: RecordingSpan) => ours.spans.push(s), forceFlush: async () => {}, shutdown: async () => {}, abandon: () => {} };
  const provider = new LeanTracerProvider({
    resource: RESOURCE, ids: sequentialIds(), limits: LIMITS, sampler: buildSampler('parentbased_always_on', 1),
    pipeline: new Pipeline([collect], [], () => {}),
  });
  ours.unsampled = scenario(provider.getTracer('compat-lib', '2.0.0'), provider.getTracer('other-lib', undefined, { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' }));
});

after(() => {
  context.disable();
});

test('the same API calls give the same spans: names, IDs, parents, times, attributes, events, links, status, limits', () => {
  assert.equal(sdk.spans.length, 5, 'the scenario ends five recorded spans');
  assert.deepEqual(ours.spans.map(view), sdk.spans.map(view));
  // And the scenario does reach what it means to: limits applied, drops counted.
  const root = ours.spans.find((s) => s.name === 'root renamed')!;
  assert.equal(String(root.attributes.long).length, 20);
  assert.equal(root.droppedAttributesCount, 7);
  assert.equal(root.events.length, 3);
  assert.equal(root.droppedEventsCount, 1);
  assert.equal(root.links.length, 2);
  assert.equal(root.droppedLinksCount, 1);
  assert.deepEqual(root.status, { code: SpanStatusCode.OK });
});

test('a span that is not recorded has the same context on both', () => {
  assert.deepEqual({ ...ours.unsampled }, { ...sdk.unsampled, traceState: undefined });
  assert.equal(ours.unsampled!.traceFlags & 1, 0);
});

test('OTLP/protobuf: our encoder writes exactly the bytes of the SDK serializer, for its spans and ours', () => {
  const expected = Buffer.from(ProtobufTraceSerializer.serializeRequest(sdk.spans)!);
  const batch = new ProtobufBatch(RESOURCE);
  for (const s of ours.spans) batch.add(s);
  const body = batch.seal();
  assert.equal(batch.count, 0);
  assert.ok(Buffer.from(body).equals(expected), 'bytes differ');
  assert.ok(Buffer.from(ProtobufTraceSerializer.serializeRequest(ours.spans)!).equals(expected), 'the SDK serializer reads our spans differently');
  // The bytes decode as a reader independent of both encoders sees them.
  const req = decodeTraceRequest(body);
  assert.deepEqual(req.resourceSpans[0]!.scopeSpans.map((ss) => [ss.scope.name, ss.spans.map((s) => s.name)]), [
    ['other-lib', ['grandchild']], ['compat-lib', ['child', 'root renamed', 'from-remote', 'new-root']],
  ]);
  // A second batch from the reused buffers is again exact.
  for (const s of ours.spans) batch.add(s);
  assert.ok(Buffer.from(batch.seal()).equals(expected), 'second batch differs');
});

test('OTLP/JSON: our encoder writes the SDK serializer\'s request, for its spans and ours', () => {
  const expected = JSON.parse(Buffer.from(JsonTraceSerializer.serializeRequest(sdk.spans)!).toString('utf8')) as unknown;
  const batch = new JsonBatch(RESOURCE);
  for (const s of ours.spans) batch.add(s);
  assert.deepEqual(JSON.parse(Buffer.from(batch.seal()).toString('utf8')), expected);
  assert.deepEqual(JSON.parse(Buffer.from(JsonTraceSerializer.serializeRequest(ours.spans)!).toString('utf8')), expected);
});

test('ratio sampling decides as the SDK does for the same trace-id (generated IDs are decided before they are spelled)', () => {
  const provider = new LeanTracerProvider({
    resource: RESOURCE, limits: LIMITS, sampler: buildSampler('traceidratio', 0.3), pipeline: new Pipeline([], [], () => {}),
  });
  const tracer = provider.getTracer('ratio');
  const reference = new TraceIdRatioBasedSampler(0.3);
  let kept = 0;
  for (let i = 0; i < 2000; i++) {
    const span = tracer.startSpan('s', { startTime: T });
    const sc = span.spanContext();
    const expected = reference.shouldSample(ROOT_CONTEXT, sc.traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
    assert.equal(span.isRecording(), expected, sc.traceId);
    assert.equal((sc.traceFlags & 1) === 1, expected);
    if (expected) kept++;
    span.end(T + 1);
  }
  assert.ok(kept > 450 && kept < 750, `${kept} of 2000 kept at 0.3`);
});
