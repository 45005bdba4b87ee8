// Resolution of options against the standard OTEL_* environment variables. Pure functions:
// everything takes the env record explicitly so tests need not touch process.env.
import type { PropagatorName, SamplerName } from './types.ts';

export type Env = Record<string, string | undefined>;

const DEFAULT_BASE = 'http://localhost:4318';

/** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as-is; the generic one gets the signal path appended. */
export function resolveEndpoint(explicit: string | undefined, env: Env): string {
  if (explicit) return explicit;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || DEFAULT_BASE;
  return (base.endsWith('/') ? base.slice(0, -1) : base) + '/v1/traces';
}

/** OTEL_SDK_DISABLED: only the (case-insensitive) string "true" disables, as in every SDK. */
export function parseBoolean(value: string | undefined): boolean {
  return value !== undefined && value.trim().toLowerCase() === 'true';
}

const SAMPLERS: ReadonlySet<string> = new Set([
  'always_on', 'always_off', 'traceidratio',
  'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio',
]);

export function resolveSamplerName(explicit: SamplerName | undefined, env: Env): SamplerName {
  if (explicit) return explicit;
  const v = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  // Unknown names fall back to the spec default rather than failing startup.
  return v && SAMPLERS.has(v) ? (v as SamplerName) : 'parentbased_always_on';
}

/** Ratio in [0, 1]; anything unparsable or out of range means 1.0 (the spec default). */
export function resolveSamplerRatio(explicit: number | undefined, env: Env): number {
  const v = explicit ?? (env.OTEL_TRACES_SAMPLER_ARG !== undefined ? Number(env.OTEL_TRACES_SAMPLER_ARG.trim()) : NaN);
  return Number.isFinite(v) && v >= 0 && v <= 1 ? v : 1;
}

const PROPAGATORS: ReadonlySet<string> = new Set(['tracecontext', 'baggage', 'b3', 'b3multi', 'none']);

export function resolvePropagators(explicit: PropagatorName[] | undefined, env: Env): PropagatorName[] {
  if (explicit) return dedupe(explicit);
  const raw = env.OTEL_PROPAGATORS;
  if (raw === undefined || raw.trim() === '') return ['tracecontext', 'baggage'];
  const out: PropagatorName[] = [];
  for (const part of raw.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === 'none') return [];
    if (PROPAGATORS.has(name)) out.push(name as PropagatorName);
  }
  return dedupe(out);
}

function dedupe<T>(list: T[]): T[] {
  return [...new Set(list)];
}

/**
 * OTEL_RESOURCE_ATTRIBUTES per the SDK spec: comma-separated key=value pairs, keys and values
 * trimmed, values percent-decoded. An entry without '=', with an empty key or with a bad percent
 * escape is ignored on its own; the rest still apply.
 */
export function parseResourceAttributes(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const entry of raw.split(',')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq).trim();
    if (key === '') continue;
    let value: string;
    try {
      value = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      continue;
    }
    out[key] = value;
  }
  return out;
}

export function resolveServiceName(explicit: string | undefined, env: Env, fromResource: string | undefined): string | undefined {
  return explicit || env.OTEL_SERVICE_NAME?.trim() || fromResource || undefined;
}

/** Positive integer option, else the default (bad values must not disable bounding). */
export function positiveInt(value: number | undefined, dflt: number): number {
  return value !== undefined && Number.isFinite(value) && value >= 1 ? Math.floor(value) : dflt;
}

/** Option, else the OTEL_* variable (e.g. OTEL_BSP_MAX_QUEUE_SIZE), else the default; always a positive integer. */
export function intFromEnv(explicit: number | undefined, env: Env, names: string[], dflt: number): number {
  if (explicit !== undefined) return positiveInt(explicit, dflt);
  for (const name of names) {
    const raw = env[name]?.trim();
    if (raw) return positiveInt(Number(raw), dflt);
  }
  return dflt;
}

export type ExporterName = 'otlp' | 'none';

/** OTEL_TRACES_EXPORTER: `none` keeps spans in-process (extra processors only); anything else means OTLP. */
export function resolveExporterName(env: Env): ExporterName {
  const first = env.OTEL_TRACES_EXPORTER?.split(',')[0]?.trim().toLowerCase();
  return first === 'none' ? 'none' : 'otlp';
}

/**
 * OTEL_EXPORTER_OTLP_HEADERS, overridden key by key by OTEL_EXPORTER_OTLP_TRACES_HEADERS: the
 * same comma-separated, percent-encoded key=value list as OTEL_RESOURCE_ATTRIBUTES.
 */
export function otlpHeaders(env: Env): Record<string, string> {
  return { ...parseResourceAttributes(env.OTEL_EXPORTER_OTLP_HEADERS), ...parseResourceAttributes(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS) };
}
