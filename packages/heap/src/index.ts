// @tailtrace/heap: offline V8 heap snapshot analysis. I/O lives in readHeapSnapshot, findLeaks
// (which accepts paths) and redactSnapshot; the rest are pure functions over the typed arrays.
// A running service never loads this package (@tailtrace/profiler writes snapshots, this reads them).
export { HeapSnapshotError } from './errors.ts';
export { readHeapSnapshot } from './parser.ts';
export type { ReadOptions } from './parser.ts';
export type { HeapSnapshot, DominatorTree } from './types.ts';
export { StringTable, decodeJsonString } from './strings.ts';
export { computeDominators, markPageOwned } from './graph.ts';
export type { OwnershipRule, DominatorOptions } from './graph.ts';
export { analyze, classify } from './classes.ts';
export type { AnalyzeOptions, ClassInfo, ClassStat, ClassifyResult, GroupBy, HeapSummary, HeapTotals, SourceLocation, TopRetainer } from './classes.ts';
export { diffSummaries } from './diff.ts';
export type { ClassDelta, HeapDiff } from './diff.ts';
export { GROWTH_TOP_RETAINERS, isGenericClass, splitGrowth } from './growth.ts';
export type { Growth, HolderDelta } from './growth.ts';
export { findLeaks } from './leaks.ts';
export type { LeakClass, LeakGroup, LeakHolder, LeakOptions, LeakReport } from './leaks.ts';
export { retainerPaths, shortestPathTree } from './paths.ts';
export type { PathHop, PathTarget, RetainerPath, ShortestPathTree } from './paths.ts';
export { redactSnapshot } from './redact.ts';
export type { RedactOptions, RedactResult } from './redact.ts';
export { renderSummaryHtml, renderDiffHtml, formatBytes } from './report-html.ts';
export { progressBar } from './progress.ts';
