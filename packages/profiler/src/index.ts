// @tailtrace/profiler: heap evidence at runtime (sampling heap profile as pprof, CPU profiles,
// triggers, guarded snapshots, evidence bundles, debug endpoints). The snapshot analysis engine is
// @tailtrace/heap, which a service never loads; the file formats are @tailtrace/formats.

// ---- the evidence bundle and pprof profiles this package writes (declared in @tailtrace/formats;
// types only here, so callers can name what the functions below return) ----
export type {
  EncodedWindow, EventLoopStats, EvidenceManifest, EvidenceTriggerKind, GcStats, HeapFile, HistogramsFile,
  OperationRef, OutcomeFile, RuntimeFile, RuntimeWindowStats, SlowTrace, SnapshotOutcome, TimeWindow, TracesFile,
  PprofFunction, PprofLabel, PprofLine, PprofLocation, PprofMapping, PprofProfile, PprofSample, PprofValueType,
} from '@tailtrace/formats';

// ---- sampling heap profiler, CPU profile, /debug/pprof handler ----
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
export type { OperationKind } from '@tailtrace/formats';
export { SNAPSHOT_COST, estimateSnapshotCost } from './guard.ts';
export type { SnapshotCost } from './guard.ts';
export { systemProbe } from './system-probe.ts';
export type { SystemProbe } from './system-probe.ts';
