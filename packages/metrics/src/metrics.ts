// createMetrics(): wires the RED histograms, HDR summary, counters and runtime metrics into one
// prom-client Registry and exposes the single hot-path entry, record().
import { Gauge, Registry } from 'prom-client';
import { normalizeBuckets } from './buckets.ts';
import { SimpleCounter } from './counter.ts';
import { encodeHistogram } from './codec.ts';
import { renderRegistry } from './exposition.ts';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from './format.ts';
import { createHandler } from './handler.ts';
import { RedHistogram } from './histogram.ts';
import type { Series } from './histogram.ts';
import { LATENCY_METRIC, LatencySummary, OPERATION_KINDS, resolveHdrOptions } from './latency-summary.ts';
import type { Operation } from './latency-summary.ts';
import { negotiate } from './negotiate.ts';
import type { OwnMetric } from './own-metric.ts';
import { EluGauge, startDefaultMetrics } from './runtime.ts';
import type { RuntimeHandles } from './runtime.ts';
import type {
  DebugEndpoint, EvidenceTrigger, HdrOptions, Metrics, MetricsOptions, OperationKind, OperationRecord, SnapshotResult, SpanStats,
} from './types.ts';

export const EVIDENCE_TRIGGERS: readonly EvidenceTrigger[] = ['p99_regression', 'heap_growth', 'heap_limit', 'signal', 'endpoint'];
export const SNAPSHOT_RESULTS: readonly SnapshotResult[] = ['written', 'refused', 'failed'];
/** The triggers a later window can show to have been a blip. */
export const BLIP_TRIGGERS: readonly EvidenceTrigger[] = ['p99_regression', 'heap_growth'];
export const DEBUG_ENDPOINTS: readonly DebugEndpoint[] = ['heap_gc', 'cpu_profile', 'evidence'];
export const METRIC_NAMES = {
  httpServer: 'http_server_request_duration_seconds',
  httpClient: 'http_client_request_duration_seconds',
  rpcServer: 'rpc_server_duration_seconds',
  rpcClient: 'rpc_client_duration_seconds',
  latency: LATENCY_METRIC,
  overflow: 'tailtrace_metric_series_overflow_total',
  spansExported: 'tailtrace_spans_exported_total',
  spansDropped: 'tailtrace_spans_dropped_total',
  evidenceTriggers: 'tailtrace_evidence_triggers_total',
  evidenceBlips: 'tailtrace_evidence_blips_total',
  heapSnapshots: 'tailtrace_heap_snapshots_total',
  invalidRecords: 'tailtrace_metric_invalid_records_total',
  latencyOverflow: 'tailtrace_latency_operations_overflow_total',
  debugRefused: 'tailtrace_debug_requests_refused_total',
} as const;

/** HDR operations per kind: servers are bounded by the code's routes and methods, clients by whom they call. */
function operationCaps(option: HdrOptions['maxOperations'], maxSeries: number): Record<OperationKind, number> {
  const valid = (v: unknown): v is number => typeof v === 'number' && v >= 1 && Number.isFinite(v);
  const caps = {} as Record<OperationKind, number>;
  for (const kind of OPERATION_KINDS) {
    const given = typeof option === 'object' && option !== null ? option[kind] : option;
    caps[kind] = valid(given) ? Math.floor(given) : Math.min(kind.endsWith('server') ? 256 : 64, maxSeries);
  }
  return caps;
}

/** A label value from an optional string field; anything else becomes `fallback`. */
function str(v: unknown, fallback: string): string {
  return typeof v === 'string' && v !== '' ? v : fallback;
}

/** Integer codes as Map keys: `| 0` makes 200 and 200.0 (and junk -> 0) one key. */
function code(v: unknown): number {
  return typeof v === 'number' ? v | 0 : 0;
}

/** Exemplar IDs, bounded so the exemplar label set stays under OpenMetrics' 128-character limit. */
function traceIdOf(v: unknown): string {
  return typeof v === 'string' && v.length > 0 && v.length <= 32 ? v : '';
}
function spanIdOf(v: unknown): string {
  return typeof v === 'string' && v.length <= 16 ? v : '';
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = options.registry ?? new Registry();
  if (options.defaultLabels && Object.keys(options.defaultLabels).length > 0) registry.setDefaultLabels(options.defaultLabels);
  const buckets = normalizeBuckets(options.buckets);
  const maxSeries = options.maxSeriesPerMetric !== undefined && options.maxSeriesPerMetric >= 1
    ? Math.floor(options.maxSeriesPerMetric) : 2000;
  const exemplars = options.exemplars ?? true;
  const now = options.now ?? Date.now;

  const overflow = new SimpleCounter(METRIC_NAMES.overflow,
    'Observations folded into the _overflow series because the metric reached its series cap.', 'metric');
  const invalid = new SimpleCounter(METRIC_NAMES.invalidRecords, 'Operation records ignored because they were malformed.');
  const histogram = <A extends string | number, B extends string | number, C extends string | number>(
    name: string, help: string, labelNames: readonly [string, string, string],
  ): RedHistogram<A, B, C> => {
    overflow.inc(name, 0);
    return new RedHistogram<A, B, C>({
      name, help, labelNames, buckets, maxSeries, exemplars, onOverflow: () => overflow.inc(name),
    });
  };
  const httpServer = histogram<string, string, number>(METRIC_NAMES.httpServer, 'Duration of HTTP server requests.',
    ['http_request_method', 'http_route', 'http_response_status_code']);
  const httpClient = histogram<string, string, number>(METRIC_NAMES.httpClient, 'Duration of HTTP client requests.',
    ['http_request_method', 'server_address', 'http_response_status_code']);
  const rpcServer = histogram<string, string, number>(METRIC_NAMES.rpcServer, 'Duration of gRPC server calls.',
    ['rpc_service', 'rpc_method', 'rpc_grpc_status_code']);
  const rpcClient = histogram<string, string, number>(METRIC_NAMES.rpcClient, 'Duration of gRPC client calls.',
    ['rpc_service', 'rpc_method', 'rpc_grpc_status_code']);
  overflow.inc(LATENCY_METRIC, 0);
  const latencyOverflow = new SimpleCounter(METRIC_NAMES.latencyOverflow,
    `Observations folded into the _overflow operation of ${LATENCY_METRIC} because their kind reached its operation cap, by kind.`,
    'kind', OPERATION_KINDS);
  const latency = new LatencySummary(resolveHdrOptions(options.hdr), operationCaps(options.hdr?.maxOperations, maxSeries), options.now, (kind) => {
    overflow.inc(LATENCY_METRIC);
    latencyOverflow.inc(kind);
  });

  const spansExported = new SimpleCounter(METRIC_NAMES.spansExported, 'Spans exported successfully.');
  const spansDropped = new SimpleCounter(METRIC_NAMES.spansDropped, 'Spans dropped before export, by reason.', 'reason',
    ['queue_full', 'export_failed']);
  const evidenceTriggers = new SimpleCounter(METRIC_NAMES.evidenceTriggers, 'Evidence captures triggered, by trigger.', 'trigger',
    EVIDENCE_TRIGGERS);
  const evidenceBlips = new SimpleCounter(METRIC_NAMES.evidenceBlips,
    'Triggers the windows after them showed to be blips (over as soon as reported), by trigger.', 'trigger', BLIP_TRIGGERS);
  const heapSnapshots = new SimpleCounter(METRIC_NAMES.heapSnapshots, 'Heap snapshot attempts, by result.', 'result',
    SNAPSHOT_RESULTS);
  const debugRefused = new SimpleCounter(METRIC_NAMES.debugRefused,
    'Debug requests refused by their limit (one at a time, a minimum interval), by endpoint.', 'endpoint', DEBUG_ENDPOINTS);
  let spanSource: (() => SpanStats) | undefined;
  spansExported.pull = () => {
    if (spanSource === undefined) return;
    const s = spanSource();
    spansExported.set('', s.exported);
    spansDropped.set('queue_full', s.dropped.queueFull);
    spansDropped.set('export_failed', s.dropped.exportFailed);
  };

  const own: OwnMetric[] = [httpServer, httpClient, rpcServer, rpcClient, latency, overflow, latencyOverflow, invalid,
    spansExported, spansDropped, evidenceTriggers, evidenceBlips, heapSnapshots, debugRefused];
  let runtime: RuntimeHandles | undefined;
  if (options.runtime ?? true) {
    own.push(new EluGauge());
    runtime = startDefaultMetrics(registry);
  }
  // prom-client's registerMetric is typed for its own classes; ours implement the same duck type.
  for (const m of own) registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
  // Span export batches (tracing.stats()): held by the exporter now (a gauge) and given up at
  // their deadline (a counter); a stuck Collector shows here before memory or drops do.
  const batchesAbandoned = new SimpleCounter('tailtrace_span_export_batches_abandoned_total', 'Span export batches given up at their export deadline.');
  batchesAbandoned.pull = () => batchesAbandoned.set('', spanSource?.().abandonedBatches ?? batchesAbandoned.value());
  registry.registerMetric(batchesAbandoned as unknown as Parameters<Registry['registerMetric']>[0]);
  registry.registerMetric(new Gauge({
    name: 'tailtrace_span_export_batches_in_flight', help: 'Span export batches sent and not answered yet (abandoned ones included).', registers: [],
    collect() { this.set(spanSource?.().inFlightBatches ?? 0); },
  }));

  // A histogram series (method, route, status) always feeds the same HDR operation (method,
  // route): it keeps a pointer to it, so a record costs one table lookup instead of two. Neither
  // overflow series nor overflow operation keeps one (their observations are counted per call).
  const operationOf = (s: Series, kind: OperationKind, a: string, b: string): Operation => {
    const cached = s.link as Operation | undefined;
    if (cached !== undefined) return cached;
    const op = latency.operation(kind, a, b);
    if (!s.overflow && !op.overflow) s.link = op;
    return op;
  };

  const record = (rec: OperationRecord): void => {
    try {
      const d = rec.durationS;
      // Rejects non-numbers, NaN, negatives and Infinity.
      if (typeof d !== 'number' || !(d >= 0 && d < Infinity)) {
        invalid.inc();
        return;
      }
      // The trace ID feeds the slowest-requests list even when exemplars are off.
      const sampledId = traceIdOf(rec.traceId);
      const spanId = sampledId === '' ? '' : spanIdOf(rec.spanId);
      const traceId = exemplars ? sampledId : '';
      const ts = traceId === '' ? 0 : now();
      switch (rec.kind) {
        case 'http_server': {
          const method = str(rec.method, '_OTHER');
          const route = str(rec.route, '(unmatched)');
          const s = httpServer.observe(method, route, code(rec.statusCode), d, traceId, spanId, ts);
          latency.recordIn(operationOf(s, 'http_server', method, route), d, sampledId, spanId);
          return;
        }
        case 'http_client': {
          const method = str(rec.method, '_OTHER');
          const host = str(rec.serverAddress, '(unknown)');
          const s = httpClient.observe(method, host, code(rec.statusCode), d, traceId, spanId, ts);
          latency.recordIn(operationOf(s, 'http_client', method, host), d, sampledId, spanId);
          return;
        }
        case 'rpc_server':
        case 'rpc_client': {
          const service = str(rec.rpcService, '(unknown)');
          const method = str(rec.rpcMethod, '(unknown)');
          // A missing gRPC code is UNKNOWN (2), not OK.
          const grpc = typeof rec.grpcStatusCode === 'number' ? rec.grpcStatusCode | 0 : 2;
          const s = (rec.kind === 'rpc_server' ? rpcServer : rpcClient).observe(service, method, grpc, d, traceId, spanId, ts);
          latency.recordIn(operationOf(s, rec.kind, service, method), d, sampledId, spanId);
          return;
        }
        default:
          invalid.inc();
      }
    } catch {
      invalid.inc();
    }
  };

  const render = async (accept?: string): Promise<{ contentType: string; body: string }> => {
    const om = negotiate(accept) === 'openmetrics';
    const body = await renderRegistry(registry, om);
    return { contentType: om ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE, body };
  };

  let closed = false;
  const kindOk = (k: unknown): k is OperationKind =>
    k === 'http_server' || k === 'http_client' || k === 'rpc_server' || k === 'rpc_client';

  return {
    registry,
    record,
    httpServer: (method, route, statusCode, durationS, traceId, spanId) =>
      record({ kind: 'http_server', method, route, statusCode, durationS, traceId, spanId }),
    httpClient: (method, serverAddress, statusCode, durationS, traceId, spanId) =>
      record({ kind: 'http_client', method, serverAddress, statusCode, durationS, traceId, spanId }),
    rpcServer: (rpcService, rpcMethod, grpcStatusCode, durationS, traceId, spanId) =>
      record({ kind: 'rpc_server', rpcService, rpcMethod, grpcStatusCode, durationS, traceId, spanId }),
    rpcClient: (rpcService, rpcMethod, grpcStatusCode, durationS, traceId, spanId) =>
      record({ kind: 'rpc_client', rpcService, rpcMethod, grpcStatusCode, durationS, traceId, spanId }),
    hdr: {
      read: (kind, operation) => (kindOk(kind) ? latency.read(kind, operation) : undefined),
      operations: () => latency.operations().map((op) => ({ kind: op.kind, operation: op.name })),
      encode: (kind, operation) => {
        const op = kindOk(kind) ? latency.find(kind, operation) : undefined;
        if (op === undefined) return '';
        const epoch = latency.clock.refresh();
        op.window.advance(epoch);
        const startMs = (epoch - latency.subWindows + 1) * latency.clock.subWindowMs;
        return encodeHistogram(op.window.toHistogram(startMs, now()));
      },
      slowest: (kind, operation, limit = 10) => {
        const op = kindOk(kind) ? latency.find(kind, operation) : undefined;
        if (op === undefined) return [];
        return op.slowest.read(latency.clock.refresh(), limit).map((r) => ({ ...r }));
      },
    },
    evidence: {
      // Values outside CONTRACTS.md's sets are ignored: they would be unbounded label values.
      trigger: (kind) => {
        if (EVIDENCE_TRIGGERS.includes(kind)) evidenceTriggers.inc(kind);
      },
      snapshot: (result) => {
        if (SNAPSHOT_RESULTS.includes(result)) heapSnapshots.inc(result);
      },
      blip: (kind) => {
        if (BLIP_TRIGGERS.includes(kind)) evidenceBlips.inc(kind);
      },
      refused: (endpoint) => {
        if (DEBUG_ENDPOINTS.includes(endpoint)) debugRefused.inc(endpoint);
      },
    },
    setSpanStatsSource: (source) => {
      spanSource = source;
    },
    render,
    handler: () => createHandler(render),
    close: () => {
      if (closed) return;
      closed = true;
      latency.close();
      runtime?.close();
    },
  };
}
