// The diagnose report: plain data (what --json prints), rendered by text.ts and html.ts.
// Latencies are milliseconds, sizes bytes, times ms since the epoch.
import type { EvidenceTriggerKind, GcKind, OperationKind, SnapshotOutcome, TimeWindow } from '@tailtrace/formats';
import type { Origin } from './origin.ts';

export interface DiagnoseOptions {
  /** Percentile judged for regressions: 50, 90, 99 or 99.9. Default 99. */
  percentile?: number;
  /** current / baseline at that percentile must reach this. Default 1.5. */
  threshold?: number;
  /** Samples needed on each side. Default 50. */
  minSamples?: number;
  /** current - baseline at that percentile must reach this many ms. Default 2. */
  minDeltaMs?: number;
  /** The tail test's p-value must be below this. Default 0.001. */
  alpha?: number;
  /** Rows in the heap class / allocation site tables. Default 10. */
  top?: number;
  /** Slow traces listed. Default 20. */
  traces?: number;
  /** Link for a trace ID, `{traceId}` replaced: `http://tempo:3200/trace/{traceId}`. */
  traceUrl?: string;
}

export type ResolvedOptions = Required<Omit<DiagnoseOptions, 'traceUrl'>> & { traceUrl: string | null };

export interface BundleInfo {
  dir: string;
  service: string;
  host: string;
  pid: number;
  createdAt: string;
  trigger: EvidenceTriggerKind;
  reason: string;
  window: TimeWindow;
  snapshot: SnapshotOutcome['status'];
  heapProfile: boolean;
  /** The service later judged its trigger a blip (outcome.json): why; null otherwise. */
  blip: string | null;
}

export interface SideInfo {
  bundles: BundleInfo[];
  /** Earliest start and latest end of the windows this side compares. */
  span: TimeWindow | null;
  /** HDR windows merged on this side (after removing duplicates). */
  windows: number;
}

export interface Quantiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
}

export interface LatencySide {
  count: number;
  /** Windows merged (on the baseline side: without the stalled ones). */
  windows: number;
  /** Baseline side: windows left out as stalls (over 3x the median window's percentile). */
  stalledWindowsSetAside?: number;
  minMs: number;
  maxMs: number;
  ms: Quantiles;
}

export type OperationStatus = 'regressed' | 'improved' | 'unchanged' | 'insufficient' | 'new' | 'gone';

export interface OperationComparison {
  kind: OperationKind;
  operation: string;
  status: OperationStatus;
  /** One line: why this status (thresholds and which one was not met). */
  why: string;
  baseline: LatencySide | null;
  current: LatencySide | null;
  /** current / baseline per percentile (null when a side is missing or empty). */
  ratio: Quantiles | null;
  /**
   * The test at the judged percentile: the pooled value of both sides (ms), how many requests of
   * each side lie above it, and the one-sided Fisher exact p-value of the heavier tail.
   */
  judged: { percentile: number; deltaMs: number; pooledMs: number; baselineAbove: number; currentAbove: number; pValue: number } | null;
  /** Percentile curves ([percentile, ms], HdrHistogram axis) for the operations the HTML plots. */
  curve: { baseline: Array<[number, number]>; current: Array<[number, number]> } | null;
}

export interface RuntimeSide {
  windows: number;
  durationMs: number;
  gc: {
    count: number;
    countPerMinute: number;
    totalPauseMs: number;
    pauseMsPerMinute: number;
    maxPauseMs: number;
    /** Share of wall time spent in GC pauses, 0..1. */
    pauseShare: number;
    byKind: Record<GcKind, { count: number; totalPauseMs: number; pauseMsPerMinute: number }>;
  };
  /** Duration-weighted means of the windows' values (max: the largest), an approximation. */
  eventLoop: { p50Ms: number; p99Ms: number; maxMs: number; meanMs: number; utilization: number };
  /** Heap used after major GCs in the windows, oldest first (bytes). */
  heapAfterGc: { first: number; last: number; min: number; max: number; samples: number } | null;
}

export interface Change {
  metric: string;
  unit: 'ms' | 'count/min' | 'ms/min' | 'ratio' | 'bytes' | 'share';
  baseline: number | null;
  current: number | null;
  /** current / baseline; null when a side is missing or baseline is 0. */
  ratio: number | null;
}

export interface RuntimeComparison {
  baseline: RuntimeSide | null;
  current: RuntimeSide | null;
  changes: Change[];
}

export interface HeapTrend {
  points: number;
  spanMs: number;
  firstBytes: number;
  lastBytes: number;
  /** Least-squares slope of heap used after GC, bytes per minute. */
  slopeBytesPerMin: number;
}

export interface HeapSideStats {
  /** The bundle heap.json was read from (the side's newest). */
  dir: string;
  usedHeapBytes: number;
  heapLimitBytes: number | null;
  rssBytes: number | null;
  externalBytes: number | null;
  /** Last heap-used-after-major-GC figure (null: no major GC recorded). */
  usedAfterGcBytes: number | null;
  trend: HeapTrend | null;
}

export interface Delta {
  base: number;
  target: number;
  delta: number;
}

export interface ClassGrowth {
  /** Class key from the engine: name plus ` @line:column` of its allocation site when V8 recorded one. */
  key: string;
  name: string;
  baseKey?: string;
  status: 'new' | 'gone' | 'changed' | 'same';
  count: Delta;
  self: Delta;
  retained: Delta;
  /** What holds the class in the current snapshot: the classes of the nearest object, closure or context above its instances. */
  heldBy: Array<{ key: string; count: number; retained: number }>;
}

export interface HolderGrowth extends ClassGrowth {
  /** Keys of the classes listed (multiplied or holders) that this class holds. */
  holds: string[];
}

export interface SnapshotDiff {
  baseline: string;
  current: string;
  totals: { nodes: Delta; selfSize: Delta };
  /** Classes whose instances multiplied, by growth of retained size. */
  classes: ClassGrowth[];
  /** Classes that grew because they hold what multiplied (the global object, the Map a leak sits in). */
  holders: HolderGrowth[];
}

export interface SiteGrowth {
  /**
   * `functionName file:line` of the allocating frame: the leaf of the sampled stack, or when the
   * leaf is a builtin without a source file (`repeat`, `JSON.parse`), the first caller with one.
   */
  site: string;
  functionName: string;
  /** Whole path (relative to serviceRoot in the text and HTML reports). */
  file: string;
  line: number;
  /** Whose code: the service's, a dependency's, or tailtrace / OpenTelemetry / Node (ranked last). */
  origin: Origin;
  /** The dependency's package when under node_modules (`@grpc/grpc-js`). */
  package: string | null;
  /** Service or dependency code called back by instrumentation (a span processor): ranked with it. */
  calledBy: 'tailtrace' | 'opentelemetry' | null;
  /** The builtins between the site and the allocation, when the leaf was one. */
  via: string[];
  inuseBytes: Delta;
  inuseObjects: Delta;
  /** The stack of the largest current sample at this site, leaf first, at most 8 frames. */
  stack: string[];
}

export interface ProfileDiff {
  baseline: string | null;
  current: string;
  /** The service's root as the profile's paths show it; the text and HTML reports show paths relative to it. */
  serviceRoot: string | null;
  totals: { inuseBytes: Delta; inuseObjects: Delta };
  /** Sites by growth of sampled in-use bytes, largest first (only those that grew). */
  sites: SiteGrowth[];
}

export interface HeapComparison {
  baseline: HeapSideStats | null;
  current: HeapSideStats | null;
  /** Engine diff of the newest snapshot of each side; null unless both sides have one. */
  snapshot: SnapshotDiff | null;
  /** Diff of the sampling heap profiles (heap.pb.gz); null unless the current side has one. */
  profile: ProfileDiff | null;
  /** Why a part is missing ("no snapshot on the baseline side"). */
  notes: string[];
}

export type SuspectKind = 'heap_class' | 'allocation_site' | 'gc' | 'heap_trend' | 'event_loop' | 'event_loop_utilization';

export interface Suspect {
  rank: number;
  kind: SuspectKind;
  /** For allocation sites: whose code (instrumentation: tailtrace, OpenTelemetry, Node, or code they call back). */
  origin?: 'service' | 'dependency' | 'instrumentation';
  /** One line: what to look at. */
  title: string;
  /** The share of the current value that the change explains, 0..1 (see suspects.ts). */
  score: number;
  /** The numbers behind it and the file each came from. */
  evidence: string[];
}

export interface SlowTraceRef {
  kind: OperationKind;
  operation: string;
  traceId: string;
  spanId: string | null;
  durationMs: number;
  atMs: number;
  /** The operation regressed. */
  regressed: boolean;
  url: string | null;
  /** traces.json it came from. */
  file: string;
}

export interface DiagnoseReport {
  /** Bumped on incompatible changes of this JSON shape. */
  reportVersion: 1;
  options: ResolvedOptions;
  baseline: SideInfo;
  current: SideInfo;
  /** 1-3 lines, the answer first. */
  verdict: string[];
  regressed: number;
  operations: OperationComparison[];
  runtime: RuntimeComparison;
  heap: HeapComparison;
  suspects: Suspect[];
  slowTraces: SlowTraceRef[];
}
