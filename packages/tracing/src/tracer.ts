// Our TracerProvider and Tracer for the OpenTelemetry API: what `trace.getTracer()` returns once
// tracing is registered, and what our instrumentations use. startSpan follows the SDK's Tracer
// step by step (suppression, root option, parent, IDs, sampler, attributes and links cleaned with
// the span limits), so user code sees the same spans; what differs is what a span costs:
//  - the named samplers decide from the parent span context without a result object;
//  - a span that is not recorded is one object (its own SpanContext);
//  - a recorded span is a RecordingSpan, encoded for export when it ends (see span.ts).
import { context, INVALID_SPAN_CONTEXT, isSpanContextValid, SamplingDecision, SpanKind, trace } from '@opentelemetry/api';
import type {
  Attributes, Context, Link, Span as ApiSpan, SpanContext, SpanOptions, Tracer as ApiTracer, TracerOptions, TracerProvider as ApiTracerProvider,
  TraceState,
} from '@opentelemetry/api';
import { cleanAttributes, isTracingSuppressed } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { Sampler } from '@opentelemetry/sdk-trace';
import { hex2, hex4, lastWord, word } from './ids.ts';
import type { IdSource } from './ids.ts';
import { FastSampler } from './sampler.ts';
import { linkLimits, RecordingSpan, UnsampledSpan } from './span.ts';
import type { Limits, SpanPipeline, SpanScope } from './span.ts';

const NO_LIMITS = { attributeCountLimit: Infinity, attributeValueLengthLimit: Infinity };

export interface ProviderConfig {
  resource: Resource;
  sampler: Sampler;
  limits: Limits;
  pipeline: SpanPipeline;
  /** Deterministic IDs for tests; default: random. */
  ids?: IdSource;
}

export class LeanTracer implements ApiTracer {
  readonly #scope: SpanScope;
  readonly #sampler: Sampler;
  readonly #fast: FastSampler | undefined;
  readonly #ids: IdSource | undefined;

  constructor(scope: SpanScope, sampler: Sampler, ids: IdSource | undefined) {
    this.#scope = scope;
    this.#sampler = sampler;
    this.#fast = sampler instanceof FastSampler ? sampler : undefined;
    this.#ids = ids;
  }

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): ApiSpan {
    if (options.root) ctx = trace.deleteSpan(ctx);
    if (isTracingSuppressed(ctx)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const parentSc = trace.getSpan(ctx)?.spanContext();
    const parent = parentSc !== undefined && isSpanContextValid(parentSc) ? parentSc : undefined;
    // IDs as random words (ids.ts), spelled in hex only for spans that are recorded; a test's ID
    // source spells them at once, in the SDK's order (span, then trace).
    const custom = this.#ids;
    const s0 = word();
    const s1 = lastWord();
    const spanId = custom?.spanId();
    let traceId = parent?.traceId ?? custom?.traceId();
    const t0 = traceId === undefined ? word() : 0;
    const t1 = traceId === undefined ? word() : 0;
    const t2 = traceId === undefined ? word() : 0;
    const t3 = traceId === undefined ? lastWord() : 0;
    let traceState: TraceState | undefined = parent?.traceState;
    const kind = options.kind ?? SpanKind.INTERNAL;
    let decision: SamplingDecision;
    let attributes: Attributes | undefined;
    let dropped = 0;
    let links: Link[] | undefined;
    if (options.links !== undefined && options.links.length > 0) {
      const limits = linkLimits(this.#scope.limits);
      links = options.links.map((l) => ({ context: l.context, ...cleanAttributes(l.attributes, limits) }));
    }
    if (this.#fast !== undefined) {
      decision = this.#fast.decide(parent, traceId, t0 ^ t1 ^ t2 ^ t3);
      if (options.attributes !== undefined) {
        const cleaned = cleanAttributes(options.attributes, NO_LIMITS);
        attributes = cleaned.attributes;
        dropped = cleaned.droppedAttributesCount ?? 0;
      }
    } else {
      traceId ??= hex4(t0, t1, t2, t3);
      const cleaned = cleanAttributes(options.attributes, NO_LIMITS);
      const attrs: Attributes = cleaned.attributes ?? {};
      dropped = cleaned.droppedAttributesCount ?? 0;
      const result = this.#sampler.shouldSample(ctx, traceId, name, kind, attrs, links ?? []);
      decision = result.decision;
      traceState = result.traceState ?? traceState;
      attributes = result.attributes !== undefined ? Object.assign(attrs, result.attributes) : attrs;
    }
    if (decision === SamplingDecision.NOT_RECORD) {
      if (spanId !== undefined) return UnsampledSpan.withIds(traceId!, spanId, traceState);
      return new UnsampledSpan(traceId, t0, t1, t2, t3, s0, s1, traceState);
    }
    const sc: SpanContext = {
      traceId: traceId ?? hex4(t0, t1, t2, t3), spanId: spanId ?? hex2(s0, s1),
      traceFlags: decision === SamplingDecision.RECORD_AND_SAMPLED ? 1 : 0, traceState,
    };
    const span = new RecordingSpan(this.#scope, sc, parent, name, kind, options.startTime);
    if (attributes !== undefined) span.initAttributes(attributes, dropped);
    if (links !== undefined) span.initLinks(links);
    if (this.#scope.pipeline.wantsStart) this.#scope.pipeline.onStart(span, ctx);
    return span;
  }

  startActiveSpan<F extends (span: ApiSpan) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: ApiSpan) => unknown>(name: string, opts: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: ApiSpan) => unknown>(name: string, opts: SpanOptions, ctx: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: ApiSpan) => unknown>(
    name: string, arg2?: SpanOptions | F, arg3?: Context | F, arg4?: F,
  ): ReturnType<F> | undefined {
    let opts: SpanOptions | undefined;
    let ctx: Context | undefined;
    let fn: F;
    if (arguments.length < 2) return undefined;
    if (arguments.length === 2) fn = arg2 as F;
    else if (arguments.length === 3) {
      opts = arg2 as SpanOptions;
      fn = arg3 as F;
    } else {
      opts = arg2 as SpanOptions;
      ctx = arg3 as Context;
      fn = arg4 as F;
    }
    const parentContext = ctx ?? context.active();
    const span = this.startSpan(name, opts, parentContext);
    return context.with(trace.setSpan(parentContext, span), fn as (s: ApiSpan) => ReturnType<F>, undefined, span);
  }
}

export class LeanTracerProvider implements ApiTracerProvider {
  readonly resource: Resource;
  readonly #config: ProviderConfig;
  readonly #tracers = new Map<string, LeanTracer>();

  constructor(config: ProviderConfig) {
    this.#config = config;
    this.resource = config.resource;
  }

  getTracer(name: string, version?: string, options?: TracerOptions): LeanTracer {
    const key = `${name}@${version ?? ''}:${options?.schemaUrl ?? ''}`;
    let tracer = this.#tracers.get(key);
    if (tracer === undefined) {
      const scope: SpanScope = {
        resource: this.#config.resource,
        instrumentationScope: { name, version, schemaUrl: options?.schemaUrl },
        limits: this.#config.limits,
        pipeline: this.#config.pipeline,
      };
      tracer = new LeanTracer(scope, this.#config.sampler, this.#config.ids);
      this.#tracers.set(key, tracer);
    }
    return tracer;
  }
}
