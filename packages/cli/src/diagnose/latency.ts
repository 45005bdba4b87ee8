// Latency per operation: merge each side's HDR windows and judge every operation.
//
// The baseline side leaves out its stalled windows (see steadyWindows), as the trigger does.
//
// Sides: the BASELINE side is every window of the BASELINE bundle(s) - each operation's `window`
// and its `baseline[]` windows; the CURRENT side is the `window` of the CURRENT bundle(s) only
// (its baseline[] describes the past, not the incident). Windows are identified by
// host + pid + operation + start + end, so the rolling baseline that consecutive bundles of one
// process repeat is counted once, and a window that is on the current side is never also
// counted as baseline (`diagnose X X` compares X's window with X's own baseline windows).
import type { EncodedWindow, OperationRef } from '@tailtrace/formats';
import { fmtMs, fmtRatio, num, pLabel } from './format.ts';
import { countAbove, decodeWindow, merge, mergeEncoded, percentileCurve, valueAt } from './hdr.ts';
import type { Histogram } from './hdr.ts';
import { hypergeometricTail } from './stats.ts';
import type { EvidenceBundle } from './read.ts';
import type { LatencySide, OperationComparison, OperationStatus, Quantiles, ResolvedOptions } from './types.ts';

interface OpWindows {
  op: OperationRef;
  windows: Map<string, EncodedWindow>;
}

const opKey = (o: OperationRef): string => `${o.kind}\u0000${o.operation}`;

export function windowId(b: EvidenceBundle, op: OperationRef, w: { startMs: number; endMs: number }): string {
  return `${b.manifest.host}\u0000${b.manifest.pid}\u0000${opKey(op)}\u0000${w.startMs}\u0000${w.endMs}`;
}

/** Windows per operation of one side; `all`: window + baseline[], else the window only. */
export function sideWindows(bundles: readonly EvidenceBundle[], all: boolean, exclude?: ReadonlySet<string>): Map<string, OpWindows> {
  const out = new Map<string, OpWindows>();
  for (const b of bundles) {
    for (const o of b.histograms.operations) {
      const op: OperationRef = { kind: o.kind, operation: o.operation };
      let e = out.get(opKey(op));
      if (!e) out.set(opKey(op), (e = { op, windows: new Map() }));
      for (const w of all ? [o.window, ...o.baseline] : [o.window]) {
        const id = windowId(b, op, w);
        if (!exclude?.has(id)) e.windows.set(id, w);
      }
    }
  }
  return out;
}

export function windowIds(side: Map<string, OpWindows>): Set<string> {
  const s = new Set<string>();
  for (const e of side.values()) for (const id of e.windows.keys()) s.add(id);
  return s;
}

const PERCENTILES = { p50: 50, p90: 90, p99: 99, p999: 99.9 } as const;
const ms = (us: number): number => us / 1000;

/** A baseline window whose judged percentile is over this many times the median window's is a stall. */
export const STALL_FACTOR = 3;
/** Fewer windows than this have no median worth the name: all are kept. */
const MIN_WINDOWS_FOR_STALLS = 3;

/**
 * The baseline windows without the stalled ones. The service's trigger judges a window against
 * the median of its baseline windows' percentiles, so one window in which the machine stalled
 * (a neighbour's burst, a deploy, a long GC) does not move its baseline. Merged into one
 * histogram, that window's slow requests would lift the baseline's percentile until the very
 * regression that fired the trigger reads "unchanged" (seen: a merged P99 of 101 ms against
 * window P99s of 17 ms). A window over STALL_FACTOR x the median window's percentile is set
 * aside and counted; the report says so.
 */
export function steadyWindows(windows: readonly EncodedWindow[], percentile: number): { kept: EncodedWindow[]; setAside: number } {
  const filled = windows.filter((w) => w.count > 0);
  if (filled.length < MIN_WINDOWS_FOR_STALLS) return { kept: filled, setAside: 0 };
  const values = filled.map((w) => valueAt(decodeWindow(w.encoded), percentile));
  const median = [...values].sort((a, b) => a - b)[(values.length - 1) >> 1]!;
  const kept = filled.filter((_, i) => !(values[i]! > STALL_FACTOR * Math.max(median, 1)));
  return { kept, setAside: filled.length - kept.length };
}

function mergedOf(windows: readonly EncodedWindow[]): Histogram | null {
  const h = mergeEncoded(windows.filter((w) => w.count > 0).map((w) => w.encoded));
  return h && h.totalCount > 0 ? h : null;
}

function describe(h: Histogram, windows: number, setAside = 0): LatencySide {
  return {
    count: h.totalCount,
    windows,
    ...(setAside > 0 ? { stalledWindowsSetAside: setAside } : {}),
    // an all-zero histogram keeps minNonZeroValue at its MAX_SAFE_INTEGER start value
    minMs: ms(Math.min(h.minNonZeroValue, h.maxValue)),
    maxMs: ms(h.maxValue),
    ms: {
      p50: ms(valueAt(h, PERCENTILES.p50)),
      p90: ms(valueAt(h, PERCENTILES.p90)),
      p99: ms(valueAt(h, PERCENTILES.p99)),
      p999: ms(valueAt(h, PERCENTILES.p999)),
    },
  };
}

// 1 µs: the histograms' resolution, so a 0 µs baseline does not make an infinite ratio
const ratioOf = (cur: number, base: number): number => cur / Math.max(base, 0.001);

/**
 * Regressed (or improved) needs all of: n >= minSamples on both sides; the judged percentile moved
 * by >= threshold x and >= minDeltaMs; and the tail test says the move is not noise - of the
 * requests above the pooled percentile, the side that got slower holds more than chance allows
 * (one-sided Fisher exact test, p < alpha).
 */
function judge(base: Histogram, cur: Histogram, o: ResolvedOptions): { status: OperationStatus; why: string; judged: NonNullable<OperationComparison['judged']> } {
  const p = o.percentile;
  const b = ms(valueAt(base, p));
  const c = ms(valueAt(cur, p));
  const nb = base.totalCount;
  const nc = cur.totalCount;
  const pooled = valueAt(merge([base, cur])!, p);
  const ab = countAbove(base, pooled);
  const ac = countAbove(cur, pooled);
  const up = c >= b;
  const pValue = up ? hypergeometricTail(nb + nc, ab + ac, nc, ac) : hypergeometricTail(nb + nc, ab + ac, nb, ab);
  const judged = { percentile: p, deltaMs: c - b, pooledMs: ms(pooled), baselineAbove: ab, currentAbove: ac, pValue };
  const P = pLabel(p);
  if (nb < o.minSamples || nc < o.minSamples) {
    const which = nb < o.minSamples && nc < o.minSamples ? 'either side' : nb < o.minSamples ? 'the baseline side' : 'the current side';
    return { status: 'insufficient', why: `n=${num(nb)} vs ${num(nc)}: fewer than ${o.minSamples} samples on ${which}`, judged };
  }
  const r = up ? ratioOf(c, b) : ratioOf(b, c);
  const head = `${P} ${fmtMs(b)} → ${fmtMs(c)} (${fmtRatio(ratioOf(c, b))})`;
  const tail = `${num(ac)} of ${num(nc)} current vs ${num(ab)} of ${num(nb)} baseline requests above the pooled ${P} ${fmtMs(ms(pooled))} (p = ${fmtP(pValue)})`;
  if (r < o.threshold) return { status: 'unchanged', why: `${head}: change below ${o.threshold}x`, judged };
  if (Math.abs(c - b) < o.minDeltaMs) return { status: 'unchanged', why: `${head}: change below ${o.minDeltaMs} ms`, judged };
  if (!(pValue < o.alpha)) return { status: 'unchanged', why: `${head}, but ${tail}: could be noise (p ≥ ${o.alpha})`, judged };
  return { status: up ? 'regressed' : 'improved', why: `${head}: ${tail}`, judged };
}

const fmtP = (p: number): string => (p < 1e-12 ? '< 1e-12' : p < 0.001 ? p.toExponential(1) : p.toFixed(3));

const curveMs = (h: Histogram | null): Array<[number, number]> => (h ? percentileCurve(h).map(([p, v]) => [p, ms(v)]) : []);

/** How many operations get percentile curves (regressed ones always do). */
const CURVES = 6;

export function compareOperations(baseline: readonly EvidenceBundle[], current: readonly EvidenceBundle[], o: ResolvedOptions): { operations: OperationComparison[]; baselineWindows: number; currentWindows: number } {
  const cur = sideWindows(current, false);
  const base = sideWindows(baseline, true, windowIds(cur));
  const keys = [...new Set([...base.keys(), ...cur.keys()])];
  const rows: Array<OperationComparison & { h: [Histogram | null, Histogram | null] }> = [];
  for (const k of keys) {
    const be = base.get(k);
    const ce = cur.get(k);
    const op = (ce ?? be)!.op;
    const steady = steadyWindows(be ? [...be.windows.values()] : [], o.percentile);
    const bh = mergedOf(steady.kept);
    const ch = mergedOf(ce ? [...ce.windows.values()] : []);
    if (!bh && !ch) continue;
    const bs = bh ? describe(bh, steady.kept.length, steady.setAside) : null;
    const cs = ch ? describe(ch, ce!.windows.size) : null;
    let status: OperationStatus;
    let why: string;
    let judged: OperationComparison['judged'] = null;
    if (!bh) {
      status = 'new';
      why = `only on the current side (n=${num(cs!.count)})`;
    } else if (!ch) {
      status = 'gone';
      why = `only on the baseline side (n=${num(bs!.count)})`;
    } else ({ status, why, judged } = judge(bh, ch, o));
    if (steady.setAside > 0) {
      const n = steady.setAside;
      why += `; ${n} stalled baseline window${n === 1 ? '' : 's'} set aside (${pLabel(o.percentile)} over ${STALL_FACTOR}x the median window's)`;
    }
    const ratio: Quantiles | null =
      bs && cs ? { p50: ratioOf(cs.ms.p50, bs.ms.p50), p90: ratioOf(cs.ms.p90, bs.ms.p90), p99: ratioOf(cs.ms.p99, bs.ms.p99), p999: ratioOf(cs.ms.p999, bs.ms.p999) } : null;
    rows.push({ kind: op.kind, operation: op.operation, status, why, baseline: bs, current: cs, ratio, judged, curve: null, h: [bh, ch] });
  }
  const rank = (r: OperationComparison): number => (r.status === 'regressed' ? 0 : r.status === 'gone' ? 2 : 1);
  const judgedRatio = (r: OperationComparison): number => (r.judged ? ratioOf(judgedValue(r, 'current'), judgedValue(r, 'baseline')) : 0);
  // Among regressions, the service's own entry points first: they are what its callers see. A
  // client call that regressed with them is often the same stall seen from inside (a blocked event
  // loop delays its callbacks too), and it is listed right after.
  const entry = (r: OperationComparison): number => (r.kind === 'http_server' || r.kind === 'rpc_server' ? 0 : 1);
  rows.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (a.status === 'regressed' ? entry(a) - entry(b) || judgedRatio(b) - judgedRatio(a) : 0) ||
      (b.current?.count ?? 0) - (a.current?.count ?? 0) ||
      (b.baseline?.count ?? 0) - (a.baseline?.count ?? 0) ||
      (opKey(a) < opKey(b) ? -1 : 1),
  );
  let curves = 0;
  const operations = rows.map(({ h, ...r }) => {
    if (r.status === 'regressed' || curves < CURVES) {
      curves++;
      return { ...r, curve: { baseline: curveMs(h[0]), current: curveMs(h[1]) } };
    }
    return r;
  });
  const count = (m: Map<string, OpWindows>) => [...m.values()].reduce((s, e) => s + e.windows.size, 0);
  return { operations, baselineWindows: count(base), currentWindows: count(cur) };
}

/** The judged percentile's value (ms) on one side of a judged operation. */
export function judgedValue(r: OperationComparison, side: 'baseline' | 'current'): number {
  const s = r[side]!;
  return quantile(s.ms, r.judged!.percentile);
}

export function quantile(q: Quantiles, percentile: number): number {
  return percentile === 50 ? q.p50 : percentile === 90 ? q.p90 : percentile === 99.9 ? q.p999 : q.p99;
}
