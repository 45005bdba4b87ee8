import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTracing } from '@tailtrace/tracing';
import type { Tracing, TracingOptions, OperationRecord } from '@tailtrace/tracing';
import { createMetrics } from '@tailtrace/metrics';
import type { Metrics, MetricsOptions } from '@tailtrace/metrics';
import { createProfiler } from '@tailtrace/profiler';
import type { EvidenceOptions, Profiler } from '@tailtrace/profiler';

export interface InstrumentOptions {
  /** Service name; falls back to OTEL_SERVICE_NAME. */
  serviceName?: string;
  /** OTLP/HTTP base URL (e.g. http://localhost:4318); falls back to OTEL_EXPORTER_OTLP_ENDPOINT. */
  otlpEndpoint?: string;
  /**
   * Path the express middleware answers with the Prometheus exposition (default `/metrics`);
   * `false` to leave it to the application (use `metricsHandler` or `startMetricsServer`).
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
   * paths, keep them on the internal port), or also by the express middleware (`'app'`), or nowhere.
   */
  pprof?: 'metrics-server' | 'app' | false;
  /** No startup line on stderr. */
  quiet?: boolean;
}

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
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
   * express error middleware: `app.use(tt.errorHandler)` after the routes records the class of an
   * error passed to `next(err)` as `error.type` on the request's span (without it, a 5xx is
   * still an error, with its status code as the type). It passes the error on unchanged.
   */
  readonly errorHandler: ErrorMiddleware;
  /** Plain node:http / express handler answering the Prometheus scrape (content-negotiated). */
  readonly metricsHandler: (req: IncomingMessage, res: ServerResponse) => void;
  /** pino `mixin`: adds trace_id, span_id and trace_flags of the active span to each log line. */
  readonly logMixin: () => Record<string, string>;
  /** Serves `/metrics` on its own port (gRPC-only services have no express app). */
  startMetricsServer(options?: { port?: number; host?: string }): Promise<MetricsServer>;
  /** Flushes spans (bounded by timeoutMs), stops timers and metric servers. */
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

  const profiler = createProfiler({
    serviceName: tracing.serviceName,
    latency: metrics.hdr,
    heapSampling: process.env.TAILTRACE_HEAP_PROFILE === 'off' ? false : (options.heapProfile ?? {}),
    evidence: process.env.TAILTRACE_EVIDENCE === 'off' || options.evidence === false
      ? false
      : { windowMs: options.metrics?.hdr?.windowMs ?? 60_000, ...options.evidence },
    onTrigger: (kind) => metrics.evidence.trigger(kind),
    onSnapshot: (result) => metrics.evidence.snapshot(result),
  });
  const pprofWhere = options.pprof ?? 'metrics-server';
  const debugHandler = profiler.handler();
  // The metrics server answers the evidence endpoint and (unless off) /debug/pprof; the app
  // answers the evidence endpoint (404 without a token) and /debug/pprof only when asked to.
  const serverDebug = (req: IncomingMessage, res: ServerResponse): boolean =>
    (pprofWhere !== false || !isUnder(req.url, '/debug/pprof')) && debugHandler(req, res);
  const appDebug = (req: IncomingMessage, res: ServerResponse): boolean =>
    (pprofWhere === 'app' || !isUnder(req.url, '/debug/pprof')) && debugHandler(req, res);

  const metricsPath = options.metricsPath === undefined ? '/metrics' : options.metricsPath;
  const metricsHandler = metrics.handler();
  const traced = tracing.expressMiddleware();
  const servers = new Set<MetricsServer>();

  // Mounted twice (or on a router and the app) is handled by the tracing middleware: the first
  // mount owns the request, later ones just call next().
  const middleware = function tailtrace(req: IncomingMessage, res: ServerResponse, next: Next): void {
    if (metricsPath !== false && req.method === 'GET' && isPath(req.url, metricsPath)) {
      metricsHandler(req, res);
      return;
    }
    if (isUnder(req.url, '/debug') && appDebug(req, res)) return;
    traced(req, res, next);
  } as Instrumentation;

  const serviceName = tracing.serviceName;
  let shutDown: Promise<void> | undefined;
  Object.defineProperties(middleware, {
    serviceName: { value: serviceName, enumerable: true },
    tracing: { value: tracing, enumerable: true },
    metrics: { value: metrics, enumerable: true },
    profiler: { value: profiler, enumerable: true },
    grpcServerInterceptor: { value: tracing.grpcServerInterceptor, enumerable: true },
    grpcClientInterceptor: { value: tracing.grpcClientInterceptor, enumerable: true },
    errorHandler: { value: tracing.expressErrorHandler(), enumerable: true },
    metricsHandler: { value: metricsHandler, enumerable: true },
    logMixin: { value: tracing.pinoMixin(), enumerable: true },
    startMetricsServer: {
      value: async (opts: { port?: number; host?: string } = {}): Promise<MetricsServer> => {
        const server = await listenMetrics(metricsHandler, serverDebug, metricsPath || '/metrics', opts.port ?? 0, opts.host ?? '127.0.0.1');
        servers.add(server);
        return server;
      },
    },
    shutdown: {
      value: (timeoutMs = 5000): Promise<void> => {
        shutDown ??= (async () => {
          if ((globalThis as GlobalSlot)[kCurrent] === middleware) delete (globalThis as GlobalSlot)[kCurrent];
          await Promise.allSettled([...servers].map((s) => s.close()));
          await profiler.stop().catch(() => {});
          await tracing.shutdown(timeoutMs);
          metrics.close();
        })();
        return shutDown;
      },
    },
  });
  (globalThis as GlobalSlot)[kCurrent] = middleware;
  if (!options.quiet) process.stderr.write(`[tailtrace] ${serviceName}: spans -> ${tracing.exportTarget}\n`);
  return middleware;
}

/** `url` is `prefix` or below it (`/debug/pprof`, `/debug/pprof/heap?x`). */
function isUnder(url: string | undefined, prefix: string): boolean {
  return url !== undefined && url.startsWith(prefix) && (url.length === prefix.length || '/?'.includes(url[prefix.length]!));
}

function isPath(url: string | undefined, path: string): boolean {
  if (url === undefined || !url.startsWith(path)) return false;
  const rest = url.charCodeAt(path.length);
  return Number.isNaN(rest) || rest === 63 /* ? */;
}

function listenMetrics(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  debug: (req: IncomingMessage, res: ServerResponse) => boolean,
  path: string,
  port: number,
  host: string,
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && isPath(req.url, path)) return handler(req, res);
    if (debug(req, res)) return;
    res.statusCode = 404;
    res.end('not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address() as AddressInfo;
      const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve({
        url: `http://${shown}:${addr.port}${path}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
