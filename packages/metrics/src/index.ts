// @tailtrace/metrics public API. Everything else in src/ is internal.
export { createMetrics, EVIDENCE_TRIGGERS, METRIC_NAMES, SNAPSHOT_RESULTS } from './metrics.ts';
export { DEFAULT_BUCKETS } from './buckets.ts';
export { decodeHistogram } from './codec.ts';
export type { DecodedHistogram } from './codec.ts';
export { negotiate } from './negotiate.ts';
export type { ExpositionFormat } from './negotiate.ts';
export { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from './format.ts';
export { OVERFLOW_VALUE } from './series-table.ts';
export type {
  EvidenceApi, EvidenceTrigger, HdrApi, HdrOperation, HdrOptions, HdrReading, Metrics, MetricsHandler,
  MetricsOptions, OperationKind, OperationRecord, Percentiles, RenderResult, SlowRequest, SnapshotResult, SpanStats,
} from './types.ts';
