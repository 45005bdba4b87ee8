// createProfiler: the runtime side of heap evidence. Every windowMs it reads each operation's
// latency window and the runtime stats, runs the triggers, and on a trigger writes an evidence
// bundle (cheap evidence always; a full snapshot only when the policy asks and the guard allows).
// Everything runs off the request path, on unref'd timers, and nothing here throws into the
// service: failures are counted and the first one is logged to stderr.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { appendOutcome } from './bundle.ts';
import { evidenceResponse, handleEvidenceRequest } from './endpoint.ts';
import type { EvidenceRequestResult } from './endpoint.ts';
import type {
  EncodedWindow, EvidenceTriggerKind, OperationKind, OperationRef, RuntimeWindowStats, SlowTrace, TimeWindow,
} from './evidence-format.ts';
import { claimOf, createEvidenceWriter } from './evidence-writer.ts';
import type { BundleTrigger, CaptureResult, OpEvidence, SnapshotPolicy, WindowData } from './evidence-writer.ts';
import { RuntimeMonitor } from './runtime-monitor.ts';
import { systemProbe } from './system-probe.ts';
import type { SystemProbe } from './system-probe.ts';
import { TriggerEngine } from './evaluation.ts';
import type { EngineBlip, EngineConfig, EngineFired, OpReading, WindowReadings } from './evaluation.ts';
import type { HeapGrowthConfig, P99Config } from './triggers.ts';
import { SnapshotBudget } from './snapshot-budget.ts';
import { createWindowRecorder } from './window-recorder.ts';
import type { WindowRecorder } from './window-recorder.ts';
import { createDebugHandler } from './debug-handler.ts';
import type { RequestTarget } from './debug-handler.ts';
import { startHeapSampling } from './heap-sampler.ts';
import type { HeapSampler, HeapSamplerOptions } from './heap-sampler.ts';

/** The latency windows per operation; instrument() passes metrics.hdr. */
export interface LatencySource {
  operations(): OperationRef[];
  /** Percentiles in seconds over the current window. */
  read(kind: OperationKind, operation: string): { count: number; percentiles: { p50: number; p90: number; p99: number; p999: number } } | undefined;
  /** Base64 HDR V2 compressed histogram (µs) of the current window; '' when unknown. */
  encode(kind: OperationKind, operation: string): string;
  /** The slowest sampled requests of the current window, slowest first. */
  slowest(kind: OperationKind, operation: string): SlowTrace[];
}

export type TriggerKind = Exclude<EvidenceTriggerKind, 'baseline'>;
export type { CaptureResult, SnapshotPolicy } from './evidence-writer.ts';
export { packageVersion } from './evidence-writer.ts';

export interface EvidenceOptions {
  /** Default: env TAILTRACE_EVIDENCE_DIR, else <os tmpdir>/tailtrace-evidence/<serviceName>. */
  dir?: string;
  /** Evaluation period: the metrics HDR window length (default 60 000), so consecutive reads are disjoint windows. */
  windowMs?: number;
  /** Disjoint past windows forming each rolling baseline (default 5). */
  baselineWindows?: number;
  /**
   * Windows after start that are neither judged nor part of any baseline (default 1): a process
   * that just started is compiling, filling caches and sizing its heap, which is not its normal.
   */
  warmupWindows?: number;
  /** A scheduled 'baseline' bundle this often, the first as soon as the baseline is full (default 1 h; false: none). */
  baselineEveryMs?: number | false;
  p99?: false | {
    /** Current p99 must exceed factor × baseline p99 (default 2). */
    factor?: number;
    /** Samples needed in the window and in the baseline (default 100). */
    minSamples?: number;
    /** And exceed the baseline by at least this much (default 5 ms): no triggers on microsecond noise. */
    minDeltaMs?: number;
    /** Per operation (default 30 min). */
    cooldownMs?: number;
    /** A regression lasting this many consecutive windows becomes the new baseline (default 3), so a permanent shift triggers once. */
    rebaselineAfter?: number;
    /** Consecutive regressed windows needed to trigger (default 2): a one-window blip is not evidence-worthy. */
    sustain?: number;
    /**
     * Inside the cool-down, or later in the same incident, a P99 at least this many times the one
     * that last triggered still triggers (default 2): a false alarm cannot hide a real regression.
     */
    escalation?: number;
  };
  heapGrowth?: false | {
    /** The trend of heap used after major GCs is judged over this many windows (default 10). */
    windows?: number;
    /** Growth over that span needed to trigger (default 16 MiB). */
    minGrowthBytes?: number;
    /** Major-GC readings needed in the span (default 3). */
    minReadings?: number;
    /** How steadily the readings must rise: Kendall's tau against time (default 0.6; 1 = every reading higher). */
    minTau?: number;
    /** Default 30 min. */
    cooldownMs?: number;
    /** Inside the cool-down a growth this many times faster than the last trigger's still triggers (default 2). */
    escalation?: number;
  };
  heapLimit?: false | {
    /** Heap used / heap_size_limit at which cheap evidence is taken, never a snapshot (default 0.85). */
    ratio?: number;
    /** Default 30 min. */
    cooldownMs?: number;
  };
  /**
   * When a full snapshot is attempted (always subject to the guard): 'manual' (default) on signal
   * and endpoint requests only; 'triggers' also on p99/heap-growth triggers and baseline bundles
   * (a diff needs both sides); 'never'. A heap_limit trigger never takes one.
   */
  snapshots?: SnapshotPolicy;
  /**
   * At most one snapshot per trigger kind per this interval (default 10 min), unless the trigger is
   * much worse than the one that took the last (see p99.escalation): a snapshot spent on a false
   * alarm must not leave the real regression without one. Manual captures share one limit.
   */
  minSnapshotIntervalMs?: number;
  /** Never two snapshots closer than this, whatever triggered them (default 60 s). */
  minSnapshotGapMs?: number;
  /**
   * Write what the triggers saw, one JSON line per window, to this file (default env
   * TAILTRACE_EVIDENCE_RECORD): a recording replays through the trigger engine (window-recorder.ts).
   */
  recordTo?: string;
  /**
   * Keep V8's object ids after a snapshot, so `tailtrace heap leaks` can match objects across
   * three snapshots of this process (default false). A snapshot turns on id tracking, which makes
   * every later GC several times slower for the life of the process; by default it is turned off
   * again right after each snapshot.
   */
  keepSnapshotObjectIds?: boolean;
  /** Refuse a snapshot whose estimated pause exceeds this (default 30 s: about when a default Kubernetes liveness probe gives up). */
  maxPauseMs?: number;
  /** Size budget of the evidence directory (default 1 GiB); the oldest bundles are evicted. */
  quotaBytes?: number;
  /** Opt-in signal that writes a bundle with a snapshot (subject to the guard), e.g. 'SIGUSR2'. */
  signal?: NodeJS.Signals | false;
  /** Bearer token for POST /debug/tailtrace/evidence (default env TAILTRACE_EVIDENCE_TOKEN); the endpoint is off without one. */
  token?: string;
  /** Readers of memory, cgroup and disk, and the snapshot writer: for fault tests only. */
  system?: Partial<SystemProbe>;
  /** Wall clock in ms (default Date.now): for tests. */
  now?: () => number;
}

export interface ProfilerOptions {
  serviceName: string;
  latency?: LatencySource;
  /** The sampling heap profiler served at /debug/pprof/heap and put in bundles (default on). */
  heapSampling?: false | HeapSamplerOptions;
  /** Default on (with the defaults above); false: no triggers, no bundles. */
  evidence?: false | EvidenceOptions;
  /** Every trigger that fired (for tailtrace_evidence_triggers_total). */
  onTrigger?: (kind: TriggerKind) => void;
  /** Every snapshot attempted or refused (for tailtrace_heap_snapshots_total). */
  onSnapshot?: (result: 'written' | 'refused' | 'failed') => void;
  /** A trigger that the windows after it showed to be a blip (the bundle gets an outcome.json). */
  onBlip?: (kind: TriggerKind) => void;
}

export interface Profiler {
  readonly sampler: HeapSampler | undefined;
  /** /debug/pprof/* and POST /debug/tailtrace/evidence; false when the request is not for them. */
  handler(): (req: IncomingMessage, res: ServerResponse, target?: RequestTarget) => boolean;
  /** Writes a bundle now. `snapshot` overrides the policy's choice (never the guard, never policy 'never'). */
  capture(trigger: EvidenceTriggerKind, opts?: { reason?: string; snapshot?: boolean }): Promise<CaptureResult>;
  /** One evaluation now (the timer runs one every windowMs). */
  evaluate(): Promise<void>;
  /** Stops timers, observers, the signal handler and the sampler; waits for a bundle being written. */
  stop(): Promise<void>;
}

interface Resolved extends EngineConfig {
  dir: string;
  baselineEveryMs: number | false;
  snapshots: SnapshotPolicy;
  minSnapshotIntervalMs: number;
  minSnapshotGapMs: number;
  recordTo: string | undefined;
  maxPauseMs: number;
  quotaBytes: number;
  keepSnapshotObjectIds: boolean;
  signal: NodeJS.Signals | false;
  token: string | undefined;
  probe: SystemProbe;
  now: () => number;
}

const MIN = 60_000;
const YIELD_EVERY = 16;
const pos = (v: number | undefined, dflt: number, min = 0): number => (v !== undefined && Number.isFinite(v) && v >= min ? v : dflt);

export function resolveEvidenceOptions(serviceName: string, o: EvidenceOptions): Resolved {
  const baselineWindows = Math.floor(pos(o.baselineWindows, 5, 1));
  const safeName = serviceName.replace(/[^A-Za-z0-9_-]/g, '_') || 'service';
  const envDir = process.env['TAILTRACE_EVIDENCE_DIR'];
  const token = o.token ?? process.env['TAILTRACE_EVIDENCE_TOKEN'];
  const windowMs = pos(o.windowMs, MIN, 10);
  const minSnapshotIntervalMs = pos(o.minSnapshotIntervalMs, 10 * MIN);
  const recordTo = o.recordTo ?? process.env['TAILTRACE_EVIDENCE_RECORD'];
  return {
    dir: o.dir ?? (envDir ? envDir : join(tmpdir(), 'tailtrace-evidence', safeName)),
    windowMs,
    baselineWindows,
    warmupWindows: Math.floor(pos(o.warmupWindows, 1)),
    baselineEveryMs: o.baselineEveryMs === false ? false : pos(o.baselineEveryMs, 60 * MIN, 1),
    p99: o.p99 === false ? false : {
      factor: pos(o.p99?.factor, 2, 1),
      minSamples: Math.floor(pos(o.p99?.minSamples, 100, 1)),
      minDeltaMs: pos(o.p99?.minDeltaMs, 5),
      cooldownMs: pos(o.p99?.cooldownMs, 30 * MIN),
      baselineWindows,
      rebaselineAfter: Math.floor(pos(o.p99?.rebaselineAfter, 3, 1)),
      sustain: Math.floor(pos(o.p99?.sustain, 2, 1)),
      escalation: pos(o.p99?.escalation, 2, 1),
    },
    heapGrowth: o.heapGrowth === false ? false : {
      spanMs: Math.floor(pos(o.heapGrowth?.windows, 10, 1)) * windowMs,
      minGrowthBytes: pos(o.heapGrowth?.minGrowthBytes, 16 * 2 ** 20),
      minReadings: Math.floor(pos(o.heapGrowth?.minReadings, 3, 2)),
      minTau: Math.min(1, pos(o.heapGrowth?.minTau, 0.6)),
      cooldownMs: pos(o.heapGrowth?.cooldownMs, 30 * MIN),
      escalation: pos(o.heapGrowth?.escalation, 2, 1),
    },
    heapLimit: o.heapLimit === false ? false : { ratio: pos(o.heapLimit?.ratio, 0.85), cooldownMs: pos(o.heapLimit?.cooldownMs, 30 * MIN) },
    snapshots: o.snapshots ?? 'manual',
    minSnapshotIntervalMs,
    minSnapshotGapMs: Math.min(pos(o.minSnapshotGapMs, MIN), minSnapshotIntervalMs),
    recordTo: recordTo ? recordTo : undefined,
    maxPauseMs: pos(o.maxPauseMs, 30_000),
    quotaBytes: pos(o.quotaBytes, 2 ** 30),
    keepSnapshotObjectIds: o.keepSnapshotObjectIds === true,
    signal: o.signal ?? false,
    token: token ? token : undefined,
    probe: { ...systemProbe(), ...o.system },
    now: o.now ?? Date.now,
  };
}

export function createProfiler(options: ProfilerOptions): Profiler {
  let errors = 0;
  const fail = (where: string, err: unknown): void => {
    errors++;
    if (errors === 1) process.stderr.write(`tailtrace profiler: ${where}: ${(err as Error)?.message ?? String(err)} (further errors are not logged)\n`);
  };
  const safeCall = <A>(fn: ((a: A) => void) | undefined, a: A) => {
    try {
      fn?.(a);
    } catch (err) {
      fail('callback', err);
    }
  };

  let sampler: HeapSampler | undefined;
  try {
    if (options.heapSampling !== false) sampler = startHeapSampling(options.heapSampling ?? {});
  } catch (err) {
    // e.g. another HeapSampler already runs in this process (V8 has one): go on without.
    fail('heap sampling', err);
  }
  const debugHandler = createDebugHandler({ sampler });
  const evidence = options.evidence === false ? undefined : resolveEvidenceOptions(options.serviceName, options.evidence ?? {});

  if (evidence === undefined) {
    return {
      sampler,
      handler: () => debugHandler,
      capture: async () => ({ status: 'disabled', reason: 'evidence is off' }),
      evaluate: async () => {},
      stop: async () => {
        await sampler?.stop();
      },
    };
  }
  const cfg = evidence;
  const latency = options.latency;
  const monitor = new RuntimeMonitor(cfg.now);
  const engine = new TriggerEngine(cfg);
  const budget = new SnapshotBudget({
    intervalMs: cfg.minSnapshotIntervalMs,
    gapMs: cfg.minSnapshotGapMs,
    escalation: cfg.p99 === false ? 2 : cfg.p99.escalation,
  });
  const writer = createEvidenceWriter({
    serviceName: options.serviceName, dir: cfg.dir, snapshots: cfg.snapshots, quotaBytes: cfg.quotaBytes, maxPauseMs: cfg.maxPauseMs,
    keepSnapshotObjectIds: cfg.keepSnapshotObjectIds,
    heapLimitRatio: cfg.heapLimit === false ? 1 : cfg.heapLimit.ratio, probe: cfg.probe, now: cfg.now, sampler, budget,
    heapAfterGc: () => monitor.heapAfterGc(),
    slowest: (kind, operation) => latency?.slowest(kind, operation) ?? [],
    fail,
    onSnapshot: (r) => safeCall(options.onSnapshot, r),
  });
  const runtimeBaseline: RuntimeWindowStats[] = [];
  let lastEvalMs = cfg.now();
  let nextBaselineMs: number | null = null;
  let evaluating: Promise<void> | null = null;
  let recorder: WindowRecorder | undefined;
  if (cfg.recordTo) {
    const { dir: _d, probe: _p, now: _n, token: _t, ...engineCfg } = cfg;
    recorder = createWindowRecorder(cfg.recordTo, { service: options.serviceName, config: engineCfg }, (err) => fail('recording', err));
  }
  const inflight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p)).catch(() => {});
    return p;
  };

  const policyWants = (kind: EvidenceTriggerKind): boolean =>
    cfg.snapshots === 'triggers' || (cfg.snapshots === 'manual' && (kind === 'signal' || kind === 'endpoint'));
  const rateLimitedForMs = (now: number): number => budget.waitMs(claimOf({ kind: 'endpoint' }), now);

  /** The current windows read live, for a capture between evaluations. */
  const liveData = (now: number): WindowData => {
    const window = { startMs: now - cfg.windowMs, endMs: now };
    const ops: OpEvidence[] = [];
    for (const ref of latency?.operations() ?? []) {
      const r = latency!.read(ref.kind, ref.operation);
      if (r === undefined || r.count === 0) continue;
      const encoded = latency!.encode(ref.kind, ref.operation);
      ops.push({ ref: { kind: ref.kind, operation: ref.operation }, window: { ...window, encoded, count: r.count }, baseline: engine.baseline(ref.kind, ref.operation) });
    }
    return { window, ops, runtime: monitor.peek(), runtimeBaseline: [...runtimeBaseline] };
  };

  /** A trigger proved to be a blip: say so in its bundle, and give back the snapshot it took. */
  const recordBlip = async (blip: EngineBlip, kind: TriggerKind): Promise<void> => {
    safeCall(options.onBlip, kind);
    budget.refund(blip.id);
    const path = writer.takeBundleOf(blip.id);
    if (path === undefined) return;
    try {
      await appendOutcome(path, { kind, outcome: 'blip', reason: blip.reason, decidedAt: new Date(cfg.now()).toISOString() });
    } catch (err) {
      fail('evidence outcome', err);
    }
  };

  const capture = (kind: EvidenceTriggerKind, opts: { reason?: string; snapshot?: boolean } = {}): Promise<CaptureResult> => {
    if (kind !== 'baseline') safeCall(options.onTrigger, kind);
    const reason = opts.reason ?? (kind === 'signal' ? `signal ${cfg.signal || ''}`.trim() : kind === 'endpoint' ? 'POST /debug/tailtrace/evidence' : `manual capture (${kind})`);
    let data: WindowData;
    try {
      data = liveData(cfg.now());
    } catch (err) {
      fail('evidence data', err);
      return Promise.resolve({ status: 'failed', reason: (err as Error).message });
    }
    return track(writer.write({ kind, reason }, data, opts.snapshot ?? policyWants(kind)));
  };

  /** Reads every operation's window (yielding now and then: 256 operations are many short tasks). */
  const readOps = async (window: TimeWindow): Promise<OpReading[]> => {
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
  };

  /** One bundle per evaluation (it holds every operation anyway), named by the worst trigger. */
  const bundleTrigger = (fired: EngineFired[]): BundleTrigger => {
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
  };

  const evaluateOnce = async (): Promise<void> => {
    const now = cfg.now();
    const window: TimeWindow = { startMs: lastEvalMs, endMs: now };
    // Our own pause (a snapshot, a collection for a profile) makes the window not judged: its P99
    // would show our pause, not the service; nor is it any baseline.
    const selfPause = writer.pausedAtMs >= window.startMs;
    const cut = monitor.cut();
    const ops = await readOps(window);
    const heapStats = getHeapStatistics();
    const readings: WindowReadings = {
      ...window, selfPause, ops, majors: cut.majors, heapUsedBytes: heapStats.used_heap_size, heapLimitBytes: heapStats.heap_size_limit,
    };
    const baselines = new Map(ops.map((o) => [o, engine.baseline(o.kind, o.operation)]));
    const verdict = engine.observe(readings);
    recorder?.write(readings, cut.stats, verdict.fired.map((f) => f.id));
    lastEvalMs = now;
    for (const b of verdict.blips) await recordBlip(b, b.id.startsWith('heap_growth') ? 'heap_growth' : 'p99_regression');
    for (const f of verdict.fired) safeCall(options.onTrigger, f.kind);
    // Each operation with the baseline it was judged against (before this window joined it).
    const evidenceOps: OpEvidence[] = ops.filter((o) => o.count > 0).map((o) => ({
      ref: { kind: o.kind, operation: o.operation }, window: o.encoded!, baseline: baselines.get(o) ?? [],
    }));
    const data: WindowData = { window, ops: evidenceOps, runtime: cut.stats, runtimeBaseline: [...runtimeBaseline] };
    if (verdict.fired.length > 0) {
      const t = bundleTrigger(verdict.fired);
      await writer.write(t, data, policyWants(t.kind));
      return;
    }
    if (!verdict.quiet) return;
    runtimeBaseline.push(cut.stats);
    while (runtimeBaseline.length > cfg.baselineWindows) runtimeBaseline.shift();
    if (cfg.baselineEveryMs !== false && data.runtimeBaseline.length >= cfg.baselineWindows && (nextBaselineMs === null || now >= nextBaselineMs)) {
      nextBaselineMs = now + cfg.baselineEveryMs;
      await writer.write({ kind: 'baseline', reason: `scheduled baseline (every ${(cfg.baselineEveryMs / 60_000).toFixed(0)} min)` }, data, policyWants('baseline'));
    }
  };

  const evaluate = (): Promise<void> => {
    // An evaluation already running (a snapshot takes seconds) is joined, not overlapped.
    if (evaluating) return evaluating;
    evaluating = track(evaluateOnce().catch((err: unknown) => fail('evaluate', err)).finally(() => {
      evaluating = null;
    }));
    return evaluating;
  };

  const timer = setInterval(() => void evaluate(), cfg.windowMs);
  timer.unref();

  const onSignal = (): void => {
    void capture('signal', { snapshot: true });
  };
  let signalOn = false;
  if (cfg.signal) {
    try {
      process.on(cfg.signal, onSignal);
      signalOn = true;
    } catch (err) {
      fail(`signal ${cfg.signal}`, err);
    }
  }

  const route = {
    token: cfg.token,
    capture: async (snapshot: boolean): Promise<EvidenceRequestResult> => {
      if (snapshot && cfg.snapshots !== 'never') {
        if (budget.busy) return { status: 429, reason: 'a snapshot is being written', retryAfterS: 60 };
        const wait = rateLimitedForMs(cfg.now());
        if (wait > 0) return { status: 429, reason: 'snapshot rate limit', retryAfterS: Math.ceil(wait / 1000) };
      }
      const r = await capture('endpoint', { snapshot });
      return r.status === 'written' && r.manifest ? { status: 200, body: evidenceResponse(r.manifest) } : { status: 500, reason: r.reason ?? r.status };
    },
  };
  const handler = (req: IncomingMessage, res: ServerResponse, target?: RequestTarget): boolean => {
    try {
      return handleEvidenceRequest(route, req, res, target) || debugHandler(req, res, target);
    } catch (err) {
      fail('handler', err);
      return false;
    }
  };

  let stopped = false;
  return {
    sampler,
    handler: () => handler,
    capture,
    evaluate,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (cfg.signal && signalOn) process.off(cfg.signal, onSignal);
      await Promise.allSettled([...inflight]);
      monitor.stop();
      await recorder?.close();
      await sampler?.stop();
    },
  };
}
