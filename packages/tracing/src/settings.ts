// Every tracing option and OTEL_* variable, validated in one place: what createTracing() builds
// from. An unusable value is reported with one line naming it and replaced by the safe default;
// nothing here throws (a typo must never take the service down).
import type { Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import {
  intFromEnv, otlpHeaders, parseBoolean, parseResourceAttributes, quote, resolveCompression, resolveEndpoint, resolveExporterName,
  resolvePropagators, resolveProtocol, resolveSamplerName, resolveSamplerRatio, resolveServiceName,
} from './env.ts';
import type { Env, OtlpCompression, OtlpProtocol, Warn } from './env.ts';
import { resolveSpanLimits } from './span-limits.ts';
import type { OperationRecord, PropagatorName, SamplerName, SpanLimits, TracingOptions } from './types.ts';

export interface TracingSettings {
  env: Env;
  warn: Warn;
  /** Resource attributes before the SDK's defaults are merged in (service.name included when known). */
  resourceAttributes: Record<string, string | number | boolean>;
  disabled: boolean;
  /** What to export to: OTLP at `endpoint` (in `protocol`, maybe gzipped), a custom exporter, or nothing. */
  exporter:
    | { kind: 'otlp'; endpoint: string; protocol: OtlpProtocol; compression: OtlpCompression }
    | { kind: 'custom'; exporter: SpanExporter }
    | { kind: 'none'; why: string };
  /** The URL we were configured with, also when it is unusable or unused (never printed unmasked). */
  endpoint: string;
  headers: Record<string, string>;
  exportThread: 'worker' | 'main';
  queue: { maxQueueSize: number; maxExportBatchSize: number; scheduledDelayMillis: number; exportTimeoutMillis: number; maxInFlightBatches: number };
  sampler: Sampler | { name: SamplerName; ratio: number };
  propagators: PropagatorName[];
  spanLimits: Required<SpanLimits>;
  redactQueryKeys: string[];
  spanProcessors: SpanProcessor[];
  httpClient: boolean;
  onOperation: ((rec: OperationRecord) => void) | undefined;
  onFirstExportError: ((err: Error, endpoint: string) => void) | undefined;
}

export function stderrWarn(message: string): void {
  try {
    process.stderr.write(`[tailtrace] ${message}\n`);
  } catch {
    // stderr closed: nothing better to do
  }
}

/** A reporting hook that cannot throw into us, and says everything only once. */
function safeWarn(hook: unknown): Warn {
  const seen = new Set<string>();
  const sink = typeof hook === 'function' ? (hook as Warn) : stderrWarn;
  return (message) => {
    if (seen.has(message)) return;
    seen.add(message);
    try {
      sink(message);
    } catch {
      stderrWarn(message);
    }
  };
}

function fn<T>(value: unknown, name: string, warn: Warn): T | undefined {
  if (value === undefined || typeof value === 'function') return value as T | undefined;
  warn(`option ${name} is not a function (ignored)`);
  return undefined;
}

function isExporter(value: unknown): value is SpanExporter {
  return value !== null && typeof value === 'object' && typeof (value as SpanExporter).export === 'function' && typeof (value as SpanExporter).shutdown === 'function';
}

function isProcessor(value: unknown): value is SpanProcessor {
  const p = value as SpanProcessor;
  return value !== null && typeof value === 'object' && typeof p.onStart === 'function' && typeof p.onEnd === 'function'
    && typeof p.forceFlush === 'function' && typeof p.shutdown === 'function';
}

function isSampler(value: unknown): value is Sampler {
  return value !== null && typeof value === 'object' && typeof (value as Sampler).shouldSample === 'function';
}

function resourceAttributes(options: TracingOptions, env: Env, warn: Warn): Record<string, string | number | boolean> {
  const attrs: Record<string, string | number | boolean> = { ...parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES, warn) };
  const given: unknown = options.resourceAttributes;
  if (given !== undefined && (given === null || typeof given !== 'object')) warn('option resourceAttributes is not an object (ignored)');
  else if (given !== undefined) {
    for (const [k, v] of Object.entries(given)) {
      if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) attrs[k] = v;
      else warn(`option resourceAttributes.${k}=${quote(v)} is not a string, finite number or boolean (ignored)`);
    }
  }
  const serviceName = typeof options.serviceName === 'string' || options.serviceName === undefined ? options.serviceName : undefined;
  if (serviceName === undefined && options.serviceName !== undefined) warn(`option serviceName=${quote(options.serviceName)} is not a string (ignored)`);
  const fromResource = typeof attrs['service.name'] === 'string' ? attrs['service.name'] : undefined;
  const name = resolveServiceName(serviceName, env, fromResource);
  if (name !== undefined) attrs['service.name'] = name;
  return attrs;
}

/** What spans are exported with; an OTLP endpoint is judged (and reported) only when it will be used. */
function exporterChoice(options: TracingOptions, env: Env, explicit: string | undefined, warn: Warn): TracingSettings['exporter'] {
  const given: unknown = options.exporter;
  if (given === 'none') return { kind: 'none', why: 'exporter none' };
  if (isExporter(given)) return { kind: 'custom', exporter: given };
  if (given !== undefined) warn(`option exporter=${quote(given)} is neither 'none' nor a SpanExporter; using OTLP`);
  else if (resolveExporterName(env, warn) === 'none') return { kind: 'none', why: 'exporter none' };
  const endpoint = resolveEndpoint(explicit, env, warn);
  if (endpoint === undefined) return { kind: 'none', why: 'invalid endpoint' };
  return {
    kind: 'otlp', endpoint, protocol: resolveProtocol(options.protocol, env, warn), compression: resolveCompression(options.compression, env, warn),
  };
}

function queueSettings(options: TracingOptions, env: Env, warn: Warn): TracingSettings['queue'] {
  const maxQueueSize = intFromEnv(options.maxQueueSize, env, ['OTEL_BSP_MAX_QUEUE_SIZE'], 2048, warn, 'maxQueueSize');
  let maxExportBatchSize = intFromEnv(options.maxExportBatchSize, env, ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE'], 512, warn, 'maxExportBatchSize');
  if (maxExportBatchSize > maxQueueSize) {
    warn(`the export batch size (${maxExportBatchSize}) is larger than the queue (${maxQueueSize}); using ${maxQueueSize}`);
    maxExportBatchSize = maxQueueSize;
  }
  return {
    maxQueueSize,
    maxExportBatchSize,
    scheduledDelayMillis: intFromEnv(options.scheduledDelayMillis, env, ['OTEL_BSP_SCHEDULE_DELAY'], 1000, warn, 'scheduledDelayMillis'),
    exportTimeoutMillis: intFromEnv(options.exportTimeoutMillis, env,
      ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_BSP_EXPORT_TIMEOUT'], 10_000, warn, 'exportTimeoutMillis'),
    maxInFlightBatches: intFromEnv(options.maxInFlightBatches, {}, [], 2, warn, 'maxInFlightBatches'),
  };
}

function stringList(value: unknown, name: string, warn: Warn): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  warn(`option ${name} is not a list of strings (ignored)`);
  return [];
}

function processors(value: unknown, warn: Warn): SpanProcessor[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    warn('option spanProcessors is not a list (ignored)');
    return [];
  }
  const ok = value.filter(isProcessor);
  if (ok.length !== value.length) warn(`option spanProcessors: ${value.length - ok.length} entr${value.length - ok.length === 1 ? 'y is' : 'ies are'} not a SpanProcessor (ignored)`);
  return ok;
}

function exportThread(value: unknown, warn: Warn): 'worker' | 'main' {
  if (value === undefined || value === 'worker' || value === 'main') return value ?? 'worker';
  warn(`option exportThread=${quote(value)} is neither 'worker' nor 'main'; using worker`);
  return 'worker';
}

export function resolveSettings(options: TracingOptions): TracingSettings {
  const warn = safeWarn(options.onConfigWarning);
  const env: Env = options.env !== null && typeof options.env === 'object' ? options.env : process.env;
  const disabled = options.disabled !== undefined ? options.disabled === true : parseBoolean(env.OTEL_SDK_DISABLED, 'OTEL_SDK_DISABLED', warn);
  const given: unknown = options.endpoint;
  const explicit = given === undefined ? undefined : typeof given === 'string' ? given : String(given);
  const exporter = disabled ? { kind: 'none' as const, why: 'SDK disabled' } : exporterChoice(options, env, explicit, warn);
  const otlp = exporter.kind === 'otlp';
  return {
    env,
    warn,
    resourceAttributes: resourceAttributes(options, env, warn),
    disabled,
    exporter,
    endpoint: otlp ? exporter.endpoint : (explicit ?? resolveEndpoint(undefined, env) ?? ''),
    headers: otlpHeaders(env, otlp ? warn : () => {}),
    exportThread: exportThread(options.exportThread, warn),
    queue: queueSettings(options, env, warn),
    sampler: isSampler(options.sampler)
      ? options.sampler
      : { name: resolveSamplerName(options.sampler, env, warn), ratio: resolveSamplerRatio(options.samplerRatio, env, warn) },
    propagators: resolvePropagators(options.propagators, env, warn),
    spanLimits: resolveSpanLimits(options.spanLimits, env, warn),
    redactQueryKeys: stringList(options.redactQueryKeys, 'redactQueryKeys', warn),
    spanProcessors: processors(options.spanProcessors, warn),
    httpClient: options.httpClient !== false,
    onOperation: fn(options.onOperation, 'onOperation', warn),
    onFirstExportError: fn(options.onFirstExportError, 'onFirstExportError', warn),
  };
}
