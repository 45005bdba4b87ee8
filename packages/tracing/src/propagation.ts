// Propagator assembly. tracecontext is our own W3C propagator: traceparent per traceparent.ts,
// tracestate member by member per tracestate.ts, and Level 2's random trace-id flag.
//
// The random flag cannot live in the spans: like the SDK's, ours set a new span's traceFlags to
// exactly SAMPLED or NONE. It describes the trace-id, so it is decided when we inject:
//  - a remote span context (pass-through) keeps the flag it arrived with;
//  - a span continuing a trace received in this context (extract marks the context with the
//    remote parent) takes the parent's flag, as Level 2 requires of a participant continuing it;
//  - any other trace-id was generated in this process by our tracer (ids.ts), whose 16 bytes are
//    all (pseudo-)random, so the flag is set.
// Sampling still reads bit 0 only (ParentBasedSampler masks with TraceFlags.SAMPLED).
import { createContextKey, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Context, SpanContext, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { CompositePropagator, isTracingSuppressed, TraceState, W3CBaggagePropagator } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { formatTraceParent, parseTraceParent, RANDOM_TRACE_ID, SAMPLED } from './traceparent.ts';
import { sanitizeTraceState } from './tracestate.ts';
import type { PropagatorName } from './types.ts';

/** The remote span context this context continues (set on extract, kept by child contexts). */
const REMOTE_PARENT = createContextKey('tailtrace remote parent');

function remoteParentOf(ctx: Context): SpanContext | undefined {
  return ctx.getValue(REMOTE_PARENT) as SpanContext | undefined;
}

/** Whether the trace-id of `sc` is known to be random (Level 2 random trace-id flag). */
export function isRandomTraceId(ctx: Context, sc: SpanContext): boolean {
  if (sc.isRemote === true) return (sc.traceFlags & RANDOM_TRACE_ID) !== 0;
  const remote = remoteParentOf(ctx);
  if (remote !== undefined && remote.traceId === sc.traceId) return (remote.traceFlags & RANDOM_TRACE_ID) !== 0;
  return true;
}

export class StrictTraceContextPropagator implements TextMapPropagator {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    const sc = trace.getSpanContext(ctx);
    if (sc === undefined || isTracingSuppressed(ctx) || !isSpanContextValid(sc)) return;
    const flags = (sc.traceFlags & SAMPLED) | (isRandomTraceId(ctx, sc) ? RANDOM_TRACE_ID : 0);
    setter.set(carrier, 'traceparent', formatTraceParent(sc.traceId, sc.spanId, flags));
    // Whatever built the state (a sampler, user code), what leaves is within the limits.
    const state = sc.traceState === undefined ? undefined : sanitizeTraceState(sc.traceState.serialize());
    if (state !== undefined) setter.set(carrier, 'tracestate', state);
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = getter.get(carrier, 'traceparent');
    // Several traceparent headers are ambiguous, so they are treated as none.
    if (header === undefined || (Array.isArray(header) && header.length !== 1)) return ctx;
    const value = Array.isArray(header) ? header[0] : header;
    if (typeof value !== 'string') return ctx;
    const parsed = parseTraceParent(value);
    // "If the vendor failed to parse traceparent, it MUST NOT attempt to parse tracestate."
    if (parsed === undefined) return ctx;
    const spanContext: SpanContext = { traceId: parsed.traceId, spanId: parsed.spanId, traceFlags: parsed.traceFlags, isRemote: true };
    const state = sanitizeTraceState(getter.get(carrier, 'tracestate'));
    if (state !== undefined) spanContext.traceState = new TraceState(state);
    return trace.setSpanContext(ctx, spanContext).setValue(REMOTE_PARENT, spanContext);
  }

  fields(): string[] {
    return ['traceparent', 'tracestate'];
  }
}

/**
 * Marks the context with the remote parent whichever propagator extracted it (a B3 parent's
 * trace-id is not known to be random), so inject can tell a continued trace from a new one.
 */
class RemoteParentMarking implements TextMapPropagator {
  readonly #inner: TextMapPropagator;

  constructor(inner: TextMapPropagator) {
    this.#inner = inner;
  }

  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    this.#inner.inject(ctx, carrier, setter);
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const out = this.#inner.extract(ctx, carrier, getter);
    const sc = trace.getSpanContext(out);
    if (out === ctx || sc === undefined || sc.isRemote !== true || remoteParentOf(out) === sc) return out;
    return out.setValue(REMOTE_PARENT, sc);
  }

  fields(): string[] {
    return this.#inner.fields();
  }
}

export function buildPropagator(names: PropagatorName[]): TextMapPropagator {
  const list: TextMapPropagator[] = [];
  for (const name of names) {
    if (name === 'tracecontext') list.push(new StrictTraceContextPropagator());
    else if (name === 'baggage') list.push(new W3CBaggagePropagator());
    else if (name === 'b3') list.push(new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER }));
    else if (name === 'b3multi') list.push(new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }));
  }
  return new RemoteParentMarking(new CompositePropagator({ propagators: list }));
}
