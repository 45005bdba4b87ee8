// Trigger decisions, as pure state machines fed one evaluation window at a time. No clocks or I/O
// here: the caller passes the window's readings and the time, so the thresholds are tested on
// exact sequences (and on recorded runs, replayed: see evaluation.ts).
import type { EncodedWindow } from '@tailtrace/formats';

export interface P99Config {
  factor: number;
  minSamples: number;
  minDeltaMs: number;
  cooldownMs: number;
  baselineWindows: number;
  /** Consecutive regressed windows after which the new level becomes the baseline. */
  rebaselineAfter: number;
  /**
   * Consecutive regressed windows needed to trigger (1: the first one). A one-window blip (a GC,
   * a neighbour's stall, a backend's snapshot) is not a regression worth evidence; a leak stays.
   */
  sustain: number;
  /**
   * Inside the cool-down (or later in the same incident) a trigger still fires when its P99 is at
   * least this many times the P99 of the one that last fired: a false alarm, or a mild first stage,
   * must not hide a much worse regression.
   */
  escalation: number;
}

export interface P99Window {
  /** Requests in the window. */
  count: number;
  /** Seconds. */
  p99: number;
  /** The window's histogram, kept with the baseline for evidence bundles (absent in replays). */
  encoded?: EncodedWindow;
}

/** An earlier trigger that the windows after it showed to be a blip. */
export interface Blip {
  /** `observe()`'s nowMs when the trigger fired. */
  firedAtMs: number;
  reason: string;
}

export interface P99Verdict {
  /** The baseline is complete: the window was judged (given enough samples). */
  ready: boolean;
  /** The window was judged and is above the threshold. */
  regressed: boolean;
  /** Regressed, sustained, and out of cool-down (or much worse than the last trigger): write evidence now. */
  trigger: boolean;
  /** Seconds; NaN when no baseline yet. */
  baselineP99: number;
  /** Seconds: the value p99 had to exceed. */
  threshold: number;
  baselineCount: number;
  /** Set when this window shows the last trigger was a blip: it ended right after firing. */
  blip?: Blip;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Fired {
  atMs: number;
  p99: number;
}

/** Windows an elevated (under-threshold) level must last before it becomes the baseline. */
const ELEVATED_ACCEPT = 6;

/**
 * P99 of one operation against the median of its own recent windows' p99s. The median rather
 * than the p99 of the merged baseline: one spiky window (a deploy, a GC storm) in the baseline
 * moves a merged p99 a lot and the median not at all, and it needs no HDR decoding.
 *
 * Nothing is judged until the baseline is complete: `baselineWindows` windows of at least
 * `minSamples` requests each. A window with fewer requests is neither judged nor baseline: its
 * p99 is one or two requests, noise either way.
 */
export class P99Detector {
  private readonly cfg: P99Config;
  private windows: P99Window[] = [];
  private regressedRun: P99Window[] = [];
  /** Consecutive windows between the join limit and the threshold: not (yet) the normal. */
  private elevatedRun: P99Window[] = [];
  /** The trigger that fired in the current run of regressed windows, if any. */
  private runFired: Fired | undefined;
  /** The trigger that started the cool-down, and the one before it (restored when the last was a blip). */
  private last: Fired | undefined;
  private beforeLast: Fired | undefined;

  constructor(cfg: P99Config) {
    this.cfg = cfg;
  }

  /** The disjoint windows the current verdicts are judged against, oldest first. */
  baseline(): readonly P99Window[] {
    return this.windows;
  }

  observe(w: P99Window, nowMs: number): P99Verdict {
    const c = this.cfg;
    const baselineCount = this.windows.reduce((a, b) => a + b.count, 0);
    const ready = this.windows.length >= c.baselineWindows;
    const baselineP99 = this.windows.length === 0 ? NaN : median(this.windows.map((x) => x.p99));
    const threshold = Math.max(c.factor * baselineP99, baselineP99 + c.minDeltaMs / 1000);
    const verdict: P99Verdict = { ready, regressed: false, trigger: false, baselineP99, threshold, baselineCount };
    if (w.count < c.minSamples) return verdict;
    if (!ready) {
      this.join(w);
      return verdict;
    }
    if (!(w.p99 > threshold)) {
      const blip = this.endRun(nowMs);
      if (blip) verdict.blip = blip;
      this.settle(w, baselineP99);
      return verdict;
    }
    verdict.regressed = true;
    this.regressedRun.push(w);
    if (this.regressedRun.length >= c.sustain && this.mayFire(w.p99, nowMs)) {
      this.beforeLast = this.last;
      this.last = this.runFired = { atMs: nowMs, p99: w.p99 };
      verdict.trigger = true;
    }
    // A regressed window stays out of the baseline, else a leak becomes normal in a few windows;
    // but a level that persists for rebaselineAfter windows is the new normal.
    if (this.regressedRun.length >= Math.max(c.rebaselineAfter, c.sustain + 1)) {
      for (const r of this.regressedRun) this.join(r);
      this.regressedRun = [];
      this.runFired = undefined;
    }
    return verdict;
  }

  /** Once per incident, and once per cool-down, unless this one is much worse than the last. */
  private mayFire(p99: number, nowMs: number): boolean {
    const worse = (f: Fired | undefined) => f === undefined || p99 >= this.cfg.escalation * f.p99;
    if (this.runFired !== undefined && !worse(this.runFired)) return false;
    const cooling = this.last !== undefined && nowMs - this.last.atMs < this.cfg.cooldownMs;
    return !cooling || worse(this.last);
  }

  /**
   * A judged window under the threshold ends the run. If its trigger fired on the run's last
   * window, the regression was over as soon as it was reported: a blip. It gives back the
   * cool-down it took, so the real regression after a false alarm is still caught.
   */
  private endRun(nowMs: number): Blip | undefined {
    const fired = this.runFired;
    const run = this.regressedRun.length;
    this.regressedRun = [];
    this.runFired = undefined;
    if (fired === undefined || fired !== this.last || run > this.cfg.sustain) return undefined;
    this.last = this.beforeLast;
    this.beforeLast = undefined;
    return { firedAtMs: fired.atMs, reason: `P99 back under its threshold ${((nowMs - fired.atMs) / 1000).toFixed(0)} s after the trigger` };
  }

  /**
   * A window under the threshold joins the baseline only if it is close to it (under sqrt(factor)
   * times the median): a latency that creeps up window by window, each step under the threshold,
   * would otherwise carry the baseline along and never trigger (a leak in a CPU-starved service
   * does exactly that). An elevated level that persists is the new normal after ELEVATED_ACCEPT
   * windows, without a trigger.
   */
  private settle(w: P99Window, baselineP99: number): void {
    const c = this.cfg;
    const joinLimit = Math.max(Math.sqrt(c.factor) * baselineP99, baselineP99 + c.minDeltaMs / 2000);
    if (!(w.p99 > joinLimit)) {
      this.elevatedRun = [];
      this.join(w);
      return;
    }
    this.elevatedRun.push(w);
    if (this.elevatedRun.length >= Math.max(2 * c.rebaselineAfter, ELEVATED_ACCEPT)) {
      for (const e of this.elevatedRun) this.join(e);
      this.elevatedRun = [];
    }
  }

  private join(w: P99Window): void {
    this.windows.push(w);
    while (this.windows.length > this.cfg.baselineWindows) this.windows.shift();
  }
}

export interface HeapGrowthConfig {
  /** The trend is judged over the post-GC readings of the last `spanMs`. */
  spanMs: number;
  /** Rise over the span (robust slope × time covered) needed to trigger. */
  minGrowthBytes: number;
  /** Readings needed in the span; they must cover at least three quarters of it (MIN_COVER). */
  minReadings: number;
  /**
   * Kendall's tau of the readings against time (1: every later reading is higher). Old-generation
   * garbage, caches that fill and flush, and GC timing make a saw-tooth: its tau stays near 0.
   */
  minTau: number;
  cooldownMs: number;
  /** Inside the cool-down a growth at least this many times faster than the last trigger's still fires. */
  escalation: number;
}

export interface HeapReading {
  atMs: number;
  usedBytes: number;
}

export interface HeapGrowthVerdict {
  trigger: boolean;
  /** Robust rise over the readings judged (bytes); 0 when not judged. */
  growthBytes: number;
  /** Bytes per minute (Theil–Sen slope); 0 when not judged. */
  bytesPerMin: number;
  tau: number;
  /** Oldest first: the readings that were judged. */
  series: HeapReading[];
  /** Set when the heap fell back below where the last trigger's growth started. */
  blip?: Blip;
}

/** Kendall's tau-a of values against their order (time). */
export function kendallTau(ys: readonly number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += Math.sign(ys[j]! - ys[i]!);
  return s / ((n * (n - 1)) / 2);
}

/** Theil–Sen slope (median of pairwise slopes): a few odd readings do not move it. */
export function theilSen(points: readonly HeapReading[]): number {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const dt = points[j]!.atMs - points[i]!.atMs;
      if (dt > 0) slopes.push((points[j]!.usedBytes - points[i]!.usedBytes) / dt);
    }
  }
  return slopes.length === 0 ? 0 : median(slopes);
}

interface HeapFired {
  atMs: number;
  bytesPerMin: number;
  /** The level the growth started from: falling back below it makes the trigger a blip. */
  fromBytes: number;
}

/** Bounds the readings kept however often major GCs run. */
const MAX_READINGS = 256;
/**
 * The readings judged must span this much of the span: a cache that fills for a while and is then
 * flushed rises for part of the span; judged over most of it, the fall is in the series too.
 */
const MIN_COVER = 0.75;
/** Major GCs closer than this are one collection (a forced GC, a last-resort GC). */
const BURST_MS = 1000;

/**
 * Sustained growth of the heap used after major GCs: the trend of the readings over a time span,
 * not a streak per window, so windows without a major GC (a slow leak between collections) and one
 * odd reading do not hide it. Only major GCs say what is retained: between them the old generation
 * also holds garbage waiting to be collected.
 */
export class HeapGrowthDetector {
  private readonly cfg: HeapGrowthConfig;
  private readings: HeapReading[] = [];
  private last: HeapFired | undefined;
  private beforeLast: HeapFired | undefined;
  /** Readings before this time were judged already (a trigger needs fresh evidence). */
  private sinceMs = -Infinity;

  constructor(cfg: HeapGrowthConfig) {
    this.cfg = cfg;
  }

  /** `readings`: the window's heap-used-after-major-GC readings (none: no major GC in it). */
  observe(readings: readonly HeapReading[], nowMs: number): HeapGrowthVerdict {
    const c = this.cfg;
    for (const r of readings) this.add(r);
    const from = Math.max(nowMs - c.spanMs, this.sinceMs);
    this.readings = this.readings.filter((r) => r.atMs >= nowMs - c.spanMs).slice(-MAX_READINGS);
    const series = this.readings.filter((r) => r.atMs >= from);
    const verdict: HeapGrowthVerdict = { trigger: false, growthBytes: 0, bytesPerMin: 0, tau: 0, series };
    const blip = this.blip(nowMs);
    if (blip) verdict.blip = blip;
    if (series.length < c.minReadings) return verdict;
    const covered = series[series.length - 1]!.atMs - series[0]!.atMs;
    if (covered < c.spanMs * MIN_COVER) return verdict;
    verdict.tau = kendallTau(series.map((r) => r.usedBytes));
    const slope = theilSen(series);
    verdict.bytesPerMin = slope * 60_000;
    verdict.growthBytes = slope * covered;
    if (verdict.tau < c.minTau || verdict.growthBytes < c.minGrowthBytes) return verdict;
    const cooling = this.last !== undefined && nowMs - this.last.atMs < c.cooldownMs;
    if (cooling && verdict.bytesPerMin < c.escalation * this.last!.bytesPerMin) return verdict;
    this.beforeLast = this.last;
    this.last = { atMs: nowMs, bytesPerMin: verdict.bytesPerMin, fromBytes: Math.min(...series.map((r) => r.usedBytes)) };
    this.sinceMs = nowMs;
    verdict.trigger = true;
    return verdict;
  }

  /**
   * One reading per burst: a forced collection runs several major GCs back to back, each reported;
   * equal readings would count as ties against the trend. The lowest of a burst is the live set.
   */
  private add(r: HeapReading): void {
    if (!Number.isFinite(r.usedBytes) || !Number.isFinite(r.atMs)) return;
    const prev = this.readings[this.readings.length - 1];
    if (prev !== undefined && r.atMs - prev.atMs < BURST_MS) {
      if (r.usedBytes < prev.usedBytes) this.readings[this.readings.length - 1] = { atMs: prev.atMs, usedBytes: r.usedBytes };
      return;
    }
    this.readings.push({ atMs: r.atMs, usedBytes: r.usedBytes });
  }

  /** Within a span after the last trigger, a reading under the level its growth started from. */
  private blip(nowMs: number): Blip | undefined {
    const l = this.last;
    if (l === undefined || nowMs - l.atMs > this.cfg.spanMs) return undefined;
    const under = this.readings.find((r) => r.atMs > l.atMs && r.usedBytes < l.fromBytes);
    if (under === undefined) return undefined;
    this.last = this.beforeLast;
    this.beforeLast = undefined;
    return { firedAtMs: l.atMs, reason: `heap used after GC fell back to ${(under.usedBytes / 2 ** 20).toFixed(1)} MiB, under the ${(l.fromBytes / 2 ** 20).toFixed(1)} MiB the growth started from` };
  }
}

/** Heap used as a fraction of the V8 heap limit. */
export function heapLimitRatio(usedHeapSize: number, heapSizeLimit: number): number {
  return heapSizeLimit > 0 ? usedHeapSize / heapSizeLimit : 0;
}
