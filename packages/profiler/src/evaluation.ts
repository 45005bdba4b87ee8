// The trigger engine: what one evaluation window's readings mean, as a pure function of the
// readings and the engine's state. The evaluation loop (evaluation-loop.ts) gathers the readings (I/O) and writes the
// evidence; a recorded run (JSON lines of WindowReadings, see window-recorder.ts) replays through
// the same engine, so the detectors are tested on real runs, deterministically.
import type { EncodedWindow, OperationKind, OperationRef } from '@tailtrace/formats';
import { HeapGrowthDetector, heapLimitRatio, P99Detector } from './triggers.ts';
import type { Blip, HeapGrowthConfig, HeapReading, P99Config } from './triggers.ts';

export interface OpReading {
  kind: OperationKind;
  operation: string;
  count: number;
  /** Seconds. */
  p99: number;
  /** The window's histogram for evidence bundles (not recorded). */
  encoded?: EncodedWindow;
}

/** Everything the triggers look at in one evaluation window. */
export interface WindowReadings {
  startMs: number;
  endMs: number;
  /** Our own pause (a snapshot, the full GC of an evidence profile read) fell in this window. */
  selfPause: boolean;
  ops: OpReading[];
  /** Heap used right after each major GC of the window. */
  majors: HeapReading[];
  heapUsedBytes: number;
  heapLimitBytes: number;
}

export type EngineTriggerKind = 'p99_regression' | 'heap_growth' | 'heap_limit';

export interface EngineFired {
  /** Names this trigger for a later blip verdict: `${kind} ${operation}@${atMs}`. */
  id: string;
  kind: EngineTriggerKind;
  reason: string;
  operation?: OperationRef;
  observed?: number;
  threshold?: number;
  /** Orders the triggers of one window: the worst one names the bundle. */
  severity: number;
  /**
   * How bad, comparable between triggers of one kind (a P99 in seconds, a growth rate in bytes per
   * minute; 0 for heap_limit): a snapshot spent on a milder one does not block a much worse one.
   */
  level: number;
}

export interface EngineBlip extends Blip {
  /** The id of the trigger that proved to be a blip. */
  id: string;
}

export interface WindowVerdict {
  /** false: a warm-up window or one holding our own pause; nothing in it was judged. */
  judged: boolean;
  fired: EngineFired[];
  /** Some operation is above its threshold (an incident in progress). */
  regressed: boolean;
  /** Judged, nothing regressed: the window may join the runtime baseline. */
  quiet: boolean;
  /** Quiet windows so far, capped at baselineWindows: the runtime baseline is complete at that count. */
  quietWindows: number;
  blips: EngineBlip[];
}

export interface EngineConfig {
  windowMs: number;
  warmupWindows: number;
  baselineWindows: number;
  p99: P99Config | false;
  heapGrowth: HeapGrowthConfig | false;
  heapLimit: { ratio: number; cooldownMs: number } | false;
}

export const opKey = (kind: OperationKind, operation: string): string => `${kind}\u0000${operation}`;
const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export class TriggerEngine {
  private readonly cfg: EngineConfig;
  private readonly p99 = new Map<string, P99Detector>();
  private readonly heapGrowth: HeapGrowthDetector | undefined;
  private lastHeapLimitMs = -Infinity;
  private windows = 0;
  private quietWindows = 0;

  constructor(cfg: EngineConfig) {
    this.cfg = cfg;
    this.heapGrowth = cfg.heapGrowth === false ? undefined : new HeapGrowthDetector(cfg.heapGrowth);
  }

  /** The baseline windows of one operation (their histograms), oldest first. */
  baseline(kind: OperationKind, operation: string): EncodedWindow[] {
    const out: EncodedWindow[] = [];
    for (const w of this.p99.get(opKey(kind, operation))?.baseline() ?? []) if (w.encoded) out.push(w.encoded);
    return out;
  }

  observe(r: WindowReadings): WindowVerdict {
    const warm = this.windows++ >= this.cfg.warmupWindows;
    const judged = warm && !r.selfPause;
    const v: WindowVerdict = { judged, fired: [], regressed: false, quiet: false, quietWindows: this.quietWindows, blips: [] };
    this.observeLatency(r, v);
    this.observeHeap(r, v, warm);
    if (judged && !v.regressed && v.fired.length === 0) {
      v.quiet = true;
      this.quietWindows = Math.min(this.quietWindows + 1, this.cfg.baselineWindows);
      v.quietWindows = this.quietWindows;
    }
    return v;
  }

  private observeLatency(r: WindowReadings, v: WindowVerdict): void {
    const cfg = this.cfg.p99;
    const seen = new Set<string>();
    for (const op of r.ops) {
      const key = opKey(op.kind, op.operation);
      seen.add(key);
      if (cfg === false) continue;
      let det = this.p99.get(key);
      if (det === undefined) this.p99.set(key, (det = new P99Detector(cfg)));
      // Warm-up and our own pauses are neither a verdict nor a baseline.
      if (!v.judged) continue;
      const w = { count: op.count, p99: op.p99, ...(op.encoded ? { encoded: op.encoded } : {}) };
      const d = det.observe(w, r.endMs);
      if (d.regressed) v.regressed = true;
      if (d.blip) v.blips.push({ ...d.blip, id: `p99_regression ${op.operation}@${d.blip.firedAtMs}` });
      if (!d.trigger) continue;
      v.fired.push({
        id: `p99_regression ${op.operation}@${r.endMs}`,
        kind: 'p99_regression',
        reason: `P99 of ${op.operation} ${ms(op.p99)} > ${cfg.factor.toFixed(1)} x baseline ${ms(d.baselineP99)} (n=${op.count})`,
        operation: { kind: op.kind, operation: op.operation },
        observed: op.p99,
        threshold: d.threshold,
        severity: op.p99 / d.baselineP99,
        level: op.p99,
      });
    }
    // Operations the latency source dropped (idle) lose their state.
    for (const key of this.p99.keys()) if (!seen.has(key)) this.p99.delete(key);
  }

  private observeHeap(r: WindowReadings, v: WindowVerdict, warm: boolean): void {
    // A service's heap grows while it warms up (code, caches, pools): growth is judged only once
    // a full baseline of quiet windows exists, and readings before that are not kept. A window
    // holding our own pause is judged here: the full GC we forced is the best reading there is.
    const growth = this.heapGrowth;
    if (growth && warm && this.quietWindows >= this.cfg.baselineWindows) {
      const h = growth.observe(r.majors, r.endMs);
      if (h.blip) v.blips.push({ ...h.blip, id: `heap_growth@${h.blip.firedAtMs}` });
      if (h.trigger) {
        const first = h.series[0]!;
        const lastR = h.series[h.series.length - 1]!;
        v.fired.push({
          id: `heap_growth@${r.endMs}`,
          kind: 'heap_growth',
          reason: `heap used after GC grew ${mib(h.growthBytes)} in ${((lastR.atMs - first.atMs) / 1000).toFixed(0)} s ` +
            `(${mib(h.bytesPerMin)}/min over ${h.series.length} major GCs, tau ${h.tau.toFixed(2)}): ${mib(first.usedBytes)} -> ${mib(lastR.usedBytes)}`,
          observed: h.growthBytes,
          threshold: (this.cfg.heapGrowth as HeapGrowthConfig).minGrowthBytes,
          severity: Infinity,
          level: h.bytesPerMin,
        });
      }
    }
    const limit = this.cfg.heapLimit;
    if (limit !== false) {
      const ratio = heapLimitRatio(r.heapUsedBytes, r.heapLimitBytes);
      if (ratio >= limit.ratio && r.endMs - this.lastHeapLimitMs >= limit.cooldownMs) {
        this.lastHeapLimitMs = r.endMs;
        v.fired.push({
          id: `heap_limit@${r.endMs}`,
          kind: 'heap_limit',
          reason: `heap used ${mib(r.heapUsedBytes)} is ${(ratio * 100).toFixed(0)}% of the ${mib(r.heapLimitBytes)} limit`,
          observed: r.heapUsedBytes,
          threshold: limit.ratio * r.heapLimitBytes,
          severity: Infinity,
          level: 0,
        });
      }
    }
  }
}
