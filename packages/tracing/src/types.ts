// Public shapes of @tailtrace/tracing. Kept free of `any` so users get real types.
import type { Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { OperationKind } from '@tailtrace/formats';

// Declared once in @tailtrace/formats (types only: nothing of it loads with tracing).
export type { OperationKind };
/** Matches docs/CONTRACTS.md; @tailtrace/metrics declares the same shape itself. */
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
   * OTLP body encoding. Falls back to OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, then
   * OTEL_EXPORTER_OTLP_PROTOCOL; default http/protobuf (the specification's default).
   */
  protocol?: 'http/protobuf' | 'http/json';
  /**
   * Compression of each export request. Falls back to OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, then
   * OTEL_EXPORTER_OTLP_COMPRESSION; default none.
   */
  compression?: 'gzip' | 'none';
  /**
   * Where the OTLP/HTTP requests are made: 'worker' (default) sends from a worker thread so
   * telemetry never runs through the service's own socket and stream code; 'main' sends from the
   * main thread. Both have the same deadlines and bounds.
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
  /**
   * Hard deadline of one export request, from hand-over to answer: the request is destroyed then
   * even if bytes are still arriving. Falls back to OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
   * OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_BSP_EXPORT_TIMEOUT; default 10000.
   */
  exportTimeoutMillis?: number;
  /**
   * Export batches that may be outstanding at once, counting ones given up at their deadline
   * whose exporter has not answered yet (default 2). Past it, spans wait in the queue (and are
   * dropped and counted when it is full) instead of piling up in the exporter.
   */
  maxInFlightBatches?: number;
  /**
   * Span limits as OpenTelemetry defines them. Each falls back to its OTEL_SPAN_* / OTEL_EVENT_* /
   * OTEL_LINK_* variable, then the general OTEL_ATTRIBUTE_* one, then the default: 128 for every
   * count and 4096 characters for attribute values (the SDK's default is unlimited).
   */
  spanLimits?: SpanLimits;
  /**
   * Query keys whose values are replaced by REDACTED in `url.full`, in addition to the semantic
   * conventions' list and common secret names (token, api_key, password, ...). Case-insensitive.
   */
  redactQueryKeys?: string[];
  /** Where configuration problems are reported (one line each); default: stderr with a `[tailtrace]` prefix. */
  onConfigWarning?: (message: string) => void;
  /** Called once per finished server/client operation; exceptions are caught and reported once. */
  onOperation?: (rec: OperationRecord) => void;
  /** Called once, on the first failed export; default prints one line to stderr. */
  onFirstExportError?: (err: Error, endpoint: string) => void;
  /**
   * Add one `rpc.message` event (rpc.message.type SENT/RECEIVED, rpc.message.id) per gRPC message
   * to the call's span (default false: a long stream would fill the span's event limit). The
   * counts per direction are always recorded as rpc.grpc.messages_sent / messages_received.
   */
  grpcMessageEvents?: boolean;
  /** Trace outgoing fetch/undici and node:http(s) requests (default true). */
  httpClient?: boolean;
  /** Process environment to read OTEL_* from (default process.env); tests pass their own. */
  env?: Record<string, string | undefined>;
}

export interface ExportStats {
  exported: number;
  dropped: { queueFull: number; exportFailed: number };
  /** Spans waiting in the queue plus those of the batch being exported. */
  queued: number;
  /** Batches handed to the exporter and not answered yet, including abandoned ones (at most maxInFlightBatches). */
  inFlightBatches: number;
  /** Batches given up at their export deadline (their spans are counted in dropped.exportFailed). */
  abandonedBatches: number;
}

/** OpenTelemetry's span limits (the SDK's SpanLimits, with the OTEL_* variables' meaning). */
export interface SpanLimits {
  /** OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, else OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT; default 4096. */
  attributeValueLengthLimit?: number;
  /** OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, else OTEL_ATTRIBUTE_COUNT_LIMIT; default 128. */
  attributeCountLimit?: number;
  /** OTEL_SPAN_EVENT_COUNT_LIMIT; default 128. */
  eventCountLimit?: number;
  /** OTEL_SPAN_LINK_COUNT_LIMIT; default 128. */
  linkCountLimit?: number;
  /** OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, else OTEL_ATTRIBUTE_COUNT_LIMIT; default 128. */
  attributePerEventCountLimit?: number;
  /** OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, else OTEL_ATTRIBUTE_COUNT_LIMIT; default 128. */
  attributePerLinkCountLimit?: number;
}

export type TraceIds = { trace_id: string; span_id: string; trace_flags: string } | Record<string, never>;
