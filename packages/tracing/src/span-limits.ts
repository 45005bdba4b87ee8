// Span limits from options and the OTEL_* variables, for the SDK's TracerProvider (which applies
// them but, in @opentelemetry/sdk-trace 3.x, reads no environment itself: nothing is applied twice).
import { intFromEnv } from './env.ts';
import type { Env, Warn } from './env.ts';
import type { SpanLimits } from './types.ts';

/**
 * 4096 characters keeps every value a backend shows usefully (URLs, user agents, SQL, error
 * messages) and bounds a span: the SDK's default is unlimited, so one 14 KB header copied into an
 * attribute was 14 KB in the queue, in every export batch and at the Collector.
 */
export const DEFAULT_ATTRIBUTE_VALUE_LENGTH = 4096;
/** The specification's default for every count limit. */
export const DEFAULT_COUNT_LIMIT = 128;

type Resolved = Required<SpanLimits>;

/** Each limit: the option, else its specific variable, else the general OTEL_ATTRIBUTE_* one, else the default. */
export function resolveSpanLimits(explicit: unknown, env: Env, warn: Warn): Resolved {
  let opts: SpanLimits = {};
  if (explicit !== undefined) {
    if (explicit !== null && typeof explicit === 'object') opts = explicit as SpanLimits;
    else warn('option spanLimits is not an object; using the OTEL_* variables and defaults');
  }
  const limit = (key: keyof SpanLimits, names: string[], dflt: number): number =>
    intFromEnv(opts[key], env, names, dflt, warn, `spanLimits.${key}`, 0);
  return {
    attributeValueLengthLimit: limit('attributeValueLengthLimit',
      ['OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT'], DEFAULT_ATTRIBUTE_VALUE_LENGTH),
    attributeCountLimit: limit('attributeCountLimit', ['OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT'], DEFAULT_COUNT_LIMIT),
    eventCountLimit: limit('eventCountLimit', ['OTEL_SPAN_EVENT_COUNT_LIMIT'], DEFAULT_COUNT_LIMIT),
    linkCountLimit: limit('linkCountLimit', ['OTEL_SPAN_LINK_COUNT_LIMIT'], DEFAULT_COUNT_LIMIT),
    attributePerEventCountLimit: limit('attributePerEventCountLimit',
      ['OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT'], DEFAULT_COUNT_LIMIT),
    attributePerLinkCountLimit: limit('attributePerLinkCountLimit',
      ['OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT'], DEFAULT_COUNT_LIMIT),
  };
}
