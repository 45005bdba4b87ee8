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
  OperationRef, OutcomeFile, RuntimeFile, RuntimeWindowStats, SlowTrace, SnapshotOutcome, TimeWindow, TracesFile,
} from './evidence-format.ts';
export type {
  PprofFunction, PprofLabel, PprofLine, PprofLocation, PprofMapping, PprofProfile, PprofSample, PprofValueType,
} from './pprof-types.ts';

// ---- pprof codec, sampling heap profiler, CPU profile, /debug/pprof handler (runtime) ----
export { PprofError, decodePprof, encodePprof, gzipPprof } from './pprof.ts';
export { DEFAULT_HEAP_INTERVAL, allocationProfileToPprof, estimateSampleObjects, heapProfileToPprof, startHeapSampling } from './heap-sampler.ts';
export type {
  HeapProfileConversion, HeapSampler, HeapSamplerBackend, HeapSamplerOptions, V8AllocationProfileNode, V8SamplingHeapNode, V8SamplingHeapProfile,
} from './heap-sampler.ts';
export { ProfileBusyError, cpuProfile, cpuProfileToPprof } from './cpu-profile.ts';
export type { CpuProfileOptions, V8CpuProfile, V8CpuProfileNode } from './cpu-profile.ts';
export type { V8CallFrame } from './v8-frames.ts';
export { createDebugHandler } from './debug-handler.ts';
export type { DebugAdmission, DebugHandler, DebugHandlerOptions, DebugWork, RequestTarget } from './debug-handler.ts';
export { EVIDENCE_PATH, bearerMatches } from './endpoint.ts';

// ---- guarded snapshots, triggers, evidence bundles, createProfiler (runtime) ----
export { createProfiler } from './profiler.ts';
// The trigger engine and its recordings: replay a recorded run through other thresholds.
export { TriggerEngine } from './evaluation.ts';
export type { EngineConfig, EngineFired, OpReading, WindowReadings, WindowVerdict } from './evaluation.ts';
export { RECORDING_FORMAT, parseRecording } from './window-recorder.ts';
export type { RecordedWindow, RecordingHeader } from './window-recorder.ts';
export type { CaptureResult, EvidenceOptions, LatencySource, Profiler, ProfilerOptions, SnapshotPolicy, TriggerKind } from './profiler.ts';
export type { OperationKind } from './evidence-format.ts';
export { SNAPSHOT_COST, estimateSnapshotCost } from './guard.ts';
export type { SnapshotCost } from './guard.ts';
export { systemProbe } from './system-probe.ts';
export type { SystemProbe } from './system-probe.ts';
