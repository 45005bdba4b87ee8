// Resolution of options against the standard OTEL_* environment variables. Pure functions:
// everything takes the env record explicitly so tests need not touch process.env. A value that
// cannot be used is reported through `warn` (one line naming the variable or option) and replaced
// by the safe default: configuration never throws and never turns off a bound.
import { maskUrl } from './redact.ts';
import type { PropagatorName, SamplerName } from './types.ts';

export type Env = Record<string, string | undefined>;
/** Receives one line (no prefix, no newline) per unusable setting. */
export type Warn = (message: string) => void;

const noWarn: Warn = () => {};

const DEFAULT_BASE = 'http://localhost:4318';

/** A value quoted for a one-line message: control characters escaped, long values cut. */
export function quote(value: unknown): string {
  let s: string;
  try {
    s = typeof value === 'string' ? value : String(value);
  } catch {
    s = typeof value;
  }
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);
}

/** The OTel SDK rule: an empty (or blank) variable means the same as an unset one. */
function envValue(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (typeof raw !== 'string') return undefined;
  const v = raw.trim();
  return v === '' ? undefined : v;
}

/** An http(s) URL with a host, else undefined with one line (the value printed masked). */
export function checkEndpoint(url: unknown, name: string, warn: Warn): string | undefined {
  const shown = typeof url === 'string' ? quote(maskUrl(url)) : quote(url);
  let parsed: URL;
  try {
    if (typeof url !== 'string') throw new TypeError('not a string');
    parsed = new URL(url);
  } catch {
    warn(`${name}=${shown} is not a valid URL; spans will not be exported (exporter none)`);
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    warn(`${name}=${shown} is not an http:// or https:// URL; spans will not be exported (exporter none)`);
    return undefined;
  }
  if (parsed.hostname === '') {
    warn(`${name}=${shown} has no host; spans will not be exported (exporter none)`);
    return undefined;
  }
  return url as string;
}

/**
 * The traces URL, or undefined when the configured one is unusable (then nothing is exported).
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as-is; the generic one gets the signal path appended.
 * An explicit option, even an empty one, is used as given.
 */
export function resolveEndpoint(explicit: string | undefined, env: Env, warn: Warn = noWarn): string | undefined {
  if (explicit !== undefined) return checkEndpoint(explicit, 'option endpoint', warn);
  const traces = envValue(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (traces !== undefined) return checkEndpoint(traces, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', warn);
  const base = envValue(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') ?? DEFAULT_BASE;
  if (checkEndpoint(base, 'OTEL_EXPORTER_OTLP_ENDPOINT', warn) === undefined) return undefined;
  return (base.endsWith('/') ? base.slice(0, -1) : base) + '/v1/traces';
}

/**
 * OTEL_SDK_DISABLED: only the (case-insensitive) string "true" disables, as in every SDK; any
 * other value than true/false is reported (the spec's SHOULD) and means false.
 */
export function parseBoolean(value: string | undefined, name = 'OTEL_SDK_DISABLED', warn: Warn = noWarn): boolean {
  const v = value?.trim().toLowerCase();
  if (v === undefined || v === '' || v === 'false') return false;
  if (v === 'true') return true;
  warn(`${name}=${quote(value)} is neither true nor false; using false`);
  return false;
}

const SAMPLERS: ReadonlySet<string> = new Set([
  'always_on', 'always_off', 'traceidratio',
  'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio',
]);

export function resolveSamplerName(explicit: unknown, env: Env, warn: Warn = noWarn): SamplerName {
  if (explicit !== undefined) {
    if (typeof explicit === 'string' && SAMPLERS.has(explicit)) return explicit as SamplerName;
    warn(`option sampler=${quote(explicit)} is not a known sampler; using parentbased_always_on`);
    return 'parentbased_always_on';
  }
  const raw = envValue(env, 'OTEL_TRACES_SAMPLER');
  if (raw === undefined) return 'parentbased_always_on';
  const v = raw.toLowerCase();
  if (SAMPLERS.has(v)) return v as SamplerName;
  warn(`OTEL_TRACES_SAMPLER=${quote(raw)} is not a supported sampler; using parentbased_always_on`);
  return 'parentbased_always_on';
}

/** Ratio in [0, 1]; anything unparsable or out of range means 1.0 (the spec default). */
export function resolveSamplerRatio(explicit: unknown, env: Env, warn: Warn = noWarn): number {
  if (explicit !== undefined) {
    if (typeof explicit === 'number' && explicit >= 0 && explicit <= 1) return explicit;
    warn(`option samplerRatio=${quote(explicit)} is not a number in [0, 1]; using 1`);
    return 1;
  }
  const raw = envValue(env, 'OTEL_TRACES_SAMPLER_ARG');
  if (raw === undefined) return 1;
  const v = Number(raw);
  if (Number.isFinite(v) && v >= 0 && v <= 1) return v;
  warn(`OTEL_TRACES_SAMPLER_ARG=${quote(raw)} is not a number in [0, 1]; using 1`);
  return 1;
}

const PROPAGATORS: ReadonlySet<string> = new Set(['tracecontext', 'baggage', 'b3', 'b3multi', 'none']);

export function resolvePropagators(explicit: unknown, env: Env, warn: Warn = noWarn): PropagatorName[] {
  if (explicit !== undefined) {
    if (!Array.isArray(explicit)) {
      warn(`option propagators=${quote(explicit)} is not a list; using tracecontext,baggage`);
      return ['tracecontext', 'baggage'];
    }
    const known = explicit.filter((p): p is PropagatorName => typeof p === 'string' && p !== 'none' && PROPAGATORS.has(p));
    const unknown = explicit.filter((p) => !(typeof p === 'string' && PROPAGATORS.has(p)));
    if (unknown.length > 0) warn(`option propagators: ${unknown.map(quote).join(', ')} not supported (ignored)`);
    return dedupe(known);
  }
  const raw = env.OTEL_PROPAGATORS;
  if (raw === undefined || raw.trim() === '') return ['tracecontext', 'baggage'];
  const out: PropagatorName[] = [];
  const unknown: string[] = [];
  for (const part of raw.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === 'none') return [];
    if (PROPAGATORS.has(name)) out.push(name as PropagatorName);
    else if (name !== '') unknown.push(part.trim());
  }
  if (unknown.length > 0) warn(`OTEL_PROPAGATORS: ${unknown.map(quote).join(', ')} not supported (ignored)`);
  return dedupe(out);
}

function dedupe<T>(list: T[]): T[] {
  return [...new Set(list)];
}

export interface KeyValueList {
  values: Record<string, string>;
  /** How many entries were ignored (no '=', empty key, bad percent escape). */
  ignored: number;
}

/**
 * The comma-separated, percent-encoded key=value list of OTEL_RESOURCE_ATTRIBUTES and
 * OTEL_EXPORTER_OTLP_HEADERS: keys and values trimmed, values percent-decoded. A bad entry is
 * ignored on its own; the rest still apply.
 */
export function parseKeyValueList(raw: string | undefined): KeyValueList {
  const values: Record<string, string> = {};
  let ignored = 0;
  if (!raw) return { values, ignored };
  for (const entry of raw.split(',')) {
    if (entry.trim() === '') continue;
    const eq = entry.indexOf('=');
    const key = eq <= 0 ? '' : entry.slice(0, eq).trim();
    if (key === '') {
      ignored++;
      continue;
    }
    try {
      values[key] = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      ignored++;
    }
  }
  return { values, ignored };
}

/** OTEL_RESOURCE_ATTRIBUTES per the SDK spec (see parseKeyValueList). */
export function parseResourceAttributes(raw: string | undefined, warn: Warn = noWarn): Record<string, string> {
  const { values, ignored } = parseKeyValueList(raw);
  if (ignored > 0) warn(`OTEL_RESOURCE_ATTRIBUTES: ${ignored} malformed entr${ignored === 1 ? 'y' : 'ies'} ignored (want key=value, percent-encoded)`);
  return values;
}

export function resolveServiceName(explicit: string | undefined, env: Env, fromResource: string | undefined): string | undefined {
  return explicit || envValue(env, 'OTEL_SERVICE_NAME') || fromResource || undefined;
}

/** Positive integer option, else the default (bad values must not disable bounding). */
export function positiveInt(value: number | undefined, dflt: number): number {
  return value !== undefined && Number.isFinite(value) && value >= 1 ? Math.floor(value) : dflt;
}

function intOk(v: number, min: number): boolean {
  return Number.isInteger(v) && v >= min;
}

/**
 * Option, else the first set OTEL_* variable (e.g. OTEL_BSP_MAX_QUEUE_SIZE), else the default;
 * always an integer >= min (1 unless told). What is unusable is reported and replaced by dflt.
 */
export function intFromEnv(
  explicit: unknown, env: Env, names: string[], dflt: number, warn: Warn = noWarn, option = names[0] ?? 'value', min = 1,
): number {
  const want = min === 0 ? 'a non-negative integer' : 'a positive integer';
  if (explicit !== undefined) {
    if (typeof explicit === 'number' && intOk(explicit, min)) return explicit;
    warn(`option ${option}=${quote(explicit)} is not ${want}; using ${dflt}`);
    return dflt;
  }
  for (const name of names) {
    const raw = envValue(env, name);
    if (raw === undefined) continue;
    const v = Number(raw);
    if (intOk(v, min)) return v;
    warn(`${name}=${quote(raw)} is not ${want}; using ${dflt}`);
    return dflt;
  }
  return dflt;
}

export type ExporterName = 'otlp' | 'none';

/** OTEL_TRACES_EXPORTER: `none` keeps spans in-process (extra processors only); `otlp` (default) exports. */
export function resolveExporterName(env: Env, warn: Warn = noWarn): ExporterName {
  const raw = envValue(env, 'OTEL_TRACES_EXPORTER');
  if (raw === undefined) return 'otlp';
  const names = raw.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  const unsupported = names.filter((n) => n !== 'otlp' && n !== 'none');
  if (unsupported.length > 0) warn(`OTEL_TRACES_EXPORTER: ${unsupported.map(quote).join(', ')} not supported (tailtrace exports OTLP only)`);
  if (names.includes('otlp')) return 'otlp';
  return names[0] === 'none' ? 'none' : 'otlp';
}

export type OtlpProtocol = 'http/protobuf' | 'http/json';
export type OtlpCompression = 'gzip' | 'none';

/**
 * The first of the per-signal and the general variable that is set (the spec's precedence), with
 * the name it came from; an explicit option comes first.
 */
function signalVariable(env: Env, name: string): { name: string; value: string } | undefined {
  for (const n of [`OTEL_EXPORTER_OTLP_TRACES_${name}`, `OTEL_EXPORTER_OTLP_${name}`]) {
    const value = envValue(env, n);
    if (value !== undefined) return { name: n, value };
  }
  return undefined;
}

/**
 * OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf (the
 * spec's default) or http/json. gRPC is another port and transport, so asking for it (or for
 * anything else) gets a line and the default.
 */
export function resolveProtocol(explicit: unknown, env: Env, warn: Warn = noWarn): OtlpProtocol {
  if (explicit !== undefined) {
    if (explicit === 'http/protobuf' || explicit === 'http/json') return explicit;
    warn(`option protocol=${quote(explicit)} is neither 'http/protobuf' nor 'http/json'; using http/protobuf`);
    return 'http/protobuf';
  }
  const v = signalVariable(env, 'PROTOCOL');
  if (v === undefined) return 'http/protobuf';
  const lower = v.value.toLowerCase();
  if (lower === 'http/protobuf' || lower === 'http/json') return lower;
  warn(`${v.name}=${quote(v.value)} is not supported; using http/protobuf (tailtrace sends OTLP over HTTP, usually port 4318)`);
  return 'http/protobuf';
}

/** OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, else OTEL_EXPORTER_OTLP_COMPRESSION: gzip or none (default). */
export function resolveCompression(explicit: unknown, env: Env, warn: Warn = noWarn): OtlpCompression {
  if (explicit !== undefined) {
    if (explicit === 'gzip' || explicit === 'none') return explicit;
    warn(`option compression=${quote(explicit)} is neither 'gzip' nor 'none'; using none`);
    return 'none';
  }
  const v = signalVariable(env, 'COMPRESSION');
  if (v === undefined) return 'none';
  const lower = v.value.toLowerCase();
  if (lower === 'gzip' || lower === 'none') return lower;
  warn(`${v.name}=${quote(v.value)} is not supported (gzip or none); sending uncompressed`);
  return 'none';
}

// RFC 9110 token characters for header names; values may not hold control characters (Node
// throws on them when the request is made, which must never happen on the export path).
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * OTEL_EXPORTER_OTLP_HEADERS, overridden key by key by OTEL_EXPORTER_OTLP_TRACES_HEADERS: the
 * same list format as OTEL_RESOURCE_ATTRIBUTES. Values are credentials: messages name the header,
 * never print the value.
 */
export function otlpHeaders(env: Env, warn: Warn = noWarn): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) {
    const { values, ignored } = parseKeyValueList(env[name]);
    if (ignored > 0) warn(`${name}: ${ignored} malformed entr${ignored === 1 ? 'y' : 'ies'} ignored (want key=value, percent-encoded)`);
    for (const [key, value] of Object.entries(values)) {
      if (!HEADER_NAME.test(key)) warn(`${name}: header name ${quote(key)} is not a valid HTTP header name (ignored)`);
      else if (BAD_HEADER_VALUE.test(value)) warn(`${name}: the value of header ${quote(key)} has characters HTTP does not allow (ignored)`);
      else out[key] = value;
    }
  }
  return out;
}
