// Log correlation: the active span's IDs in the field names OTel's log data model and pino's
// OTel integration use (trace_id, span_id, trace_flags).
import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { TraceIds } from './types.ts';

const EMPTY: Record<string, never> = Object.freeze({}) as Record<string, never>;

export function currentTraceIds(): TraceIds {
  const span = trace.getActiveSpan();
  if (span === undefined) return EMPTY;
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return EMPTY;
  return { trace_id: sc.traceId, span_id: sc.spanId, trace_flags: sc.traceFlags & 1 ? '01' : '00' };
}

/** For pino's `mixin` option: every log line inside a span carries its IDs. */
export function pinoMixin(): () => TraceIds {
  return currentTraceIds;
}
