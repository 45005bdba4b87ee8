// createProfiler: the runtime side of heap evidence, wired from pieces with one job each. The
// evaluation loop (evaluation-loop.ts) reads every operation's latency window and the runtime
// stats each windowMs and runs the triggers; the evidence writer (evidence-writer.ts) writes a
// bundle (cheap evidence always; a full snapshot only when the policy asks and the guard allows);
// capture.ts writes one on demand (capture(), a signal, the endpoint); evidence-route.ts serves
// the endpoint next to /debug/pprof/*. This file resolves the options and wires the pieces.
// Everything runs off the request path, on unref'd timers, and nothing here throws into the
// service: failures are counted and the first one is logged to stderr.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EvidenceTriggerKind, OperationKind, OperationRef, SlowTrace } from '@tailtrace/formats';
import { createCapture, captureOnSignal } from './capture.ts';
import { createDebugHandler } from './debug-handler.ts';
import type { DebugHandler, RequestTarget } from './debug-handler.ts';
import { TriggerEngine } from './evaluation.ts';
import type { EngineConfig } from './evaluation.ts';
import { EvaluationLoop } from './evaluation-loop.ts';
import { evidenceRoute, profilerHandler } from './evidence-route.ts';
import { createEvidenceWriter } from './evidence-writer.ts';
import type { CaptureResult, SnapshotPolicy } from './evidence-writer.ts';
import { startHeapSampling } from './heap-sampler.ts';
import type { HeapSampler, HeapSamplerOptions } from './heap-sampler.ts';
import { RuntimeMonitor } from './runtime-monitor.ts';
import { SnapshotBudget } from './snapshot-budget.ts';
import { systemProbe } from './system-probe.ts';
import type { SystemProbe } from './system-probe.ts';
import { createWindowRecorder } from './window-recorder.ts';
import type { WindowRecorder } from './window-recorder.ts';

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
  const { fail, safeCall } = failureLog();
  const sampler = startSampler(options.heapSampling, fail);
  const debugHandler = createDebugHandler({ sampler });
  if (options.evidence === false) return withoutEvidence(sampler, debugHandler);
  const cfg = resolveEvidenceOptions(options.serviceName, options.evidence ?? {});
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
  const recorder = openRecorder(cfg, options.serviceName, fail);
  const inflight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p)).catch(() => {});
    return p;
  };
  const onTrigger = (kind: TriggerKind) => safeCall(options.onTrigger, kind);
  const loop = new EvaluationLoop(cfg, {
    latency, monitor, engine, writer, budget, recorder, track, fail, onTrigger, onBlip: (kind) => safeCall(options.onBlip, kind),
  });
  loop.start();
  const capture = createCapture(cfg, { latency, engine, monitor, runtimeBaseline: () => loop.runtimeBaselineNow(), writer, track, fail, onTrigger });
  const offSignal = captureOnSignal(cfg.signal, capture, fail);
  const handler = profilerHandler(evidenceRoute(cfg, budget, capture), debugHandler, fail);

  let stopped = false;
  return {
    sampler,
    handler: () => handler,
    capture,
    evaluate: () => loop.evaluate(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      loop.stop();
      offSignal();
      await Promise.allSettled([...inflight]);
      monitor.stop();
      await recorder?.close();
      await sampler?.stop();
    },
  };
}

/** Failures are counted and only the first is logged: one that repeats every window must not flood the service's stderr. */
function failureLog(): { fail: (where: string, err: unknown) => void; safeCall: <A>(fn: ((a: A) => void) | undefined, a: A) => void } {
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
  return { fail, safeCall };
}

function startSampler(opts: ProfilerOptions['heapSampling'], fail: (where: string, err: unknown) => void): HeapSampler | undefined {
  try {
    if (opts !== false) return startHeapSampling(opts ?? {});
  } catch (err) {
    // e.g. another HeapSampler already runs in this process (V8 has one): go on without.
    fail('heap sampling', err);
  }
  return undefined;
}

/** evidence: false: the sampler and /debug/pprof/* only. */
function withoutEvidence(sampler: HeapSampler | undefined, debugHandler: DebugHandler): Profiler {
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

/** The recording of what the triggers saw (recordTo), headed by the engine's configuration. */
function openRecorder(cfg: Resolved, serviceName: string, fail: (where: string, err: unknown) => void): WindowRecorder | undefined {
  if (!cfg.recordTo) return undefined;
  const { dir: _d, probe: _p, now: _n, token: _t, ...engineCfg } = cfg;
  return createWindowRecorder(cfg.recordTo, { service: serviceName, config: engineCfg }, (err) => fail('recording', err));
}
