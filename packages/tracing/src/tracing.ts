// SDK bootstrap: resolves options against OTEL_* env, builds provider + bounded export, registers
// the context manager, propagator and tracer provider globally (so any library using the OTel
// API parents its spans under ours), and hands out the instrumentations.
import { context, propagation, ProxyTracerProvider, trace } from '@opentelemetry/api';
import type { Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import type { Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Interceptor, ServerInterceptor } from '@grpc/grpc-js';
import {
  intFromEnv, otlpHeaders, parseBoolean, parseResourceAttributes, resolveEndpoint, resolveExporterName, resolvePropagators,
  resolveSamplerName, resolveSamplerRatio, resolveServiceName,
} from './env.ts';
import { BoundedSpanProcessor } from './export.ts';
import { WorkerOtlpExporter } from './worker-exporter.ts';
import { createExpressErrorHandler, createExpressMiddleware } from './express.ts';
import type { ExpressErrorMiddleware, ExpressMiddleware } from './express.ts';
import { createClientInterceptor, createServerInterceptor } from './grpc.ts';
import { enableHttpClientTracing } from './http-client.ts';
import { currentTraceIds, pinoMixin } from './log.ts';
import { buildPropagator } from './propagation.ts';
import { safeEmitter } from './runtime.ts';
import type { Runtime } from './runtime.ts';
import { buildSampler } from './sampler.ts';
import type { ExportStats, TraceIds, TracingOptions } from './types.ts';

export const TRACER_NAME = '@tailtrace/tracing';

export interface Tracing {
  /** Tracer of this instance (a no-op tracer when disabled). */
  readonly tracer: Tracer;
  /** The SDK provider; undefined when disabled. */
  readonly provider: TracerProvider | undefined;
  readonly serviceName: string;
  /** Where spans are exported (also when a custom exporter replaces OTLP, for reporting). */
  readonly endpoint: string;
  readonly disabled: boolean;
  /** One phrase saying where spans go: the OTLP URL, 'the configured exporter', 'nowhere (exporter none)' or 'nowhere (SDK disabled)'. */
  readonly exportTarget: string;
  expressMiddleware(): ExpressMiddleware;
  expressErrorHandler(): ExpressErrorMiddleware;
  /** grpc-js ServerInterceptor: `new Server({ interceptors: [tracing.grpcServerInterceptor] })`. */
  readonly grpcServerInterceptor: ServerInterceptor;
  /** grpc-js client Interceptor: `new Client(addr, creds, { interceptors: [tracing.grpcClientInterceptor] })`. */
  readonly grpcClientInterceptor: Interceptor;
  /** Subscribes fetch/undici and node:http(s) diagnostics channels (idempotent); returns the disposer. */
  enableHttpClientTracing(): () => void;
  stats(): ExportStats;
  forceFlush(): Promise<void>;
  /** Flushes (bounded by timeoutMs), stops exporting and unregisters the global OTel API state. */
  shutdown(timeoutMs?: number): Promise<void>;
  currentTraceIds(): TraceIds;
  pinoMixin(): () => TraceIds;
  /** Whether the active span (or the given one's context) is sampled. */
  isSampled(): boolean;
}

let current: TracingImpl | undefined;

/**
 * Creates and globally registers the tracing SDK. Calling it again while an instance is live
 * returns that same instance and ignores the new options (instrumenting twice would double
 * every span); call `shutdown()` first to start over with different options.
 */
export function createTracing(options: TracingOptions = {}): Tracing {
  if (current !== undefined) return current;
  current = new TracingImpl(options);
  return current;
}

class TracingImpl implements Tracing {
  readonly tracer: Tracer;
  readonly provider: TracerProvider | undefined;
  readonly serviceName: string;
  readonly endpoint: string;
  readonly disabled: boolean;
  readonly exportTarget: string;
  readonly #rt: Runtime;
  readonly #processor: BoundedSpanProcessor | undefined;
  readonly #registered = { context: false, propagation: false, trace: false };
  #serverInterceptor: ServerInterceptor | undefined;
  #clientInterceptor: Interceptor | undefined;
  #httpDispose: (() => void) | undefined;
  #shutdown: Promise<void> | undefined;

  constructor(options: TracingOptions) {
    const env = options.env ?? process.env;
    const envAttrs = parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES);
    const attrs: Record<string, string | number | boolean> = { ...envAttrs, ...options.resourceAttributes };
    const fromResource = typeof attrs['service.name'] === 'string' ? attrs['service.name'] : undefined;
    const serviceName = resolveServiceName(options.serviceName, env, fromResource);
    if (serviceName !== undefined) attrs['service.name'] = serviceName;
    const resource = defaultResource().merge(resourceFromAttributes(attrs));
    this.serviceName = String(resource.attributes['service.name'] ?? 'unknown_service');
    this.endpoint = resolveEndpoint(options.endpoint, env);
    this.disabled = options.disabled ?? parseBoolean(env.OTEL_SDK_DISABLED);
    const emit = safeEmitter(options.onOperation);

    if (this.disabled) {
      // No SDK at all: instrumentations skip span work but still emit OperationRecords.
      this.tracer = new ProxyTracerProvider().getTracer(TRACER_NAME);
      this.provider = undefined;
      this.#processor = undefined;
      this.exportTarget = 'nowhere (SDK disabled)';
      this.#rt = { tracer: this.tracer, enabled: false, emit };
    } else {
      const exportTimeoutMillis = intFromEnv(options.exportTimeoutMillis, env,
        ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_BSP_EXPORT_TIMEOUT'], 10_000);
      const none = options.exporter === 'none' || (options.exporter === undefined && resolveExporterName(env) === 'none');
      const custom = typeof options.exporter === 'object' ? options.exporter : undefined;
      this.exportTarget = none ? 'nowhere (exporter none)' : custom !== undefined ? 'the configured exporter' : this.endpoint;
      const processors: SpanProcessor[] = [];
      if (none) {
        this.#processor = undefined;
      } else {
        const inThread = (): SpanExporter =>
          new OTLPTraceExporter({ url: this.endpoint, timeoutMillis: exportTimeoutMillis, concurrencyLimit: 2, headers: otlpHeaders(env) });
        const exporter = custom ?? (options.exportThread === 'main'
          ? inThread()
          : new WorkerOtlpExporter(this.endpoint, exportTimeoutMillis, otlpHeaders(env), inThread));
        const endpoint = this.exportTarget;
        const onFirstExportError = options.onFirstExportError ?? ((err: Error) => {
          process.stderr.write(`[tailtrace] span export to ${endpoint} failed (${err.message}); spans are dropped and counted in stats() until it recovers\n`);
        });
        this.#processor = new BoundedSpanProcessor(exporter, {
          maxQueueSize: intFromEnv(options.maxQueueSize, env, ['OTEL_BSP_MAX_QUEUE_SIZE'], 2048),
          maxExportBatchSize: intFromEnv(options.maxExportBatchSize, env, ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE'], 512),
          scheduledDelayMillis: intFromEnv(options.scheduledDelayMillis, env, ['OTEL_BSP_SCHEDULE_DELAY'], 1000),
          exportTimeoutMillis,
          onFirstExportError: (err) => onFirstExportError(err, endpoint),
        });
        processors.push(this.#processor);
      }
      processors.push(...(options.spanProcessors ?? []));
      const sampler: Sampler = typeof options.sampler === 'object'
        ? options.sampler
        : buildSampler(resolveSamplerName(options.sampler, env), resolveSamplerRatio(options.samplerRatio, env));
      this.provider = new TracerProvider({ resource, sampler, spanProcessors: processors });
      this.tracer = this.provider.getTracer(TRACER_NAME);
      this.#rt = { tracer: this.tracer, enabled: true, emit };
      // Each set* returns false if someone else registered first; we then keep using our own
      // tracer directly and leave their registration alone on shutdown.
      this.#registered.context = context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      this.#registered.propagation = propagation.setGlobalPropagator(buildPropagator(resolvePropagators(options.propagators, env)));
      this.#registered.trace = trace.setGlobalTracerProvider(this.provider);
    }
    if (options.httpClient !== false) this.enableHttpClientTracing();
  }

  expressMiddleware(): ExpressMiddleware {
    return createExpressMiddleware(this.#rt);
  }

  expressErrorHandler(): ExpressErrorMiddleware {
    return createExpressErrorHandler();
  }

  get grpcServerInterceptor(): ServerInterceptor {
    this.#serverInterceptor ??= createServerInterceptor(this.#rt);
    return this.#serverInterceptor;
  }

  get grpcClientInterceptor(): Interceptor {
    this.#clientInterceptor ??= createClientInterceptor(this.#rt);
    return this.#clientInterceptor;
  }

  enableHttpClientTracing(): () => void {
    if (this.#httpDispose === undefined) {
      const unsubscribe = enableHttpClientTracing(this.#rt, { ignoreUrl: this.endpoint });
      const dispose = (): void => {
        unsubscribe();
        if (this.#httpDispose === dispose) this.#httpDispose = undefined;
      };
      this.#httpDispose = dispose;
    }
    return this.#httpDispose;
  }

  stats(): ExportStats {
    return this.#processor?.stats() ?? { exported: 0, dropped: { queueFull: 0, exportFailed: 0 }, queued: 0 };
  }

  async forceFlush(): Promise<void> {
    await this.#processor?.forceFlush();
  }

  shutdown(timeoutMs = 5000): Promise<void> {
    this.#shutdown ??= this.#doShutdown(timeoutMs);
    return this.#shutdown;
  }

  async #doShutdown(timeoutMs: number): Promise<void> {
    this.#httpDispose?.();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    try {
      if (this.provider !== undefined) await Promise.race([this.provider.shutdown().catch(() => undefined), timeout]);
    } finally {
      clearTimeout(timer);
      if (this.#registered.trace) trace.disable();
      if (this.#registered.propagation) propagation.disable();
      if (this.#registered.context) context.disable();
      if (current === this) current = undefined;
    }
  }

  currentTraceIds(): TraceIds {
    return currentTraceIds();
  }

  pinoMixin(): () => TraceIds {
    return pinoMixin();
  }

  isSampled(): boolean {
    return isSampled();
  }
}

/** Whether the active span is sampled (false when there is none). */
export function isSampled(): boolean {
  const span = trace.getActiveSpan();
  return span !== undefined && (span.spanContext().traceFlags & 1) === 1;
}
