// GC, event loop and ELU per side. Same sides as latency.ts: BASELINE = window + baseline[] of
// the BASELINE bundles, CURRENT = window of the CURRENT bundles, windows deduplicated by
// host + pid + start + end. Rates are per minute of window time so sides of different lengths
// compare; event-loop percentiles cannot be merged exactly from per-window figures, so they are
// duration-weighted means (max is the true max).
import { GC_KINDS } from '@tailtrace/formats';
import type { RuntimeWindowStats } from '@tailtrace/formats';
import type { EvidenceBundle } from './read.ts';
import type { Change, RuntimeComparison, RuntimeSide } from './types.ts';

function collect(bundles: readonly EvidenceBundle[], all: boolean, exclude?: ReadonlySet<string>): Map<string, RuntimeWindowStats> {
  const out = new Map<string, RuntimeWindowStats>();
  for (const b of bundles) {
    for (const w of all ? [b.runtime.window, ...b.runtime.baseline] : [b.runtime.window]) {
      const id = `${b.manifest.host}\u0000${b.manifest.pid}\u0000${w.startMs}\u0000${w.endMs}`;
      if (!exclude?.has(id)) out.set(id, w);
    }
  }
  return out;
}

export function summarizeRuntime(windows: readonly RuntimeWindowStats[]): RuntimeSide | null {
  if (windows.length === 0) return null;
  const ws = [...windows].sort((a, b) => a.startMs - b.startMs);
  const durationMs = ws.reduce((s, w) => s + (w.endMs - w.startMs), 0);
  const minutes = Math.max(durationMs, 1) / 60_000;
  const sum = (f: (w: RuntimeWindowStats) => number) => ws.reduce((s, w) => s + f(w), 0);
  // weights: window length; all-zero lengths (instantaneous windows) weigh equally
  const weight = (w: RuntimeWindowStats) => (durationMs > 0 ? (w.endMs - w.startMs) / durationMs : 1 / ws.length);
  const wmean = (f: (w: RuntimeWindowStats) => number) => ws.reduce((s, w) => s + f(w) * weight(w), 0);
  const count = sum((w) => w.gc.count);
  const totalPauseMs = sum((w) => w.gc.totalPauseMs);
  const byKind = Object.fromEntries(
    GC_KINDS.map((k) => {
      const c = sum((w) => w.gc.byKind[k].count);
      const t = sum((w) => w.gc.byKind[k].totalPauseMs);
      return [k, { count: c, totalPauseMs: t, pauseMsPerMinute: t / minutes }];
    }),
  ) as RuntimeSide['gc']['byKind'];
  const after = ws.flatMap((w) => w.heapUsedAfterGcBytes);
  return {
    windows: ws.length,
    durationMs,
    gc: {
      count,
      countPerMinute: count / minutes,
      totalPauseMs,
      pauseMsPerMinute: totalPauseMs / minutes,
      maxPauseMs: Math.max(0, ...ws.map((w) => w.gc.maxPauseMs)),
      pauseShare: durationMs > 0 ? totalPauseMs / durationMs : 0,
      byKind,
    },
    eventLoop: {
      p50Ms: wmean((w) => w.eventLoop.p50Ms),
      p99Ms: wmean((w) => w.eventLoop.p99Ms),
      maxMs: Math.max(0, ...ws.map((w) => w.eventLoop.maxMs)),
      meanMs: wmean((w) => w.eventLoop.meanMs),
      utilization: wmean((w) => w.eventLoop.utilization),
    },
    heapAfterGc: after.length ? { first: after[0]!, last: after[after.length - 1]!, min: Math.min(...after), max: Math.max(...after), samples: after.length } : null,
  };
}

function change(metric: string, unit: Change['unit'], b: number | null, c: number | null): Change {
  return { metric, unit, baseline: b, current: c, ratio: b !== null && c !== null && b > 0 ? c / b : null };
}

export function compareRuntime(baseline: readonly EvidenceBundle[], current: readonly EvidenceBundle[]): RuntimeComparison {
  const cur = collect(current, false);
  const base = collect(baseline, true, new Set(cur.keys()));
  const b = summarizeRuntime([...base.values()]);
  const c = summarizeRuntime([...cur.values()]);
  const pick = (s: RuntimeSide | null, f: (s: RuntimeSide) => number) => (s ? f(s) : null);
  const changes: Change[] = [
    change('GC pause time', 'ms/min', pick(b, (s) => s.gc.pauseMsPerMinute), pick(c, (s) => s.gc.pauseMsPerMinute)),
    change('GC count', 'count/min', pick(b, (s) => s.gc.countPerMinute), pick(c, (s) => s.gc.countPerMinute)),
    change('GC max pause', 'ms', pick(b, (s) => s.gc.maxPauseMs), pick(c, (s) => s.gc.maxPauseMs)),
    ...GC_KINDS.map((k) => change(`GC ${k} pause time`, 'ms/min', pick(b, (s) => s.gc.byKind[k].pauseMsPerMinute), pick(c, (s) => s.gc.byKind[k].pauseMsPerMinute))),
    change('Event-loop delay p50', 'ms', pick(b, (s) => s.eventLoop.p50Ms), pick(c, (s) => s.eventLoop.p50Ms)),
    change('Event-loop delay p99', 'ms', pick(b, (s) => s.eventLoop.p99Ms), pick(c, (s) => s.eventLoop.p99Ms)),
    change('Event-loop delay max', 'ms', pick(b, (s) => s.eventLoop.maxMs), pick(c, (s) => s.eventLoop.maxMs)),
    change('Event-loop utilization', 'share', pick(b, (s) => s.eventLoop.utilization), pick(c, (s) => s.eventLoop.utilization)),
  ];
  return { baseline: b, current: c, changes };
}
