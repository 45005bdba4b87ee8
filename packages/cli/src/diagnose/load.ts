// The I/O side of diagnose: read both paths, analyze the snapshots when both sides have one.
import { GROWTH_TOP_RETAINERS, HeapSnapshotError, analyze, progressBar, readHeapSnapshot } from '@tailtrace/heap';
import type { HeapSummary } from '@tailtrace/heap';
import { diagnose } from './diagnose.ts';
import type { EvidenceSide } from './diagnose.ts';
import { EvidenceError } from './errors.ts';
import { readEvidence } from './read.ts';
import type { EvidenceBundle } from './read.ts';
import type { DiagnoseOptions, DiagnoseReport } from './types.ts';

export interface LoadOptions {
  /** A progress bar on stderr while reading snapshots (only when stderr is a terminal). */
  progress?: boolean;
}

/** Runs the heap engine on one snapshot (class table keyed by name + allocation location). */
export async function analyzeSnapshot(file: string, opts: LoadOptions = {}): Promise<HeapSummary> {
  const bar = opts.progress ? progressBar(`reading ${file}`) : null;
  try {
    const s = await readHeapSnapshot(file, { edgeNames: false, ...(bar ? { onProgress: bar } : {}) });
    // The largest single retainers tell holders (one container) from multiplied classes.
    return analyze(s, { topRetainers: GROWTH_TOP_RETAINERS });
  } catch (err) {
    if (err instanceof HeapSnapshotError) throw new EvidenceError(err.file, err.reason);
    throw err;
  } finally {
    bar?.done();
  }
}

const newestSnapshot = (bs: readonly EvidenceBundle[]): string | null => [...bs].reverse().find((b) => b.snapshotPath !== null)?.snapshotPath ?? null;

/**
 * Reads both sides (see readEvidence for what a path may be). Snapshots are analyzed only when
 * both sides have one, since a class diff needs two; one at a time, to keep one in memory.
 */
export async function loadEvidence(baselinePath: string, currentPath: string, opts: LoadOptions = {}): Promise<{ baseline: EvidenceSide; current: EvidenceSide }> {
  const b = await readEvidence(baselinePath);
  const c = await readEvidence(currentPath);
  const bs = newestSnapshot(b);
  const cs = newestSnapshot(c);
  let bSum: HeapSummary | null = null;
  let cSum: HeapSummary | null = null;
  if (bs && cs) {
    bSum = await analyzeSnapshot(bs, opts);
    cSum = await analyzeSnapshot(cs, opts);
  }
  return { baseline: { bundles: b, snapshot: bSum }, current: { bundles: c, snapshot: cSum } };
}

/** readEvidence + snapshot analysis + diagnose, for callers in process (the demo). */
export async function diagnosePaths(baselinePath: string, currentPath: string, opts: DiagnoseOptions & LoadOptions = {}): Promise<DiagnoseReport> {
  const { progress, ...rest } = opts;
  const { baseline, current } = await loadEvidence(baselinePath, currentPath, progress === undefined ? {} : { progress });
  return diagnose(baseline, current, rest);
}
