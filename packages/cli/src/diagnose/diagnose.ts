// The comparison: a pure function from two sides (bundles already read, snapshots already
// analyzed) to the report. I/O lives in load.ts.
import { join } from 'node:path';
import type { HeapSummary } from '@tailtrace/heap';
import { fmtChange, fmtMs, fmtRatio, formatBytes, num, pLabel, signedBytes, signedNum } from './format.ts';
import { heapSideStats, profileDiff, snapshotDiff } from './heap-compare.ts';
import { compareOperations, judgedValue } from './latency.ts';
import type { EvidenceBundle } from './read.ts';
import { compareRuntime } from './runtime.ts';
import { originTag, rankSuspects, siteRank } from './suspects.ts';
import type {
  BundleInfo, DiagnoseOptions, DiagnoseReport, HeapComparison, OperationComparison, ResolvedOptions, RuntimeComparison, SideInfo, SlowTraceRef,
} from './types.ts';

export interface EvidenceSide {
  /** Oldest first, as readEvidence returns them. */
  bundles: EvidenceBundle[];
  /** The engine's analysis of the newest snapshot of the side (loadEvidenceSide); null: none. */
  snapshot: HeapSummary | null;
}

export const DEFAULT_OPTIONS: ResolvedOptions = { percentile: 99, threshold: 1.5, minSamples: 50, minDeltaMs: 2, alpha: 0.001, top: 10, traces: 20, traceUrl: null };
export const JUDGED_PERCENTILES: readonly number[] = [50, 90, 99, 99.9];

/** Fills defaults; throws RangeError naming the option that is out of range. */
export function resolveOptions(o: DiagnoseOptions = {}): ResolvedOptions {
  const r: ResolvedOptions = {
    percentile: o.percentile ?? DEFAULT_OPTIONS.percentile,
    threshold: o.threshold ?? DEFAULT_OPTIONS.threshold,
    minSamples: o.minSamples ?? DEFAULT_OPTIONS.minSamples,
    minDeltaMs: o.minDeltaMs ?? DEFAULT_OPTIONS.minDeltaMs,
    alpha: o.alpha ?? DEFAULT_OPTIONS.alpha,
    top: o.top ?? DEFAULT_OPTIONS.top,
    traces: o.traces ?? DEFAULT_OPTIONS.traces,
    traceUrl: o.traceUrl ?? null,
  };
  if (!JUDGED_PERCENTILES.includes(r.percentile)) throw new RangeError(`percentile must be one of ${JUDGED_PERCENTILES.join(', ')}, got ${r.percentile}`);
  if (!(r.threshold > 1) || !Number.isFinite(r.threshold)) throw new RangeError(`threshold must be a ratio above 1, got ${r.threshold}`);
  if (!Number.isInteger(r.minSamples) || r.minSamples < 1) throw new RangeError(`minSamples must be a positive integer, got ${r.minSamples}`);
  if (!(r.minDeltaMs >= 0) || !Number.isFinite(r.minDeltaMs)) throw new RangeError(`minDeltaMs must be a non-negative number, got ${r.minDeltaMs}`);
  if (!(r.alpha > 0 && r.alpha < 1)) throw new RangeError(`alpha must be between 0 and 1, got ${r.alpha}`);
  for (const k of ['top', 'traces'] as const) if (!Number.isInteger(r[k]) || r[k] < 0) throw new RangeError(`${k} must be a non-negative integer, got ${r[k]}`);
  if (r.traceUrl !== null && !r.traceUrl.includes('{traceId}')) throw new RangeError(`traceUrl must contain {traceId}, got '${r.traceUrl}'`);
  return r;
}

function bundleInfo(b: EvidenceBundle): BundleInfo {
  const m = b.manifest;
  return {
    dir: b.dir,
    service: m.service,
    host: m.host,
    pid: m.pid,
    createdAt: m.createdAt,
    trigger: m.trigger.kind,
    reason: m.trigger.reason,
    window: { ...m.window },
    snapshot: m.snapshot.status,
    heapProfile: b.heapProfile !== null,
    blip: b.outcome?.triggers.find((t) => t.outcome === 'blip')?.reason ?? null,
  };
}

function sideInfo(bundles: readonly EvidenceBundle[], all: boolean, windows: number): SideInfo {
  const starts = bundles.map((b) => (all && b.manifest.baselineWindow ? Math.min(b.manifest.baselineWindow.startMs, b.manifest.window.startMs) : b.manifest.window.startMs));
  const ends = bundles.map((b) => b.manifest.window.endMs);
  return { bundles: bundles.map(bundleInfo), span: bundles.length ? { startMs: Math.min(...starts), endMs: Math.max(...ends) } : null, windows };
}

const newest = (bs: readonly EvidenceBundle[], f: (b: EvidenceBundle) => boolean): EvidenceBundle | undefined => [...bs].reverse().find(f);

function snapshotNote(side: string, bs: readonly EvidenceBundle[]): string {
  const m = bs.at(-1)?.manifest.snapshot;
  const why = m ? `${m.status}${m.reason ? `: ${m.reason}` : ''}` : 'no bundle';
  return `no heap snapshot on the ${side} side (newest bundle: snapshot ${why})`;
}

function compareHeap(baseline: EvidenceSide, current: EvidenceSide, o: ResolvedOptions): HeapComparison {
  const notes: string[] = [];
  let snapshot = null;
  if (baseline.snapshot && current.snapshot) snapshot = snapshotDiff(baseline.snapshot, current.snapshot, o.top);
  else {
    const has = (bs: readonly EvidenceBundle[]) => bs.some((b) => b.snapshotPath !== null);
    if (!has(baseline.bundles)) notes.push(snapshotNote('baseline', baseline.bundles));
    if (!has(current.bundles)) notes.push(snapshotNote('current', current.bundles));
    if (has(baseline.bundles) && has(current.bundles)) notes.push('both sides have a snapshot but they were not analyzed (loadEvidence analyzes them)');
    notes.push('classes are compared only when both sides have a snapshot; allocation sites come from the sampling heap profile');
  }
  let profile = null;
  const cp = newest(current.bundles, (b) => b.heapProfile !== null);
  const bp = newest(baseline.bundles, (b) => b.heapProfile !== null);
  if (cp) {
    if (!bp) notes.push('no sampling heap profile on the baseline side: allocation sites show everything in use now as growth');
    profile = profileDiff(bp?.heapProfile ?? null, cp.heapProfile!, o.top, { baseline: bp?.heapProfilePath ?? null, current: cp.heapProfilePath! });
  } else notes.push('no sampling heap profile (heap.pb.gz) on the current side');
  return { baseline: heapSideStats(baseline.bundles.at(-1)), current: heapSideStats(current.bundles.at(-1)), snapshot, profile, notes };
}

function slowTraces(current: readonly EvidenceBundle[], ops: readonly OperationComparison[], o: ResolvedOptions): SlowTraceRef[] {
  const key = (kind: string, op: string) => `${kind}\u0000${op}`;
  const regressed = new Set(ops.filter((x) => x.status === 'regressed').map((x) => key(x.kind, x.operation)));
  const byOp = new Map<string, SlowTraceRef[]>();
  const seen = new Set<string>();
  for (const b of current) {
    const file = join(b.dir, b.manifest.files.traces);
    for (const t of b.traces.operations) {
      const k = key(t.kind, t.operation);
      for (const s of t.slowest) {
        const id = `${s.traceId}/${s.spanId ?? ''}`;
        if (seen.has(id)) continue;
        seen.add(id);
        const ref: SlowTraceRef = {
          kind: t.kind,
          operation: t.operation,
          traceId: s.traceId,
          spanId: s.spanId ?? null,
          durationMs: s.durationS * 1000,
          atMs: s.atMs,
          regressed: regressed.has(k),
          url: o.traceUrl ? o.traceUrl.replaceAll('{traceId}', s.traceId) : null,
          file,
        };
        const l = byOp.get(k);
        if (l) l.push(ref);
        else byOp.set(k, [ref]);
      }
    }
  }
  for (const l of byOp.values()) l.sort((a, b) => b.durationMs - a.durationMs || (a.traceId < b.traceId ? -1 : 1));
  // regressed operations first, in the order of the latency table, 5 each; then the slowest of the rest
  const first = ops.filter((x) => x.status === 'regressed').flatMap((x) => (byOp.get(key(x.kind, x.operation)) ?? []).slice(0, 5));
  const taken = new Set(first);
  const rest = [...byOp.values()].flat().filter((t) => !taken.has(t)).sort((a, b) => b.durationMs - a.durationMs || (a.traceId < b.traceId ? -1 : 1));
  return [...first, ...rest].slice(0, o.traces);
}

function latencyVerdict(ops: readonly OperationComparison[], o: ResolvedOptions): string {
  const P = pLabel(o.percentile);
  const reg = ops.filter((x) => x.status === 'regressed');
  const describe = (x: OperationComparison) => {
    const b = judgedValue(x, 'baseline');
    const c = judgedValue(x, 'current');
    return `${x.operation} regressed: ${P} ${fmtMs(b)} → ${fmtMs(c)} (${fmtRatio(c / Math.max(b, 0.001))}, n=${num(x.baseline!.count)} vs ${num(x.current!.count)})`;
  };
  if (reg.length > 0) {
    const more = reg.slice(1, 4).map((x) => `${x.operation} (${fmtRatio(judgedValue(x, 'current') / Math.max(judgedValue(x, 'baseline'), 0.001))})`);
    const tail = reg.length > 4 ? ` and ${reg.length - 4} more` : '';
    return `${describe(reg[0]!)}.${more.length ? ` Also regressed: ${more.join(', ')}${tail}.` : ''}`;
  }
  const judged = ops.filter((x) => x.judged);
  const insufficient = ops.filter((x) => x.status === 'insufficient').length;
  let s = `No operation regressed (${P} ≥ ${o.threshold}x and +${o.minDeltaMs} ms, tail test p < ${o.alpha}, n ≥ ${o.minSamples} on both sides)`;
  const worst = judged.filter((x) => x.status !== 'insufficient').sort((a, b) => judgedValue(b, 'current') / Math.max(judgedValue(b, 'baseline'), 0.001) - judgedValue(a, 'current') / Math.max(judgedValue(a, 'baseline'), 0.001))[0];
  if (worst) s += `; largest change ${worst.operation} ${P} ${fmtMs(judgedValue(worst, 'baseline'))} → ${fmtMs(judgedValue(worst, 'current'))}`;
  if (insufficient) s += `; ${insufficient} operation${insufficient === 1 ? '' : 's'} with too few samples`;
  return `${s}.`;
}

function heapVerdict(h: HeapComparison): string | null {
  const hb = h.baseline?.usedAfterGcBytes ?? h.baseline?.usedHeapBytes ?? null;
  const hc = h.current?.usedAfterGcBytes ?? h.current?.usedHeapBytes ?? null;
  const growth = hb !== null && hc !== null ? hc - hb : h.snapshot ? h.snapshot.totals.selfSize.delta : null;
  const cls = h.snapshot?.classes[0];
  // the service's own code leads; a site inside instrumentation only when nothing else grew
  const site = [...(h.profile?.sites ?? [])].sort((x, y) => siteRank(x) - siteRank(y))[0];
  let lead = '';
  if (cls && cls.retained.delta > 0) lead = `, led by ${cls.name} (${signedNum(cls.count.delta)} objects, ${signedBytes(cls.retained.delta)} retained)`;
  else if (site) lead = `, led by allocation site ${site.site}${originTag(site)} (${signedBytes(site.inuseBytes.delta)} in use, sampled)`;
  if (growth === null) return lead ? `Heap${lead.replace(/^, led by/, ': largest growth')}.` : null;
  const from = hb !== null && hc !== null ? ` (${formatBytes(hb)} → ${formatBytes(hc)} used${h.baseline?.usedAfterGcBytes != null && h.current?.usedAfterGcBytes != null ? ' after GC' : ''})` : '';
  return `Heap ${growth >= 0 ? 'grew' : 'shrank'} ${signedBytes(growth)}${from}${lead}.`;
}

function runtimeVerdict(r: RuntimeComparison): string | null {
  const b = r.baseline;
  const c = r.current;
  if (!b || !c) return null;
  return `GC pause time ${fmtChange(b.gc.pauseMsPerMinute, c.gc.pauseMsPerMinute)} (${fmtMs(b.gc.pauseMsPerMinute)}/min → ${fmtMs(c.gc.pauseMsPerMinute)}/min); event-loop delay p99 ${fmtMs(b.eventLoop.p99Ms)} → ${fmtMs(c.eventLoop.p99Ms)}.`;
}

/** Compares the CURRENT side with the BASELINE side. Pure: no I/O. */
export function diagnose(baseline: EvidenceSide, current: EvidenceSide, opts: DiagnoseOptions = {}): DiagnoseReport {
  const o = resolveOptions(opts);
  const { operations, baselineWindows, currentWindows } = compareOperations(baseline.bundles, current.bundles, o);
  const runtime = compareRuntime(baseline.bundles, current.bundles);
  const heap = compareHeap(baseline, current, o);
  const suspects = rankSuspects(heap, runtime, { baseline: baseline.bundles, current: current.bundles });
  const verdict = [latencyVerdict(operations, o), heapVerdict(heap), runtimeVerdict(runtime)].filter((x): x is string => x !== null);
  return {
    reportVersion: 1,
    options: o,
    baseline: sideInfo(baseline.bundles, true, baselineWindows),
    current: sideInfo(current.bundles, false, currentWindows),
    verdict,
    regressed: operations.filter((x) => x.status === 'regressed').length,
    operations,
    runtime,
    heap,
    suspects,
    slowTraces: slowTraces(current.bundles, operations, o),
  };
}
