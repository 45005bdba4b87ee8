// Trigger decisions, as pure state machines fed one evaluation window at a time. No clocks or I/O
// here: the caller passes the window's readings and the time, so the thresholds are tested on
// exact sequences.
import type { EncodedWindow } from './evidence-format.ts';

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
}

export interface P99Window {
  encoded: EncodedWindow;
  /** Seconds. */
  p99: number;
}

export interface P99Verdict {
  /** The window was judged (enough samples, baseline ready) and is above the threshold. */
  regressed: boolean;
  /** Regressed and out of cool-down: write evidence now. */
  trigger: boolean;
  /** Seconds; NaN when no baseline yet. */
  baselineP99: number;
  /** Seconds: the value p99 had to exceed. */
  threshold: number;
  baselineCount: number;
}

/** A baseline needs a few windows: one window is not a rolling level (and may be JIT warm-up). */
export const MIN_BASELINE_WINDOWS = 3;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * P99 of one operation against the median of its own recent windows' p99s. The median rather
 * than the p99 of the merged baseline: one spiky window (a deploy, a GC storm) in the baseline
 * moves a merged p99 a lot and the median not at all, and it needs no HDR decoding, so an
 * evaluation costs one read() and one encode() per operation.
 */
export class P99Detector {
  private readonly cfg: P99Config;
  private windows: P99Window[] = [];
  private regressedRun: P99Window[] = [];
  private runTriggered = false;
  private lastTriggerMs = -Infinity;

  constructor(cfg: P99Config) {
    this.cfg = cfg;
  }

  /** The disjoint windows the current verdicts are judged against, oldest first. */
  baseline(): readonly P99Window[] {
    return this.windows;
  }

  observe(w: P99Window, nowMs: number): P99Verdict {
    const c = this.cfg;
    const baselineCount = this.windows.reduce((a, b) => a + b.encoded.count, 0);
    const ready = this.windows.length >= Math.min(MIN_BASELINE_WINDOWS, c.baselineWindows) && baselineCount >= c.minSamples;
    const baselineP99 = this.windows.length === 0 ? NaN : median(this.windows.map((x) => x.p99));
    const threshold = Math.max(c.factor * baselineP99, baselineP99 + c.minDeltaMs / 1000);
    const verdict: P99Verdict = { regressed: false, trigger: false, baselineP99, threshold, baselineCount };
    if (w.encoded.count === 0) return verdict;
    const above = ready && w.p99 > threshold;
    if (w.encoded.count < c.minSamples) {
      // Too few samples to judge; it informs the baseline only if it does not look regressed.
      if (!above) this.join(w);
      return verdict;
    }
    if (!above) {
      this.regressedRun = [];
      this.runTriggered = false;
      this.join(w);
      return verdict;
    }
    verdict.regressed = true;
    // One run of regressed windows is one incident: at most one trigger (the first window out of
    // cool-down); the cool-down separates incidents.
    if (!this.runTriggered && this.regressedRun.length + 1 >= c.sustain && nowMs - this.lastTriggerMs >= c.cooldownMs) {
      this.lastTriggerMs = nowMs;
      this.runTriggered = true;
      verdict.trigger = true;
    }
    // A regressed window stays out of the baseline, else a leak becomes normal in a few windows;
    // but a level that persists for rebaselineAfter windows is the new normal.
    this.regressedRun.push(w);
    if (this.regressedRun.length >= Math.max(c.rebaselineAfter, c.sustain + 1)) {
      for (const r of this.regressedRun) this.join(r);
      this.regressedRun = [];
      this.runTriggered = false;
    }
    return verdict;
  }

  private join(w: P99Window): void {
    this.windows.push(w);
    while (this.windows.length > this.cfg.baselineWindows) this.windows.shift();
  }
}

export interface HeapGrowthConfig {
  /** Consecutive rises required (so windows + 1 readings). */
  windows: number;
  minGrowthBytes: number;
  cooldownMs: number;
}

export interface HeapGrowthVerdict {
  trigger: boolean;
  /** Rise over the last `windows` windows (bytes), when the readings were all rising. */
  growthBytes: number;
  /** Oldest first: the window minima that were judged. */
  series: number[];
}

/** Sustained growth of heap used after GC: it rose in each of the last N windows by minGrowthBytes in total. */
export class HeapGrowthDetector {
  private readonly cfg: HeapGrowthConfig;
  private readings: number[] = [];
  private lastTriggerMs = -Infinity;

  constructor(cfg: HeapGrowthConfig) {
    this.cfg = cfg;
  }

  /** `minUsedBytes`: the window's lowest heap used after a major GC (NaN: no reading this window). */
  observe(minUsedBytes: number, nowMs: number): HeapGrowthVerdict {
    const n = this.cfg.windows;
    if (Number.isFinite(minUsedBytes)) {
      this.readings.push(minUsedBytes);
      while (this.readings.length > n + 1) this.readings.shift();
    }
    const series = [...this.readings];
    const verdict: HeapGrowthVerdict = { trigger: false, growthBytes: 0, series };
    if (series.length < n + 1) return verdict;
    for (let i = 1; i < series.length; i++) if (series[i]! <= series[i - 1]!) return verdict;
    verdict.growthBytes = series[series.length - 1]! - series[0]!;
    if (verdict.growthBytes < this.cfg.minGrowthBytes || nowMs - this.lastTriggerMs < this.cfg.cooldownMs) return verdict;
    this.lastTriggerMs = nowMs;
    verdict.trigger = true;
    // Fresh evidence is needed for the next one: N more rises from here.
    this.readings = [series[series.length - 1]!];
    return verdict;
  }
}

/** Heap used as a fraction of the V8 heap limit. */
export function heapLimitRatio(usedHeapSize: number, heapSizeLimit: number): number {
  return heapSizeLimit > 0 ? usedHeapSize / heapSizeLimit : 0;
}
