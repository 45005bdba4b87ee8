// SDK bootstrap: resolves options against OTEL_* env, builds provider + bounded export, registers
// the context manager, propagator and tracer provider globally (so any library using the OTel
// API parents its spans under ours), and hands out the instrumentations.
import { context, propagation, ProxyTracerProvider, trace } from '@opentelemetry/api';
import type { Tracer, TracerProvider } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import type { Sampler } from '@opentelemetry/sdk-trace';
import type { Interceptor, ServerInterceptor, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { quote } from './env.ts';
import { BoundedSpanProcessor } from './export.ts';
import type { QueueOptions } from './export-loop.ts';
import { createExpressErrorHandler, createExpressMiddleware } from './express.ts';
import type { ExpressErrorMiddleware, ExpressMiddleware } from './express.ts';
import { createClientInterceptor, createServerInterceptor } from './grpc.ts';
import { wrapGrpcService } from './grpc-service.ts';
import { enableHttpClientTracing } from './http-client.ts';
import { whileHeld } from './keep-alive.ts';
import { currentTraceIds, pinoMixin } from './log.ts';
import { OtlpSpanExport } from './otlp-export.ts';
import type { SpanBatch } from './otlp-export.ts';
import { JsonBatch } from './otlp-json.ts';
import { ProtobufBatch } from './otlp-protobuf.ts';
import { OtlpTransport } from './otlp-transport.ts';
import { Pipeline } from './pipeline.ts';
import type { SpanSink } from './pipeline.ts';
import { buildPropagator } from './propagation.ts';
import { maskUrl, scrubSecrets, secretsOf } from './redact.ts';
import { safeEmitter } from './runtime.ts';
import type { Runtime } from './runtime.ts';
import { buildSampler } from './sampler.ts';
import { resolveSettings, stderrWarn } from './settings.ts';
import type { TracingSettings } from './settings.ts';
import { LeanTracerProvider } from './tracer.ts';
import type { ExportStats, TraceIds, TracingOptions } from './types.ts';

export const TRACER_NAME = '@tailtrace/tracing';

export interface Tracing {
  /** Tracer of this instance (a no-op tracer when disabled). */
  readonly tracer: Tracer;
  /** The tracer provider registered with the OpenTelemetry API; undefined when disabled. */
  readonly provider: TracerProvider | undefined;
  readonly serviceName: string;
  /**
   * The OTLP traces URL configured (also when a custom exporter replaces OTLP), for reporting:
   * credentials and secret query values are masked.
   */
  readonly endpoint: string;
  readonly disabled: boolean;
  /**
   * One phrase saying where spans go: the (masked) OTLP URL, 'the configured exporter',
   * 'nowhere (exporter none)', 'nowhere (invalid endpoint)' or 'nowhere (SDK disabled)'.
   */
  readonly exportTarget: string;
  expressMiddleware(): ExpressMiddleware;
  expressErrorHandler(): ExpressErrorMiddleware;
  /** grpc-js ServerInterceptor: `new Server({ interceptors: [tracing.grpcServerInterceptor] })`. */
  readonly grpcServerInterceptor: ServerInterceptor;
  /** grpc-js client Interceptor: `new Client(addr, creds, { interceptors: [tracing.grpcClientInterceptor] })`. */
  readonly grpcClientInterceptor: Interceptor;
  /**
   * The implementation with its unary handlers traced, for `server.addService(service,
   * tracing.grpcService(service, impl))`: those calls skip grpc-js's interceptor layer, the
   * cheapest way to trace them. Keep grpcServerInterceptor on the server for the streaming
   * methods; it steps aside for the wrapped ones.
   */
  grpcService<T extends UntypedServiceImplementation>(service: ServiceDefinition, impl: T): T;
  /** Subscribes fetch/undici and node:http(s) diagnostics channels (idempotent); returns the disposer. */
  enableHttpClientTracing(): () => void;
  stats(): ExportStats;
  /** Exports what is queued; keeps the process alive until done (bounded by the export deadlines). */
  forceFlush(): Promise<void>;
  /**
   * Delivers what is queued, stops exporting and unregisters the global OTel API state. Always
   * resolves within timeoutMs (default 5000), and keeps the process alive until then if nothing
   * else does, so `await tracing.shutdown()` at the end of a script loses no span.
   */
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
  readonly #settings: TracingSettings;
  readonly #rt: Runtime;
  /** Ours and the user's processors; undefined when disabled. */
  readonly #pipeline: Pipeline | undefined;
  /** The export path whose counters stats() reports. */
  readonly #export: (SpanSink & { stats(): ExportStats }) | undefined;
  readonly #registered = { context: false, propagation: false, trace: false };
  #serverInterceptor: ServerInterceptor | undefined;
  #clientInterceptor: Interceptor | undefined;
  #httpDispose: (() => void) | undefined;
  #shutdown: Promise<void> | undefined;

  constructor(options: TracingOptions) {
    const settings = resolveSettings(options ?? {});
    this.#settings = settings;
    const resource = defaultResource().merge(resourceFromAttributes(settings.resourceAttributes));
    this.serviceName = String(resource.attributes['service.name'] ?? 'unknown_service');
    this.endpoint = maskUrl(settings.endpoint);
    this.disabled = settings.disabled;
    this.exportTarget = exportTarget(settings);
    const emit = safeEmitter(settings.onOperation);

    if (this.disabled) {
      // No SDK at all: instrumentations skip span work but still emit OperationRecords.
      this.tracer = new ProxyTracerProvider().getTracer(TRACER_NAME);
      this.provider = undefined;
      this.#pipeline = undefined;
      this.#export = undefined;
      this.#rt = { tracer: this.tracer, enabled: false, emit, grpcWrapped: new Set() };
    } else {
      this.#export = buildExport(settings, resource, this.exportTarget);
      this.#pipeline = new Pipeline(this.#export ? [this.#export] : [], settings.spanProcessors, stderrWarn);
      const sampler: Sampler = 'shouldSample' in settings.sampler ? settings.sampler : buildSampler(settings.sampler.name, settings.sampler.ratio);
      const provider = new LeanTracerProvider({ resource, sampler, limits: settings.spanLimits, pipeline: this.#pipeline });
      this.provider = provider;
      this.tracer = provider.getTracer(TRACER_NAME);
      this.#rt = { tracer: this.tracer, enabled: true, emit, grpcMessageEvents: options.grpcMessageEvents === true, grpcWrapped: new Set() };
      // Each set* returns false if someone else registered first; we then keep using our own
      // tracer directly and leave their registration alone on shutdown.
      this.#registered.context = context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      this.#registered.propagation = propagation.setGlobalPropagator(buildPropagator(settings.propagators));
      this.#registered.trace = trace.setGlobalTracerProvider(provider);
    }
    if (settings.httpClient) this.enableHttpClientTracing();
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

  grpcService<T extends UntypedServiceImplementation>(service: ServiceDefinition, impl: T): T {
    return wrapGrpcService(this.#rt, service, impl);
  }

  enableHttpClientTracing(): () => void {
    if (this.#httpDispose === undefined) {
      const ex = this.#settings.exporter;
      const unsubscribe = enableHttpClientTracing(this.#rt, {
        ignoreUrl: ex.kind === 'otlp' ? ex.endpoint : undefined,
        redactQueryKeys: this.#settings.redactQueryKeys,
      });
      const dispose = (): void => {
        unsubscribe();
        if (this.#httpDispose === dispose) this.#httpDispose = undefined;
      };
      this.#httpDispose = dispose;
    }
    return this.#httpDispose;
  }

  stats(): ExportStats {
    return this.#export?.stats() ?? { exported: 0, dropped: { queueFull: 0, exportFailed: 0 }, queued: 0, inFlightBatches: 0, abandonedBatches: 0 };
  }

  async forceFlush(): Promise<void> {
    if (this.#pipeline === undefined) return;
    // The export loop's flush is bounded by its rounds times the export deadline; the hold is too.
    const q = this.#settings.queue;
    const bound = (Math.ceil(q.maxQueueSize / q.maxExportBatchSize) + 2) * q.exportTimeoutMillis;
    await whileHeld(this.#pipeline.forceFlush(), bound);
  }

  shutdown(timeoutMs: number = 5000): Promise<void> {
    if (this.#shutdown === undefined) {
      let ms = timeoutMs;
      if (typeof ms !== 'number' || !(ms >= 0) || ms === Infinity) {
        this.#settings.warn(`shutdown(${quote(timeoutMs)}): the timeout is not a finite number of milliseconds; using 5000`);
        ms = 5000;
      }
      this.#shutdown = this.#doShutdown(ms);
    }
    return this.#shutdown;
  }

  async #doShutdown(timeoutMs: number): Promise<void> {
    try {
      this.#httpDispose?.();
      // Past the timeout the export stops and its requests end: an in-thread request to a
      // Collector that never answers would otherwise hold the process open after we resolved.
      if (this.#pipeline !== undefined && (await whileHeld(this.#pipeline.shutdown(), timeoutMs)) === 'timeout') this.#pipeline.abandon();
    } finally {
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

function exportTarget(settings: TracingSettings): string {
  const ex = settings.exporter;
  if (ex.kind === 'otlp') return maskUrl(ex.endpoint);
  if (ex.kind === 'custom') return 'the configured exporter';
  return `nowhere (${ex.why})`;
}

/** Where sampled spans are exported: OTLP (encoded as they end), a user's exporter, or nowhere. */
function buildExport(settings: TracingSettings, resource: Resource, target: string): (SpanSink & { stats(): ExportStats }) | undefined {
  const ex = settings.exporter;
  if (ex.kind === 'none') return undefined;
  const queue: QueueOptions = { ...settings.queue, onFirstExportError: firstExportErrorReporter(settings, target) };
  if (ex.kind === 'custom') return new BoundedSpanProcessor(ex.exporter, queue);
  const batch: SpanBatch = ex.protocol === 'http/json' ? new JsonBatch(resource) : new ProtobufBatch(resource);
  const transport = new OtlpTransport({
    url: ex.endpoint, headers: settings.headers, timeoutMs: settings.queue.exportTimeoutMillis, contentType: batch.contentType,
    compression: ex.compression, maxInFlight: settings.queue.maxInFlightBatches, thread: settings.exportThread,
  });
  return new OtlpSpanExport(batch, transport, queue);
}

/** The first failed export is reported once, with credentials and header values masked. */
function firstExportErrorReporter(settings: TracingSettings, target: string): (err: Error) => void {
  const secrets = settings.exporter.kind === 'otlp' ? secretsOf(settings.exporter.endpoint, settings.headers) : [];
  const hook = settings.onFirstExportError;
  return (err) => {
    const message = scrubSecrets(err.message, secrets);
    if (hook !== undefined) {
      hook(new Error(message), target);
      return;
    }
    stderrWarn(`span export to ${target} failed (${message}); spans are dropped and counted in stats() until it recovers`);
  };
}

/** Whether the active span is sampled (false when there is none). */
export function isSampled(): boolean {
  const span = trace.getActiveSpan();
  return span !== undefined && (span.spanContext().traceFlags & 1) === 1;
}
