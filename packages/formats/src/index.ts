// @tailtrace/formats: what the runtime side writes and the offline tools read, and the names every
// package shares. No I/O and no dependencies: the evidence bundle's file shapes, the pprof codec,
// and the operation / trigger / snapshot names (declared here once; tracing and metrics import
// the types only).
export { EVIDENCE_TRIGGER_KINDS, GC_KINDS, OPERATION_KINDS, SNAPSHOT_STATUSES, TRIGGER_KINDS } from './kinds.ts';
export type { EvidenceTriggerKind, GcKind, OperationKind, SnapshotStatus, TriggerKind } from './kinds.ts';

// ---- evidence bundle (written by @tailtrace/profiler, read by `tailtrace diagnose`) ----
export { EVIDENCE_FORMAT, EVIDENCE_VERSION } from './evidence-format.ts';
export type {
  EncodedWindow, EventLoopStats, EvidenceManifest, GcStats, HeapFile, HistogramsFile, OperationRef, OutcomeFile, RuntimeFile,
  RuntimeWindowStats, SlowTrace, SnapshotOutcome, TimeWindow, TracesFile,
} from './evidence-format.ts';

// ---- pprof (profile.proto): the sampling heap profile and CPU profiles ----
export { PprofError, decodePprof, encodePprof, gzipPprof } from './pprof.ts';
export type {
  PprofFunction, PprofLabel, PprofLine, PprofLocation, PprofMapping, PprofProfile, PprofSample, PprofValueType,
} from './pprof-types.ts';
