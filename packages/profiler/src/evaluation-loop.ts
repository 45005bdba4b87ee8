// The evaluation loop: every windowMs it cuts the window since the last evaluation (each
// operation's latency, the runtime stats, the heap), has the trigger engine judge it, and writes
// what the verdict calls for: one bundle for the window's triggers, an outcome for each earlier
// trigger that proved a blip, or the scheduled baseline bundle once the quiet windows fill the
// runtime baseline. The engine decides (evaluation.ts) and the writer writes (evidence-writer.ts);
// this owns the timing and the state between windows. It runs off the request path, on an unref'd
// timer, and never throws: failures go to `fail`.
import { getHeapStatistics } from 'node:v8';
import type { EncodedWindow, RuntimeWindowStats, TimeWindow } from '@tailtrace/formats';
import { appendOutcome } from './bundle.ts';
import type { EngineBlip, EngineFired, OpReading, TriggerEngine, WindowReadings } from './evaluation.ts';
import type { BundleTrigger, EvidenceWriter, OpEvidence, SnapshotPolicy, WindowData } from './evidence-writer.ts';
import type { LatencySource, TriggerKind } from './profiler.ts';
import type { RuntimeMonitor } from './runtime-monitor.ts';
import type { SnapshotBudget } from './snapshot-budget.ts';
import { policyWants } from './snapshot-policy.ts';
import type { WindowRecorder } from './window-recorder.ts';

const YIELD_EVERY = 16;

export interface EvaluationLoopConfig {
  windowMs: number;
  baselineWindows: number;
  baselineEveryMs: number | false;
  snapshots: SnapshotPolicy;
  now: () => number;
}

export interface EvaluationLoopDeps {
  latency: LatencySource | undefined;
  monitor: Pick<RuntimeMonitor, 'cut'>;
  engine: Pick<TriggerEngine, 'baseline' | 'observe'>;
  writer: EvidenceWriter;
  budget: Pick<SnapshotBudget, 'refund'>;
  recorder: WindowRecorder | undefined;
  /** Keeps a promise in the set stop() waits for. */
  track: <T>(p: Promise<T>) => Promise<T>;
  fail: (where: string, err: unknown) => void;
  /** These two must not throw (the caller guards the user's callbacks). */
  onTrigger: (kind: TriggerKind) => void;
  onBlip: (kind: TriggerKind) => void;
}

/** One window's readings, and what the evaluation needs besides for its bundle. */
interface WindowRead {
  readings: WindowReadings;
  runtime: RuntimeWindowStats;
  baselines: Map<OpReading, EncodedWindow[]>;
}

export class EvaluationLoop {
  private readonly cfg: EvaluationLoopConfig;
  private readonly deps: EvaluationLoopDeps;
  /** The runtime stats of the last baselineWindows quiet windows, oldest first. */
  private readonly runtimeBaseline: RuntimeWindowStats[] = [];
  private lastEvalMs: number;
  private nextBaselineMs: number | null = null;
  private evaluating: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(cfg: EvaluationLoopConfig, deps: EvaluationLoopDeps) {
    this.cfg = cfg;
    this.deps = deps;
    this.lastEvalMs = cfg.now();
  }

  start(): void {
    this.timer = setInterval(() => void this.evaluate(), this.cfg.windowMs);
    this.timer.unref();
  }

  /** One evaluation now (the timer runs one every windowMs). */
  evaluate(): Promise<void> {
    // An evaluation already running (a snapshot takes seconds) is joined, not overlapped.
    if (this.evaluating) return this.evaluating;
    this.evaluating = this.deps.track(this.evaluateOnce().catch((err: unknown) => this.deps.fail('evaluate', err)).finally(() => {
      this.evaluating = null;
    }));
    return this.evaluating;
  }

  /** Stops the timer; an evaluation already running is left to finish (stop() waits for it). */
  stop(): void {
    clearInterval(this.timer);
  }

  /** The runtime baseline as it is now (a copy), for a bundle written between evaluations. */
  runtimeBaselineNow(): RuntimeWindowStats[] {
    return [...this.runtimeBaseline];
  }

  private async evaluateOnce(): Promise<void> {
    const now = this.cfg.now();
    const { readings, runtime, baselines } = await this.readWindow(now);
    const verdict = this.deps.engine.observe(readings);
    this.deps.recorder?.write(readings, runtime, verdict.fired.map((f) => f.id));
    this.lastEvalMs = now;
    for (const b of verdict.blips) await this.recordBlip(b, b.id.startsWith('heap_growth') ? 'heap_growth' : 'p99_regression');
    for (const f of verdict.fired) this.deps.onTrigger(f.kind);
    const data = windowData(readings, baselines, runtime, this.runtimeBaselineNow());
    if (verdict.fired.length > 0) {
      const t = bundleTrigger(verdict.fired);
      await this.deps.writer.write(t, data, policyWants(this.cfg.snapshots, t.kind));
      return;
    }
    if (verdict.quiet) await this.quietWindow(runtime, data, now);
  }

  /** Reads the window since the last evaluation, and each operation's baseline before it joins. */
  private async readWindow(now: number): Promise<WindowRead> {
    const window: TimeWindow = { startMs: this.lastEvalMs, endMs: now };
    // Our own pause (a snapshot, a collection for a profile), and the backlog it left, make the
    // window not judged: its P99 would show our pause, not the service; nor is it any baseline.
    const selfPause = this.deps.writer.disturbedUntilMs >= window.startMs;
    const cut = this.deps.monitor.cut();
    const ops = await this.readOps(window);
    const heapStats = getHeapStatistics();
    const readings: WindowReadings = {
      ...window, selfPause, ops, majors: cut.majors, heapUsedBytes: heapStats.used_heap_size, heapLimitBytes: heapStats.heap_size_limit,
    };
    const baselines = new Map(ops.map((o) => [o, this.deps.engine.baseline(o.kind, o.operation)]));
    return { readings, runtime: cut.stats, baselines };
  }

  /** Reads every operation's window (yielding now and then: 256 operations are many short tasks). */
  private async readOps(window: TimeWindow): Promise<OpReading[]> {
    const latency = this.deps.latency;
    const ops: OpReading[] = [];
    let n = 0;
    for (const ref of latency?.operations() ?? []) {
      // ~0.3 ms per operation, mostly metrics' HDR encode.
      if (++n % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
      const r = latency!.read(ref.kind, ref.operation);
      if (r === undefined) continue;
      const encoded: EncodedWindow = { ...window, encoded: r.count > 0 ? latency!.encode(ref.kind, ref.operation) : '', count: r.count };
      ops.push({ kind: ref.kind, operation: ref.operation, count: r.count, p99: r.percentiles.p99, encoded });
    }
    return ops;
  }

  /** A trigger proved to be a blip: say so in its bundle, and give back the snapshot it took. */
  private async recordBlip(blip: EngineBlip, kind: TriggerKind): Promise<void> {
    this.deps.onBlip(kind);
    this.deps.budget.refund(blip.id);
    const path = this.deps.writer.takeBundleOf(blip.id);
    if (path === undefined) return;
    try {
      await appendOutcome(path, { kind, outcome: 'blip', reason: blip.reason, decidedAt: new Date(this.cfg.now()).toISOString() });
    } catch (err) {
      this.deps.fail('evidence outcome', err);
    }
  }

  /** A quiet window joins the runtime baseline; once that is full, a baseline bundle is due every baselineEveryMs. */
  private async quietWindow(runtime: RuntimeWindowStats, data: WindowData, now: number): Promise<void> {
    this.runtimeBaseline.push(runtime);
    while (this.runtimeBaseline.length > this.cfg.baselineWindows) this.runtimeBaseline.shift();
    const every = this.cfg.baselineEveryMs;
    // Counted on the bundle's own copy (taken before this window joined), so every baseline bundle carries a full one.
    if (every === false || data.runtimeBaseline.length < this.cfg.baselineWindows) return;
    if (this.nextBaselineMs !== null && now < this.nextBaselineMs) return;
    this.nextBaselineMs = now + every;
    await this.deps.writer.write({ kind: 'baseline', reason: `scheduled baseline (every ${(every / 60_000).toFixed(0)} min)` }, data, policyWants(this.cfg.snapshots, 'baseline'));
  }
}

/** What a window's bundle describes. */
function windowData(
  readings: WindowReadings, baselines: ReadonlyMap<OpReading, EncodedWindow[]>, runtime: RuntimeWindowStats, runtimeBaseline: RuntimeWindowStats[],
): WindowData {
  // Each operation with the baseline it was judged against (before this window joined it).
  const ops: OpEvidence[] = readings.ops.filter((o) => o.count > 0).map((o) => ({
    ref: { kind: o.kind, operation: o.operation }, window: o.encoded!, baseline: baselines.get(o) ?? [],
  }));
  return { window: { startMs: readings.startMs, endMs: readings.endMs }, ops, runtime, runtimeBaseline };
}

/** One bundle per evaluation (it holds every operation anyway), named by the worst trigger. */
export function bundleTrigger(fired: EngineFired[]): BundleTrigger {
  // Near the heap limit the heap_limit trigger names it, so no snapshot is attempted.
  const rank = (f: EngineFired) => (f.kind === 'heap_limit' ? 2 : f.kind === 'heap_growth' ? 1 : 0);
  const sorted = [...fired].sort((a, b) => rank(b) - rank(a) || b.severity - a.severity);
  const primary = sorted[0]!;
  const others = sorted.length - 1;
  const reason = others > 0 ? `${primary.reason} (+${others} more trigger${others > 1 ? 's' : ''} this window)` : primary.reason;
  const t: BundleTrigger = { kind: primary.kind, reason, fired: sorted };
  if (primary.operation) t.operation = primary.operation;
  if (primary.observed !== undefined) t.observed = primary.observed;
  if (primary.threshold !== undefined) t.threshold = primary.threshold;
  return t;
}
