import type { IncomingMessage, ServerResponse } from 'node:http';
import { createTracing, onShutdownSignal, resolveShutdownOnSignal } from '@tailtrace/tracing';
import type { Tracing, TracingOptions, OperationRecord } from '@tailtrace/tracing';
import { createMetrics } from '@tailtrace/metrics';
import type { Metrics, MetricsOptions } from '@tailtrace/metrics';
import { createProfiler } from '@tailtrace/profiler';
import type { EvidenceOptions, Profiler } from '@tailtrace/profiler';
import { appWithoutToken, createEndpoints, firstToken } from './endpoints.ts';
import type { Endpoints, EndpointsConfig, Where } from './endpoints.ts';
import { listenMetrics } from './metrics-server.ts';
import type { MetricsServer } from './metrics-server.ts';
import { prometheusEnv } from './prometheus-env.ts';
import { offOnUnsupportedNode } from './unsupported-node.ts';

export type { MetricsServer } from './metrics-server.ts';

export interface InstrumentOptions {
  /** Service name; falls back to OTEL_SERVICE_NAME. */
  serviceName?: string;
  /** OTLP/HTTP base URL (e.g. http://localhost:4318); falls back to OTEL_EXPORTER_OTLP_ENDPOINT. */
  otlpEndpoint?: string;
  /**
   * Also answer the Prometheus scrape on the app port, at this path (e.g. `'/metrics'`), to
   * anyone who reaches it. Default: not on the app port (it shows route names and exemplar
   * trace IDs); the metrics server (`startMetricsServer()`, or OTEL_EXPORTER_PROMETHEUS_PORT)
   * serves it, at this path when one is given, else at `/metrics`.
   */
  metricsPath?: string | false;
  /** Passed to @tailtrace/tracing (sampler, propagators, exporter, queue sizes, ...). */
  tracing?: Omit<TracingOptions, 'onOperation'>;
  /** Passed to @tailtrace/metrics (buckets, HDR window, series cap, runtime metrics, ...). */
  metrics?: MetricsOptions;
  /**
   * Continuous sampling heap profile (V8's sampling heap profiler, mean interval 512 KiB), served
   * as gzipped pprof at `/debug/pprof/heap` and put in every evidence bundle. `false` turns it off
   * (so does TAILTRACE_HEAP_PROFILE=off).
   */
  heapProfile?: false | { intervalBytes?: number; stackDepth?: number };
  /**
   * Evidence capture (@tailtrace/profiler): P99-regression / heap-growth / heap-limit triggers
   * judged every HDR window, scheduled baseline bundles, guarded snapshots, the token-protected
   * POST /debug/tailtrace/evidence. Its window defaults to the metrics HDR window. `false` turns
   * it off (so does TAILTRACE_EVIDENCE=off).
   */
  evidence?: false | EvidenceOptions;
  /**
   * Where `/debug/pprof/*` is answered: on the metrics server only (default: profiles show code
   * paths, file names and versions; keep them on the internal port), also on the app port
   * (`'app'`: only with a debug token, and only to requests that carry it), or nowhere (`false`).
   */
  pprof?: Where;
  /**
   * Where POST /debug/tailtrace/evidence is answered (always with the token; off without one):
   * on the metrics server (default), also on the app port (`'app'`), or nowhere (`false`).
   */
  evidenceEndpoint?: Where;
  /**
   * Bearer token of the debug endpoints: every request for them on the app port must carry
   * `Authorization: Bearer <token>`, and so must an evidence request anywhere. Default: env
   * TAILTRACE_DEBUG_TOKEN, else the evidence token (`evidence.token`, TAILTRACE_EVIDENCE_TOKEN).
   */
  debugToken?: string;
  /** No startup line on stderr. */
  quiet?: boolean;
  /**
   * On SIGTERM/SIGINT, deliver the queued spans (`shutdown(timeoutMs)`, default 5000 ms), then let
   * the signal end the process as it would have. If the application handles the signal itself,
   * spans are only flushed and the application stays in charge (call `shutdown()` from its
   * handler). Off by default; env TAILTRACE_SHUTDOWN_ON_SIGNAL=1 turns it on.
   */
  shutdownOnSignal?: boolean | { timeoutMs?: number };
}

type Next = (err?: unknown) => void;
type ErrorMiddleware = (err: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => void;

/**
 * What `instrument()` returns: an express middleware (so `app.use(instrument())` is all an
 * express service needs) that also carries everything a gRPC service or a custom HTTP server
 * needs.
 */
export interface Instrumentation {
  (req: IncomingMessage, res: ServerResponse, next: Next): void;
  readonly serviceName: string;
  readonly tracing: Tracing;
  readonly metrics: Metrics;
  readonly profiler: Profiler;
  readonly grpcServerInterceptor: Tracing['grpcServerInterceptor'];
  readonly grpcClientInterceptor: Tracing['grpcClientInterceptor'];
  /**
   * The service implementation with its unary handlers traced without an interceptor layer:
   * `server.addService(def.service, tt.grpcService(def.service, impl))`, the cheapest way to
   * trace them. Keep `grpcServerInterceptor` on the server for streaming methods.
   */
  readonly grpcService: Tracing['grpcService'];
  /**
   * express error middleware: `app.use(tt.errorHandler)` after the routes records the class of an
   * error passed to `next(err)` as `error.type` on the request's span (without it, a 5xx is
   * still an error, with its status code as the type). It passes the error on unchanged.
   */
  readonly errorHandler: ErrorMiddleware;
  /** Plain node:http / express handler answering the Prometheus scrape (content-negotiated). */
  readonly metricsHandler: (req: IncomingMessage, res: ServerResponse) => void;
  /** pino `mixin`: adds trace_id, span_id and trace_flags of the active span to each log line. */
  readonly logMixin: () => Record<string, string>;
  /**
   * Starts the metrics server: `/metrics`, `/debug/pprof/*` (unless `pprof: false`) and the
   * evidence endpoint, on its own port (default: any free one) on 127.0.0.1 unless `host` says
   * otherwise. When OTEL_EXPORTER_PROMETHEUS_HOST/PORT started one, a call without a port (or
   * with that port) returns it.
   */
  startMetricsServer(options?: { port?: number; host?: string }): Promise<MetricsServer>;
  /**
   * Delivers the queued spans, stops timers and metric servers. Always resolves within timeoutMs
   * (default 5000) and keeps the process alive until then if nothing else does, so
   * `await tt.shutdown()` at the end of a script (CommonJS, ESM top-level await, `beforeExit`)
   * loses no span.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

// On globalThis so that two copies of this module (ESM and CJS, or two versions in one
// process) still share one instrumentation: calling instrument() twice must not double-count.
const kCurrent = Symbol.for('tailtrace.instrumentation');
type GlobalSlot = { [kCurrent]?: Instrumentation };

/** The instrumentation of this process, if `instrument()` was called. */
export function currentInstrumentation(): Instrumentation | undefined {
  return (globalThis as GlobalSlot)[kCurrent];
}

/**
 * Wires tracing (spans + propagation + OTLP export) and metrics (RED histograms with exemplars,
 * HDR windows, runtime) into one object. Idempotent per process: a second call returns the
 * first instrumentation.
 */
export function instrument(options: InstrumentOptions = {}): Instrumentation {
  // Too old a Node: one line on stderr, and an instrumentation that does nothing.
  const off = offOnUnsupportedNode(options);
  if (off !== undefined) return off;
  const existing = currentInstrumentation();
  if (existing) return existing;

  const metrics = createMetrics(options.metrics);
  const record = (rec: OperationRecord): void => metrics.record(rec);
  const tracingOptions: TracingOptions = { ...options.tracing, onOperation: record };
  if (options.serviceName !== undefined) tracingOptions.serviceName = options.serviceName;
  // A base URL as in OTEL_EXPORTER_OTLP_ENDPOINT; the traces path is appended the same way.
  if (options.otlpEndpoint !== undefined) tracingOptions.endpoint = `${options.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`;
  const tracing = createTracing(tracingOptions);
  metrics.setSpanStatsSource(() => tracing.stats());

  const evidenceOn = process.env.TAILTRACE_EVIDENCE !== 'off' && options.evidence !== false;
  const token = firstToken(options.debugToken, options.evidence ? options.evidence.token : undefined,
    process.env.TAILTRACE_DEBUG_TOKEN, process.env.TAILTRACE_EVIDENCE_TOKEN);
  const profiler = createProfiler({
    serviceName: tracing.serviceName,
    latency: metrics.hdr,
    heapSampling: process.env.TAILTRACE_HEAP_PROFILE === 'off' ? false : (options.heapProfile ?? {}),
    evidence: evidenceOn
      ? { windowMs: options.metrics?.hdr?.windowMs ?? 60_000, ...options.evidence, ...(token !== undefined ? { token } : {}) }
      : false,
    onTrigger: (kind) => metrics.evidence.trigger(kind),
    onSnapshot: (result) => metrics.evidence.snapshot(result),
    onBlip: (kind) => metrics.evidence.blip(kind),
  });
  const metricsPath = options.metricsPath ?? false;
  const metricsHandler = metrics.handler();
  const endpoints = endpointsFor(options, evidenceOn ? (options.evidenceEndpoint ?? 'metrics-server') : false, token, {
    appMetricsPath: metricsPath,
    serverMetricsPath: metricsPath || '/metrics',
    sampler: profiler.sampler,
    metrics: metricsHandler,
    evidenceHandler: profiler.handler(),
    onRefused: (what) => metrics.evidence.refused(what),
  });
  const traced = tracing.expressMiddleware();
  const servers = new Set<MetricsServer>();

  // Mounted twice (or on a router and the app) is handled by the tracing middleware: the first
  // mount owns the request, later ones just call next().
  const middleware = function tailtrace(req: IncomingMessage, res: ServerResponse, next: Next): void {
    if (endpoints.app(req, res)) return;
    traced(req, res, next);
  } as Instrumentation;

  const serviceName = tracing.serviceName;
  let shutDown: Promise<void> | undefined;
  let removeSignalHandlers: (() => void) | undefined;
  const startServer = async (port: number, host: string, unref: boolean): Promise<MetricsServer> => {
    const server = await listenMetrics(endpoints.server, { port, host, path: metricsPath || '/metrics', unref });
    // Shut down while it was starting: it must not outlive the instrumentation.
    if (shutDown !== undefined) await server.close();
    else servers.add(server);
    return server;
  };
  const fromEnv = startFromEnv(startServer, options.quiet ? undefined : serviceName);
  Object.defineProperties(middleware, {
    serviceName: { value: serviceName, enumerable: true },
    tracing: { value: tracing, enumerable: true },
    metrics: { value: metrics, enumerable: true },
    profiler: { value: profiler, enumerable: true },
    grpcServerInterceptor: { value: tracing.grpcServerInterceptor, enumerable: true },
    grpcClientInterceptor: { value: tracing.grpcClientInterceptor, enumerable: true },
    grpcService: { value: tracing.grpcService.bind(tracing), enumerable: true },
    errorHandler: { value: tracing.expressErrorHandler(), enumerable: true },
    metricsHandler: { value: metricsHandler, enumerable: true },
    logMixin: { value: tracing.pinoMixin(), enumerable: true },
    startMetricsServer: {
      value: (opts: { port?: number; host?: string } = {}): Promise<MetricsServer> => {
        if (fromEnv !== undefined && (opts.port === undefined || opts.port === fromEnv.port)) return fromEnv.server;
        return startServer(opts.port ?? 0, opts.host ?? '127.0.0.1', false);
      },
    },
    shutdown: {
      value: (timeoutMs = 5000): Promise<void> => {
        shutDown ??= (async () => {
          if ((globalThis as GlobalSlot)[kCurrent] === middleware) delete (globalThis as GlobalSlot)[kCurrent];
          removeSignalHandlers?.();
          const ms = typeof timeoutMs === 'number' && timeoutMs >= 0 && timeoutMs < Infinity ? timeoutMs : 5000;
          const until = Date.now() + ms;
          // The spans get the whole budget (tracing.shutdown keeps the process alive until they are
          // delivered or the time is up); servers and profiler stop meanwhile, not waited for past it.
          const others = Promise.allSettled([...[...servers].map((s) => s.close()), Promise.resolve().then(() => profiler.stop())]);
          await tracing.shutdown(ms);
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([others, new Promise((r) => { timer = setTimeout(r, Math.max(0, until - Date.now())); })]);
          clearTimeout(timer);
          metrics.close();
        })();
        return shutDown;
      },
    },
  });
  (globalThis as GlobalSlot)[kCurrent] = middleware;
  const onSignal = resolveShutdownOnSignal(options.shutdownOnSignal, process.env, (m) => process.stderr.write(`[tailtrace] ${m}\n`));
  removeSignalHandlers = onSignal && onShutdownSignal({ shutdown: () => middleware.shutdown(onSignal.timeoutMs), flush: () => tracing.forceFlush() });
  // exportTarget is masked: no credentials or secret query values in logs.
  if (!options.quiet) process.stderr.write(`[tailtrace] ${serviceName}: spans -> ${tracing.exportTarget}${onSignal ? ' (flushed on SIGTERM/SIGINT)' : ''}\n`);
  return middleware;
}

/** What each port serves; one line on stderr when a debug endpoint was asked on the app port without a token. */
function endpointsFor(
  options: InstrumentOptions,
  evidence: Where,
  token: string | undefined,
  rest: Omit<EndpointsConfig, 'pprof' | 'evidence' | 'token'>,
): Endpoints {
  const where = { pprof: options.pprof ?? 'metrics-server', evidence, token };
  const noToken = appWithoutToken(where);
  if (noToken !== undefined) process.stderr.write(`[tailtrace] ${noToken}\n`);
  return createEndpoints({ ...where, ...rest });
}

/**
 * OTEL_EXPORTER_PROMETHEUS_HOST/PORT start the metrics server without a code change. It is
 * unref'd: a script that would otherwise end must not be kept alive by it.
 */
function startFromEnv(
  start: (port: number, host: string, unref: boolean) => Promise<MetricsServer>,
  announceAs: string | undefined,
): { port: number; server: Promise<MetricsServer> } | undefined {
  const env = prometheusEnv();
  if (env === undefined) return undefined;
  if ('error' in env) {
    process.stderr.write(`[tailtrace] ${env.error}\n`);
    return undefined;
  }
  const server = start(env.port, env.host, true);
  server.then(
    (s) => {
      if (announceAs !== undefined) process.stderr.write(`[tailtrace] ${announceAs}: metrics -> ${s.url}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`[tailtrace] OTEL_EXPORTER_PROMETHEUS_PORT: no metrics server on ${env.host}:${env.port}: ${(err as Error).message}\n`);
    },
  );
  return { port: env.port, server };
}
