// @tailtrace/profiler: heap snapshot analysis. I/O lives in readHeapSnapshot, findLeaks (which
// accepts paths) and redactSnapshot; the rest are pure functions over the typed arrays.
export { HeapSnapshotError } from './errors.ts';
export { readHeapSnapshot } from './parser.ts';
export type { ReadOptions } from './parser.ts';
export type { HeapSnapshot, DominatorTree } from './types.ts';
export { StringTable, decodeJsonString } from './strings.ts';
export { computeDominators, buildEssentialRetainers, markPageOwned } from './graph.ts';
export type { OwnershipRule, DominatorOptions, RetainerIndex } from './graph.ts';
export { analyze, classify } from './classes.ts';
export type { AnalyzeOptions, ClassInfo, ClassStat, ClassifyResult, GroupBy, HeapSummary, HeapTotals, SourceLocation, TopRetainer } from './classes.ts';
export { diffSummaries } from './diff.ts';
export type { ClassDelta, HeapDiff } from './diff.ts';
export { findLeaks } from './leaks.ts';
export type { LeakGroup, LeakOptions, LeakReport } from './leaks.ts';
export { retainerPaths, shortestPathTree } from './paths.ts';
export type { PathHop, PathTarget, RetainerPath, ShortestPathTree } from './paths.ts';
export { redactSnapshot } from './redact.ts';
export type { RedactOptions, RedactResult } from './redact.ts';
export { renderSummaryHtml, renderDiffHtml, formatBytes } from './report-html.ts';
export { progressBar } from './progress.ts';

// ---- evidence bundle format (contract between the runtime side and `tailtrace diagnose`) ----
export { EVIDENCE_FORMAT, EVIDENCE_VERSION } from './evidence-format.ts';
export type {
  EncodedWindow, EventLoopStats, EvidenceManifest, EvidenceTriggerKind, GcStats, HeapFile, HistogramsFile,
  OperationRef, RuntimeFile, RuntimeWindowStats, SlowTrace, SnapshotOutcome, TimeWindow, TracesFile,
} from './evidence-format.ts';
export type {
  PprofFunction, PprofLabel, PprofLine, PprofLocation, PprofMapping, PprofProfile, PprofSample, PprofValueType,
} from './pprof-types.ts';

// ---- pprof codec, sampling heap profiler, CPU profile, /debug/pprof handler (runtime) ----

// ---- guarded snapshots, triggers, evidence bundles, createProfiler (runtime) ----
