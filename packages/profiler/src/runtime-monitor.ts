// GC pauses, event-loop delay and utilization, and heap used after GC, cut into the evaluation
// windows. One PerformanceObserver and one event-loop delay histogram for the whole process.
import { constants, monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import type { ELDHistogram, EventLoopUtilization, PerformanceEntry } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { GcStats, RuntimeWindowStats } from '@tailtrace/formats';

type GcKind = keyof GcStats['byKind'];

const emptyGc = (): GcStats => ({
  count: 0,
  totalPauseMs: 0,
  maxPauseMs: 0,
  byKind: {
    minor: { count: 0, totalPauseMs: 0 },
    major: { count: 0, totalPauseMs: 0 },
    incremental: { count: 0, totalPauseMs: 0 },
    weakcb: { count: 0, totalPauseMs: 0 },
  },
});

function gcKind(flag: number): GcKind {
  switch (flag) {
    case constants.NODE_PERFORMANCE_GC_MAJOR:
      return 'major';
    case constants.NODE_PERFORMANCE_GC_INCREMENTAL:
      return 'incremental';
    case constants.NODE_PERFORMANCE_GC_WEAKCB:
      return 'weakcb';
    default:
      return 'minor';
  }
}

/** Heap-after-GC points kept for heap.json's trend: bounded, the oldest dropped. */
const HISTORY_LIMIT = 2000;
/** Per-window list of heap used after major GCs: a GC storm must not grow it without bound. */
const PER_WINDOW_LIMIT = 500;

export interface WindowCut {
  stats: RuntimeWindowStats;
  /** The lowest heap used after a major GC in the window; NaN when there was none. */
  minHeapUsedBytes: number;
  /** Heap used after each major GC of the window, with its time. */
  majors: Array<{ atMs: number; usedBytes: number }>;
}

export class RuntimeMonitor {
  private gc = emptyGc();
  private afterMajor: Array<{ atMs: number; usedBytes: number }> = [];
  private readonly history: Array<{ atMs: number; usedBytes: number }> = [];
  private readonly observer: PerformanceObserver;
  private readonly delay: ELDHistogram;
  private elu: EventLoopUtilization;
  private windowStartMs: number;
  private readonly now: () => number;

  constructor(now: () => number) {
    this.now = now;
    this.windowStartMs = now();
    this.elu = performance.eventLoopUtilization();
    this.delay = monitorEventLoopDelay({ resolution: 20 });
    this.delay.enable();
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.onGc(e);
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  private onGc(e: PerformanceEntry): void {
    const detail = (e as PerformanceEntry & { detail?: { kind?: number } }).detail;
    const kind = gcKind(detail?.kind ?? 0);
    const g = this.gc;
    g.count++;
    g.totalPauseMs += e.duration;
    if (e.duration > g.maxPauseMs) g.maxPauseMs = e.duration;
    g.byKind[kind].count++;
    g.byKind[kind].totalPauseMs += e.duration;
    // Entries arrive batched shortly after the GC: the heap read here is the nearest cheap
    // reading of "after GC" there is (allocation since then only raises it).
    const used = getHeapStatistics().used_heap_size;
    if (kind === 'major') {
      const reading = { atMs: this.now(), usedBytes: used };
      if (this.afterMajor.length < PER_WINDOW_LIMIT) this.afterMajor.push(reading);
      this.history.push(reading);
      if (this.history.length > HISTORY_LIMIT) this.history.splice(0, this.history.length - HISTORY_LIMIT);
    }
  }

  /** The stats since the last cut, without ending the window (for a capture between evaluations). */
  peek(): RuntimeWindowStats {
    const elu = performance.eventLoopUtilization(this.elu);
    const d = this.delay;
    const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0);
    return {
      startMs: this.windowStartMs,
      endMs: this.now(),
      gc: structuredClone(this.gc),
      eventLoop: {
        p50Ms: d.count > 0 ? ms(d.percentile(50)) : 0,
        p99Ms: d.count > 0 ? ms(d.percentile(99)) : 0,
        maxMs: d.count > 0 ? ms(d.max) : 0,
        meanMs: d.count > 0 ? ms(d.mean) : 0,
        utilization: elu.utilization,
      },
      heapUsedAfterGcBytes: this.afterMajor.map((r) => r.usedBytes),
    };
  }

  /** Ends the window: its stats, and a fresh window from now. */
  cut(): WindowCut {
    const stats = this.peek();
    // Only a major GC says what is retained: between them the old generation also holds garbage
    // waiting for the next one (tens of MB under load), so a window without one has no reading.
    const majors = this.afterMajor;
    const minHeapUsedBytes = majors.length > 0 ? Math.min(...majors.map((r) => r.usedBytes)) : NaN;
    this.gc = emptyGc();
    this.afterMajor = [];
    this.delay.reset();
    this.elu = performance.eventLoopUtilization();
    this.windowStartMs = stats.endMs;
    return { stats, minHeapUsedBytes, majors };
  }

  /** Heap used after each major GC over the retained history, oldest first. */
  heapAfterGc(): Array<{ atMs: number; usedBytes: number }> {
    return [...this.history];
  }

  stop(): void {
    this.observer.disconnect();
    this.delay.disable();
  }
}
