// What instrument() is on a Node older than the oldest this release supports: one line on stderr
// and an inert instrumentation, so the service runs exactly as it would without it (the
// middleware calls next(), the gRPC interceptors pass calls through, shutdown() resolves, no port
// is opened, nothing is exported) instead of running code paths nothing tests on that Node. The
// packages still *load* there (ES2023, no newer API at import time), so the import cannot fail
// before this check runs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProxyTracerProvider } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import type { Tracing } from '@tailtrace/tracing';
import { PROMETHEUS_CONTENT_TYPE } from '@tailtrace/metrics';
import type { Metrics } from '@tailtrace/metrics';
import type { Profiler } from '@tailtrace/profiler';
import type { Instrumentation, InstrumentOptions } from './instrument.ts';

/** The oldest supported Node: `engines.node` of every @tailtrace package says the same (tested). */
export const MIN_NODE_VERSION = '22.15.0';

function parts(version: string): number[] {
  return version.replace(/^v/, '').split(/[.+-]/, 3).map((n) => Number.parseInt(n, 10) || 0);
}

/** `version` (e.g. process.versions.node, '20.20.2', 'v24.1.0') is below `min`. */
export function isOlderThan(version: string, min: string): boolean {
  const a = parts(version);
  const b = parts(min);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return false;
}

export function unsupportedNodeMessage(version: string): string {
  return `[tailtrace] Node ${version} is older than ${MIN_NODE_VERSION}, the oldest version tailtrace supports: ` +
    'instrumentation is off (no traces, metrics or profiles), the service runs as without it';
}

let inert: Instrumentation | undefined;

/**
 * On a Node older than MIN_NODE_VERSION: prints one line (once per process) and returns the inert
 * instrumentation (the same one on every call, as instrument() does); undefined otherwise.
 */
export function offOnUnsupportedNode(options: InstrumentOptions, version: string = process.versions.node): Instrumentation | undefined {
  if (!isOlderThan(version, MIN_NODE_VERSION)) return undefined;
  if (inert === undefined) {
    process.stderr.write(`${unsupportedNodeMessage(version)}\n`);
    inert = inertInstrumentation(options.serviceName ?? process.env.OTEL_SERVICE_NAME ?? 'unknown_service', unsupportedNodeMessage(version));
  }
  return inert;
}

type Next = (err?: unknown) => void;

/** An Instrumentation that does nothing and costs nothing; `reason` is what a scrape of metricsHandler answers. */
export function inertInstrumentation(serviceName: string, reason: string): Instrumentation {
  const passThrough = (_req: IncomingMessage, _res: ServerResponse, next: Next): void => next();
  const passError = (err: unknown, _req: IncomingMessage, _res: ServerResponse, next: Next): void => next(err);
  const metricsHandler = (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${reason}\n`);
  };
  // grpc-js chains server interceptors over ServerInterceptingCallInterface and client ones over
  // InterceptingCallInterface; handing the call on unchanged is a pass-through. The declared
  // return types name grpc-js classes, which only grpc-js itself can construct.
  const grpcServerInterceptor = ((_method: unknown, call: unknown) => call) as unknown as Tracing['grpcServerInterceptor'];
  const grpcClientInterceptor = ((options: unknown, nextCall: (o: unknown) => unknown) => nextCall(options)) as unknown as Tracing['grpcClientInterceptor'];

  const tracing: Tracing = {
    tracer: new ProxyTracerProvider().getTracer('@tailtrace/tracing'),
    provider: undefined,
    serviceName,
    endpoint: '',
    disabled: true,
    exportTarget: 'nowhere (Node too old)',
    expressMiddleware: () => passThrough,
    expressErrorHandler: () => passError,
    grpcServerInterceptor,
    grpcClientInterceptor,
    grpcService: (_service, impl) => impl,
    enableHttpClientTracing: () => () => {},
    stats: () => ({ exported: 0, dropped: { queueFull: 0, exportFailed: 0 }, queued: 0, inFlightBatches: 0, abandonedBatches: 0 }),
    forceFlush: async () => {},
    shutdown: async () => {},
    currentTraceIds: () => ({}),
    pinoMixin: () => () => ({}),
    isSampled: () => false,
  };
  const metrics: Metrics = {
    registry: new Registry(),
    record: () => {},
    httpServer: () => {},
    httpClient: () => {},
    rpcServer: () => {},
    rpcClient: () => {},
    hdr: { read: () => undefined, operations: () => [], encode: () => '', slowest: () => [] },
    evidence: { trigger: () => {}, snapshot: () => {}, blip: () => {}, refused: () => {} },
    setSpanStatsSource: () => {},
    render: async () => ({ contentType: PROMETHEUS_CONTENT_TYPE, body: '' }),
    handler: () => metricsHandler,
    close: () => {},
  };
  const profiler: Profiler = {
    sampler: undefined,
    handler: () => () => false,
    capture: async () => ({ status: 'disabled', reason }),
    evaluate: async () => {},
    stop: async () => {},
  };
  const members: { [K in keyof Instrumentation]: Instrumentation[K] } = {
    serviceName,
    tracing,
    metrics,
    profiler,
    grpcServerInterceptor,
    grpcClientInterceptor,
    grpcService: tracing.grpcService,
    errorHandler: passError,
    metricsHandler,
    logMixin: () => ({}),
    startMetricsServer: async () => ({ url: '', close: async () => {} }),
    shutdown: async () => {},
  };
  return Object.assign(function tailtrace(req: IncomingMessage, res: ServerResponse, next: Next): void {
    passThrough(req, res, next);
  }, members);
}
