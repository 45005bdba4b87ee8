export { main } from './main.ts';
export { heapMain } from './heap.ts';
export { table } from './table.ts';

// ---- tailtrace diagnose (evidence bundles) ----
export { diagnoseMain, DIAGNOSE_USAGE } from './diagnose/cli.ts';
export { EvidenceError } from './diagnose/errors.ts';
export { readEvidence, readBundle } from './diagnose/read.ts';
export type { EvidenceBundle } from './diagnose/read.ts';
export { analyzeSnapshot, loadEvidence, diagnosePaths } from './diagnose/load.ts';
export type { LoadOptions } from './diagnose/load.ts';
export { diagnose, resolveOptions, DEFAULT_OPTIONS } from './diagnose/diagnose.ts';
export type { EvidenceSide } from './diagnose/diagnose.ts';
export { relativePaths, renderDiagnoseText } from './diagnose/text.ts';
export { renderDiagnoseHtml } from './diagnose/html.ts';
export type {
  BundleInfo, Change, ClassGrowth, DiagnoseOptions, HolderGrowth, DiagnoseReport, HeapComparison, HeapSideStats, HeapTrend, LatencySide,
  OperationComparison, OperationStatus, ProfileDiff, Quantiles, ResolvedOptions, RuntimeComparison, RuntimeSide, SideInfo,
  SiteGrowth, SlowTraceRef, SnapshotDiff, Suspect, SuspectKind,
} from './diagnose/types.ts';
