// The on-disk evidence bundle: the contract between the runtime side that writes bundles
// (@tailtrace/profiler, wired by instrument()) and `tailtrace diagnose` (@tailtrace/cli) that
// reads them; neither imports the other.
// A bundle is a directory; every file below is named in manifest.files so a reader never guesses.
// Bump EVIDENCE_VERSION on any incompatible change; readers refuse other versions.

import type { EvidenceTriggerKind, GcKind, OperationKind, SnapshotStatus } from './kinds.ts';

export const EVIDENCE_FORMAT = 'tailtrace-evidence';
export const EVIDENCE_VERSION = 1;

export interface OperationRef {
  kind: OperationKind;
  /** As in tailtrace_latency_seconds: `GET /orders/:id`, `GET host`, `orders.OrderService/Get`. */
  operation: string;
}

export interface TimeWindow {
  /** Wall clock, ms since the epoch. */
  startMs: number;
  endMs: number;
}

export interface EvidenceManifest {
  format: typeof EVIDENCE_FORMAT;
  version: number;
  service: string;
  host: string;
  pid: number;
  /** ISO 8601 time the bundle was completed. */
  createdAt: string;
  versions: { tailtrace: string; node: string; v8: string };
  trigger: {
    kind: EvidenceTriggerKind;
    /** One human line: "P99 of GET /orders/:id 41.2 ms > 2.0 x baseline 12.1 ms (n=1200)". */
    reason: string;
    operation?: OperationRef;
    /** The measured value and the threshold it crossed, in the trigger's unit (s for latency, bytes for heap). */
    observed?: number;
    threshold?: number;
  };
  /** The window the evidence describes, and the baseline it was judged against (null: none yet). */
  window: TimeWindow;
  baselineWindow: TimeWindow | null;
  files: {
    histograms: string;        // HistogramsFile, 'histograms.json'
    runtime: string;           // RuntimeFile, 'runtime.json'
    heap: string;              // HeapFile, 'heap.json'
    traces: string;            // TracesFile, 'traces.json'
    heapProfile: string | null; // gzipped pprof of the sampling heap profile, 'heap.pb.gz'
    snapshot: string | null;    // V8 .heapsnapshot, 'heap.heapsnapshot'
    /**
     * OutcomeFile, 'outcome.json': written later, when the windows after the trigger show it was a
     * blip; absent until then (and for most bundles). Optional: older bundles do not name it.
     */
    outcome?: string;
  };
  snapshot: SnapshotOutcome;
}

/** What the windows after a trigger showed about it. */
export interface OutcomeFile {
  triggers: Array<{
    kind: EvidenceTriggerKind;
    operation?: OperationRef;
    /** blip: the regression was over as soon as it was reported (or the heap fell back). */
    outcome: 'blip';
    reason: string;
    /** ISO 8601. */
    decidedAt: string;
  }>;
}

export interface SnapshotOutcome {
  /** skipped: the policy did not ask for one; refused: a guard said no (reason says which). */
  status: SnapshotStatus;
  reason?: string;
  /** How long the process was paused writing it. */
  pauseMs?: number;
  bytes?: number;
  /** The guard's estimate of peak RSS while writing, and what it compared it to. */
  estimatedPeakRssBytes?: number;
  availableBytes?: number;
}

/** One HDR window: base64 HDR V2 compressed histogram, values recorded in microseconds. */
export interface EncodedWindow extends TimeWindow {
  encoded: string;
  count: number;
}

export interface HistogramsFile {
  unit: 'microseconds';
  operations: Array<OperationRef & {
    window: EncodedWindow;
    /** The disjoint earlier windows that make up the rolling baseline, oldest first; merge to compare. */
    baseline: EncodedWindow[];
  }>;
}

export interface GcStats {
  count: number;
  totalPauseMs: number;
  maxPauseMs: number;
  byKind: Record<GcKind, { count: number; totalPauseMs: number }>;
}

export interface EventLoopStats {
  /** From perf_hooks.monitorEventLoopDelay over the window. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Event-loop utilization 0..1 over the window. */
  utilization: number;
}

export interface RuntimeWindowStats extends TimeWindow {
  gc: GcStats;
  eventLoop: EventLoopStats;
  /** Heap used right after each major GC in the window (bytes), oldest first. */
  heapUsedAfterGcBytes: number[];
}

export interface RuntimeFile {
  window: RuntimeWindowStats;
  /** Baseline windows, oldest first (same disjoint windows as the histograms' baseline). */
  baseline: RuntimeWindowStats[];
}

export interface HeapFile {
  statistics: Record<string, number>;   // v8.getHeapStatistics()
  spaces: Array<{ space_name: string; space_size: number; space_used_size: number; space_available_size: number; physical_space_size: number }>;
  memoryUsage: Record<string, number>;  // process.memoryUsage()
  /** (time, heap used after major GC) over the retained history, for the growth trend. */
  heapAfterGc: Array<{ atMs: number; usedBytes: number }>;
  /** The sampling heap profiler behind heap.pb.gz: its mean interval and how it was read. */
  sampling: { intervalBytes: number; backend?: 'inspector' | 'datadog' } | null;
}

export interface SlowTrace {
  traceId: string;
  spanId?: string;
  durationS: number;
  atMs: number;
}

export interface TracesFile {
  operations: Array<OperationRef & { slowest: SlowTrace[] }>;
}
