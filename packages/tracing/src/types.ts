// Public shapes of @tailtrace/tracing. Kept free of `any` so users get real types.
import type { Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';

/** Matches docs/CONTRACTS.md; @tailtrace/metrics declares the same shape itself. */
export type OperationKind = 'http_server' | 'http_client' | 'rpc_server' | 'rpc_client';
export interface OperationRecord {
  kind: OperationKind;
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

export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

export type PropagatorName = 'tracecontext' | 'baggage' | 'b3' | 'b3multi';

export interface TracingOptions {
  /** Falls back to OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES. */
  serviceName?: string;
  /** Full traces URL. Falls back to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as-is), then OTEL_EXPORTER_OTLP_ENDPOINT + '/v1/traces'. */
  endpoint?: string;
  sampler?: SamplerName | Sampler;
  samplerRatio?: number;
  propagators?: PropagatorName[];
  /** Merged over OTEL_RESOURCE_ATTRIBUTES (these win). */
  resourceAttributes?: Record<string, string | number | boolean>;
  /** Falls back to OTEL_SDK_DISABLED=true. No spans, no export; OperationRecords are still emitted. */
  disabled?: boolean;
  /**
   * Used instead of the OTLP/HTTP exporter; `'none'` exports nothing (spans still reach
   * `spanProcessors`). Falls back to OTEL_TRACES_EXPORTER=none.
   */
  exporter?: SpanExporter | 'none';
  /**
   * Where the OTLP/HTTP requests are made: 'worker' (default) sends from a worker thread so
   * telemetry never runs through the service's own socket and stream code; 'main' uses
   * OpenTelemetry's exporter in the main thread.
   */
  exportThread?: 'worker' | 'main';
  /** More processors after the bounded exporter (e.g. an in-memory view); called on the request path, keep them cheap. */
  spanProcessors?: SpanProcessor[];
  /** Falls back to OTEL_BSP_MAX_QUEUE_SIZE, default 2048. */
  maxQueueSize?: number;
  /** Falls back to OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 512. */
  maxExportBatchSize?: number;
  /** Falls back to OTEL_BSP_SCHEDULE_DELAY, default 1000. */
  scheduledDelayMillis?: number;
  /** Falls back to OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_BSP_EXPORT_TIMEOUT; default 10000. */
  exportTimeoutMillis?: number;
  /** Called once per finished server/client operation; exceptions are caught and reported once. */
  onOperation?: (rec: OperationRecord) => void;
  /** Called once, on the first failed export; default prints one line to stderr. */
  onFirstExportError?: (err: Error, endpoint: string) => void;
  /** Trace outgoing fetch/undici and node:http(s) requests (default true). */
  httpClient?: boolean;
  /** Process environment to read OTEL_* from (default process.env); tests pass their own. */
  env?: Record<string, string | undefined>;
}

export interface ExportStats {
  exported: number;
  dropped: { queueFull: number; exportFailed: number };
  queued: number;
}

export type TraceIds = { trace_id: string; span_id: string; trace_flags: string } | Record<string, never>;
