// Public shapes of @tailtrace/metrics. OperationRecord is declared here and in @tailtrace/tracing
// (structurally identical, see docs/CONTRACTS.md) so neither package imports the other.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { OperationKind, SnapshotStatus, TriggerKind } from '@tailtrace/formats';

// Declared once in @tailtrace/formats (types only: nothing of it loads with metrics).
export type { OperationKind };

export interface OperationRecord {
  kind: OperationKind;
  /** Seconds, from a monotonic clock. */
  durationS: number;
  method?: string;
  route?: string;
  serverAddress?: string;
  statusCode?: number;
  rpcService?: string;
  rpcMethod?: string;
  grpcStatusCode?: number;
  traceId?: string;
  spanId?: string;
}

export interface HdrOptions {
  /** Length of the sliding window (default 60 000 ms). */
  windowMs?: number;
  /** Number of rotated sub-windows the window is made of (default 6). */
  subWindows?: number;
  /** HDR significant value digits, 1..5 (default 3: values resolved to 0.1%). */
  significantDigits?: number;
  /** Smallest value told apart from 0 (default 1e-6 s = 1 µs, the recording unit). */
  lowestDiscernibleS?: number;
  /** Largest tracked value; larger values are clamped to it (default 60 s, at most 2147 s). */
  highestTrackableS?: number;
  /**
   * Operations with their own window, per kind, before the rest of that kind fold into its own
   * `_overflow` operation: one kind can never take another's place (300 outgoing hosts do not push
   * a new route out). A number caps every kind alike; the default is 256 for each server kind
   * (`http_server`, `rpc_server`) and 64 for each client kind (`http_client` by server address,
   * `rpc_client`), never more than maxSeriesPerMetric. Each active operation holds ~140 KB at the
   * default range: ~36 MB for a full server budget, ~9 MB for a full client one.
   */
  maxOperations?: number | Partial<Record<OperationKind, number>>;
}

export interface MetricsOptions {
  /** prom-client registry that holds every metric (default: a new Registry). */
  registry?: Registry;
  /** Histogram bucket upper bounds in seconds (default DEFAULT_BUCKETS). */
  buckets?: readonly number[];
  /** Distinct label sets per metric before folding into the overflow series (default 2000). */
  maxSeriesPerMetric?: number;
  hdr?: HdrOptions;
  /** prom-client default metrics + event-loop utilization (default true). */
  runtime?: boolean;
  /** Labels added to every series, e.g. { service: 'orders' }. */
  defaultLabels?: Record<string, string>;
  /** Attach {trace_id, span_id} exemplars to histogram buckets (default true). */
  exemplars?: boolean;
  /** Wall clock in ms (default Date.now); injectable so tests rotate windows without sleeping. */
  now?: () => number;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
}

/** One operation's sliding HDR window; all values in seconds. */
export interface HdrReading {
  count: number;
  min: number;
  max: number;
  mean: number;
  percentiles: Percentiles;
  startMs: number;
  endMs: number;
}

export interface HdrOperation {
  kind: OperationKind;
  operation: string;
}

export interface HdrApi {
  read(kind: OperationKind, operation: string): HdrReading | undefined;
  operations(): HdrOperation[];
  /** Base64 HDR V2 compressed histogram (µs) of the merged window; '' when unknown. */
  encode(kind: OperationKind, operation: string): string;
  /**
   * The slowest sampled requests (those with a trace ID) of the window, slowest first: at most
   * 5 per sub-window are kept, `limit` (default 10) returned.
   */
  slowest(kind: OperationKind, operation: string, limit?: number): SlowRequest[];
}

export interface SlowRequest {
  traceId: string;
  spanId: string;
  durationS: number;
  /** Wall clock (ms since the epoch) when it was recorded. */
  atMs: number;
}

export type EvidenceTrigger = TriggerKind;
export type SnapshotResult = Exclude<SnapshotStatus, 'skipped'>;

/** Debug requests that cost the service a full GC or a CPU profile, limited to one at a time. */
export type DebugEndpoint = 'heap_gc' | 'cpu_profile' | 'evidence';

export interface EvidenceApi {
  trigger(kind: EvidenceTrigger): void;
  snapshot(result: SnapshotResult): void;
  /** A trigger later shown to be a blip: tailtrace_evidence_blips_total{trigger}. */
  blip(kind: EvidenceTrigger): void;
  /** A debug request refused by its limit (one at a time, a minimum interval): tailtrace_debug_requests_refused_total. */
  refused(endpoint: DebugEndpoint): void;
}

export interface SpanStats {
  exported: number;
  dropped: { queueFull: number; exportFailed: number };
  /** Export batches sent and not answered yet (tailtrace_span_export_batches_in_flight). */
  inFlightBatches?: number;
  /** Export batches given up at their deadline (tailtrace_span_export_batches_abandoned_total). */
  abandonedBatches?: number;
}

export interface RenderResult {
  contentType: string;
  body: string;
}

export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Metrics {
  readonly registry: Registry;
  record(rec: OperationRecord): void;
  /** Convenience wrappers that build the OperationRecord. */
  httpServer(method: string, route: string, statusCode: number, durationS: number, traceId?: string, spanId?: string): void;
  httpClient(method: string, serverAddress: string, statusCode: number, durationS: number, traceId?: string, spanId?: string): void;
  rpcServer(service: string, method: string, grpcStatusCode: number, durationS: number, traceId?: string, spanId?: string): void;
  rpcClient(service: string, method: string, grpcStatusCode: number, durationS: number, traceId?: string, spanId?: string): void;
  readonly hdr: HdrApi;
  readonly evidence: EvidenceApi;
  setSpanStatsSource(source: (() => SpanStats) | undefined): void;
  render(accept?: string): Promise<RenderResult>;
  handler(): MetricsHandler;
  close(): void;
}
