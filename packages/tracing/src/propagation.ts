// Propagator assembly. tracecontext uses OTel's traceparent parser (it follows the spec: version
// ff rejected, future versions with extra '-' data accepted, upper-case hex and all-zero IDs
// rejected) but our own tracestate validation (see tracestate.ts for why).
import { trace } from '@opentelemetry/api';
import type { Context, SpanContext, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { CompositePropagator, parseTraceParent, TraceState, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { sanitizeTraceState } from './tracestate.ts';
import type { PropagatorName } from './types.ts';

export class StrictTraceContextPropagator implements TextMapPropagator {
  readonly #inner = new W3CTraceContextPropagator();

  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    this.#inner.inject(ctx, carrier, setter);
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = getter.get(carrier, 'traceparent');
    // Several traceparent headers are ambiguous, so they are treated as none.
    if (header === undefined || (Array.isArray(header) && header.length !== 1)) return ctx;
    const value = Array.isArray(header) ? header[0] : header;
    if (typeof value !== 'string') return ctx;
    const parsed = parseTraceParent(value);
    if (parsed === null) return ctx;
    const spanContext: SpanContext = { traceId: parsed.traceId, spanId: parsed.spanId, traceFlags: parsed.traceFlags & 1, isRemote: true };
    const state = sanitizeTraceState(getter.get(carrier, 'tracestate'));
    if (state !== undefined) spanContext.traceState = new TraceState(state);
    return trace.setSpanContext(ctx, spanContext);
  }

  fields(): string[] {
    return ['traceparent', 'tracestate'];
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
  return new CompositePropagator({ propagators: list });
}
