// createProfiler: the runtime side of heap evidence. Every windowMs it reads each operation's
// latency window and the runtime stats, runs the triggers, and on a trigger writes an evidence
// bundle (cheap evidence always; a full snapshot only when the policy asks and the guard allows).
// Everything runs off the request path, on unref'd timers, and nothing here throws into the
// service: failures are counted and the first one is logged to stderr.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { enforceQuota, ensureDir, writeBundle } from './bundle.ts';
import type { SnapshotRequest } from './bundle.ts';
import { handleEvidenceRequest } from './endpoint.ts';
import type { EvidenceRequestResult } from './endpoint.ts';
import { EVIDENCE_FORMAT, EVIDENCE_VERSION } from './evidence-format.ts';
import type {
  EncodedWindow, EvidenceManifest, EvidenceTriggerKind, HeapFile, HistogramsFile, OperationKind, OperationRef,
  RuntimeFile, RuntimeWindowStats, SlowTrace, SnapshotOutcome, TimeWindow, TracesFile,
} from './evidence-format.ts';
import { checkSnapshotResources } from './guard.ts';
import { RuntimeMonitor } from './runtime-monitor.ts';
import { systemProbe } from './system-probe.ts';
import type { SystemProbe } from './system-probe.ts';
import { HeapGrowthDetector, heapLimitRatio, P99Detector } from './triggers.ts';
import type { HeapGrowthConfig, P99Config, P99Window } from './triggers.ts';
import { createDebugHandler } from './debug-handler.ts';
import { startHeapSampling } from './heap-sampler.ts';
import type { HeapSampler } from './heap-sampler.ts';

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
export type SnapshotPolicy = 'never' | 'manual' | 'triggers';

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
  };
  heapGrowth?: false | {
    /** Heap used after GC rose in each of this many consecutive windows (default 5). */
    windows?: number;
    /** By at least this much in total (default 16 MiB). */
    minGrowthBytes?: number;
    /** Default 30 min. */
    cooldownMs?: number;
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
  /** At most one snapshot per this interval (default 10 min). */
  minSnapshotIntervalMs?: number;
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
  heapSampling?: false | { intervalBytes?: number; stackDepth?: number };
  /** Default on (with the defaults above); false: no triggers, no bundles. */
  evidence?: false | EvidenceOptions;
  /** Every trigger that fired (for tailtrace_evidence_triggers_total). */
  onTrigger?: (kind: TriggerKind) => void;
  /** Every snapshot attempted or refused (for tailtrace_heap_snapshots_total). */
  onSnapshot?: (result: 'written' | 'refused' | 'failed') => void;
}

export interface CaptureResult {
  /** disabled: evidence is off. failed: no bundle (reason says why; nothing partial is left). */
  status: 'written' | 'failed' | 'disabled';
  /** The bundle directory. */
  path?: string;
  manifest?: EvidenceManifest;
  reason?: string;
}

export interface Profiler {
  readonly sampler: HeapSampler | undefined;
  /** /debug/pprof/* and POST /debug/tailtrace/evidence; false when the request is not for them. */
  handler(): (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Writes a bundle now. `snapshot` overrides the policy's choice (never the guard, never policy 'never'). */
  capture(trigger: EvidenceTriggerKind, opts?: { reason?: string; snapshot?: boolean }): Promise<CaptureResult>;
  /** One evaluation now (the timer runs one every windowMs). */
  evaluate(): Promise<void>;
  /** Stops timers, observers, the signal handler and the sampler; waits for a bundle being written. */
  stop(): Promise<void>;
}

interface Resolved {
  dir: string;
  windowMs: number;
  baselineWindows: number;
  warmupWindows: number;
  baselineEveryMs: number | false;
  p99: P99Config | false;
  heapGrowth: HeapGrowthConfig | false;
  heapLimit: { ratio: number; cooldownMs: number } | false;
  snapshots: SnapshotPolicy;
  minSnapshotIntervalMs: number;
  maxPauseMs: number;
  quotaBytes: number;
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
  return {
    dir: o.dir ?? (envDir ? envDir : join(tmpdir(), 'tailtrace-evidence', safeName)),
    windowMs: pos(o.windowMs, MIN, 10),
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
    },
    heapGrowth: o.heapGrowth === false ? false : {
      windows: Math.floor(pos(o.heapGrowth?.windows, 5, 1)),
      minGrowthBytes: pos(o.heapGrowth?.minGrowthBytes, 16 * 2 ** 20),
      cooldownMs: pos(o.heapGrowth?.cooldownMs, 30 * MIN),
    },
    heapLimit: o.heapLimit === false ? false : { ratio: pos(o.heapLimit?.ratio, 0.85), cooldownMs: pos(o.heapLimit?.cooldownMs, 30 * MIN) },
    snapshots: o.snapshots ?? 'manual',
    minSnapshotIntervalMs: pos(o.minSnapshotIntervalMs, 10 * MIN),
    maxPauseMs: pos(o.maxPauseMs, 30_000),
    quotaBytes: pos(o.quotaBytes, 2 ** 30),
    signal: o.signal ?? false,
    token: token ? token : undefined,
    probe: { ...systemProbe(), ...o.system },
    now: o.now ?? Date.now,
  };
}

let tailtraceVersion: string | undefined;
/** From package.json, one level above both src/ and dist/. */
export function packageVersion(): string {
  if (tailtraceVersion === undefined) {
    try {
      tailtraceVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
    } catch {
      tailtraceVersion = '0.0.0';
    }
  }
  return tailtraceVersion;
}

interface Fired {
  kind: TriggerKind;
  reason: string;
  operation?: OperationRef;
  observed?: number;
  threshold?: number;
  /** Orders p99 regressions: the worst one names the bundle. */
  severity: number;
}

interface OpEvidence {
  ref: OperationRef;
  window: EncodedWindow;
  baseline: EncodedWindow[];
}

/** What a bundle describes: the window and its baseline. */
interface WindowData {
  window: TimeWindow;
  ops: OpEvidence[];
  runtime: RuntimeWindowStats;
  runtimeBaseline: RuntimeWindowStats[];
}

const opKey = (kind: OperationKind, operation: string) => `${kind}\u0000${operation}`;
const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const span = (ws: readonly TimeWindow[]): TimeWindow | null =>
  ws.length === 0 ? null : { startMs: Math.min(...ws.map((w) => w.startMs)), endMs: Math.max(...ws.map((w) => w.endMs)) };

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
  const p99Detectors = new Map<string, P99Detector>();
  const heapGrowth = cfg.heapGrowth === false ? undefined : new HeapGrowthDetector(cfg.heapGrowth);
  let lastHeapLimitMs = -Infinity;
  const runtimeBaseline: RuntimeWindowStats[] = [];
  let lastEvalMs = cfg.now();
  let nextBaselineMs: number | null = null;
  let evaluating: Promise<void> | null = null;
  let snapshotBusy = false;
  let lastSnapshotMs = -Infinity;
  // When our own work last paused the process: a snapshot, or the full GC that reading the
  // sampling profile forces. The window holding such a pause is not judged (its P99 would show
  // our pause, not the service) and does not join any baseline; nor do the warm-up windows.
  let selfPauseAtMs = -Infinity;
  let evaluations = 0;
  const inflight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p)).catch(() => {});
    return p;
  };

  const policyWants = (kind: EvidenceTriggerKind): boolean =>
    cfg.snapshots === 'triggers' || (cfg.snapshots === 'manual' && (kind === 'signal' || kind === 'endpoint'));
  const rateLimitedForMs = (now: number): number => Math.max(0, lastSnapshotMs + cfg.minSnapshotIntervalMs - now);

  /** The current windows read live, for a capture between evaluations. */
  const liveData = (now: number): WindowData => {
    const window = { startMs: now - cfg.windowMs, endMs: now };
    const ops: OpEvidence[] = [];
    for (const ref of latency?.operations() ?? []) {
      const r = latency!.read(ref.kind, ref.operation);
      if (r === undefined || r.count === 0) continue;
      const encoded = latency!.encode(ref.kind, ref.operation);
      const base = p99Detectors.get(opKey(ref.kind, ref.operation))?.baseline() ?? [];
      ops.push({ ref: { kind: ref.kind, operation: ref.operation }, window: { ...window, encoded, count: r.count }, baseline: base.map((b) => b.encoded) });
    }
    return { window, ops, runtime: monitor.peek(), runtimeBaseline: [...runtimeBaseline] };
  };

  const heapFile = (): HeapFile => ({
    statistics: { ...getHeapStatistics() } as unknown as Record<string, number>,
    spaces: getHeapSpaceStatistics().map((s) => ({
      space_name: s.space_name, space_size: s.space_size, space_used_size: s.space_used_size,
      space_available_size: s.space_available_size, physical_space_size: s.physical_space_size,
    })),
    memoryUsage: { ...process.memoryUsage() },
    heapAfterGc: monitor.heapAfterGc(),
    sampling: sampler ? { intervalBytes: sampler.intervalBytes, backend: sampler.backend } : null,
  });

  const tracesFile = (ops: OpEvidence[]): TracesFile => ({
    operations: ops.map((o) => {
      let slowest: SlowTrace[] = [];
      try {
        slowest = latency?.slowest(o.ref.kind, o.ref.operation) ?? [];
      } catch (err) {
        fail('latency.slowest', err);
      }
      return { ...o.ref, slowest };
    }),
  });

  /** The snapshot decision that needs no I/O; reserves the one-at-a-time slot when it says go on. */
  const preCheck = (kind: EvidenceTriggerKind, want: boolean, now: number): SnapshotOutcome | 'reserved' => {
    if (cfg.snapshots === 'never') return { status: 'skipped', reason: "snapshots: 'never'" };
    if (!want) return { status: 'skipped', reason: `snapshots: '${cfg.snapshots}' does not take one on ${kind}` };
    if (kind === 'heap_limit') return { status: 'refused', reason: 'heap_limit trigger: a snapshot near the heap limit could kill the process' };
    if (snapshotBusy) return { status: 'refused', reason: 'another snapshot in progress' };
    const wait = rateLimitedForMs(now);
    if (wait > 0) return { status: 'refused', reason: `rate limit: one snapshot per ${(cfg.minSnapshotIntervalMs / 1000).toFixed(0)} s, next in ${Math.ceil(wait / 1000)} s` };
    snapshotBusy = true;
    return 'reserved';
  };

  const writeEvidence = async (fired: Fired | { kind: 'baseline'; reason: string }, data: WindowData, want: boolean): Promise<CaptureResult> => {
    const now = cfg.now();
    const pre = preCheck(fired.kind, want, now);
    const reserved = pre === 'reserved';
    let snapshotReq: SnapshotRequest | null = null;
    let outcome: SnapshotOutcome = reserved ? { status: 'skipped' } : pre;
    try {
      let heapProfile: Buffer | null = null;
      if (sampler) {
        try {
          // Evidence wants the live set: a collection first (rare, and the window is marked disturbed).
          heapProfile = await sampler.pprof({ gc: true });
        } catch (err) {
          fail('heap profile', err);
        }
      }
      const heap = heapFile();
      if (reserved) {
        // statfs needs the directory to exist (the first bundle creates it).
        await ensureDir(cfg.dir);
        const p = cfg.probe;
        const [cgroup, mem, disk] = await Promise.all([
          p.cgroupAvailableBytes().catch(() => null),
          p.memAvailableBytes().catch(() => null),
          p.freeDiskBytes(cfg.dir).catch(() => null),
        ]);
        const stats = getHeapStatistics();
        const g = checkSnapshotResources({
          usedHeapBytes: stats.used_heap_size,
          heapSizeLimit: stats.heap_size_limit,
          heapLimitRatio: cfg.heapLimit === false ? 1 : cfg.heapLimit.ratio,
          rssBytes: p.rssBytes(),
          cgroupAvailableBytes: cgroup,
          memAvailableBytes: mem,
          freeDiskBytes: disk,
          quotaBytes: cfg.quotaBytes,
          maxPauseMs: cfg.maxPauseMs,
        });
        if (g.allowed) {
          snapshotReq = { write: (path) => p.writeHeapSnapshot(path), estimatedPeakRssBytes: g.estimatedPeakRssBytes, availableBytes: g.availableBytes };
          lastSnapshotMs = now;
        } else {
          outcome = { status: 'refused', reason: g.reason };
          if (g.estimatedPeakRssBytes !== undefined) outcome.estimatedPeakRssBytes = g.estimatedPeakRssBytes;
          if (g.availableBytes !== undefined) outcome.availableBytes = g.availableBytes;
        }
      }
      const histograms: HistogramsFile = {
        unit: 'microseconds',
        operations: data.ops.map((o) => ({ ...o.ref, window: o.window, baseline: o.baseline })),
      };
      const runtime: RuntimeFile = { window: data.runtime, baseline: data.runtimeBaseline };
      const files: Array<{ name: string; data: string | Uint8Array }> = [
        { name: 'histograms.json', data: JSON.stringify(histograms) },
        { name: 'runtime.json', data: JSON.stringify(runtime) },
        { name: 'heap.json', data: JSON.stringify(heap) },
        { name: 'traces.json', data: JSON.stringify(tracesFile(data.ops)) },
      ];
      if (heapProfile) files.push({ name: 'heap.pb.gz', data: heapProfile });
      const baselineWindow = span([...data.ops.flatMap((o) => o.baseline), ...data.runtimeBaseline]);
      const written = await writeBundle({
        dir: cfg.dir,
        atMs: now,
        trigger: fired.kind,
        pid: process.pid,
        files,
        snapshot: snapshotReq,
        outcome,
        clock: () => performance.now(),
        manifest: (snapshot, snapshotFile) => {
          const trigger: EvidenceManifest['trigger'] = { kind: fired.kind, reason: fired.reason };
          if ('operation' in fired && fired.operation) trigger.operation = fired.operation;
          if ('observed' in fired && fired.observed !== undefined) trigger.observed = fired.observed;
          if ('threshold' in fired && fired.threshold !== undefined) trigger.threshold = fired.threshold;
          return {
            format: EVIDENCE_FORMAT,
            version: EVIDENCE_VERSION,
            service: options.serviceName,
            host: hostname(),
            pid: process.pid,
            createdAt: new Date(cfg.now()).toISOString(),
            versions: { tailtrace: packageVersion(), node: process.version, v8: process.versions.v8 },
            trigger,
            window: data.window,
            baselineWindow,
            files: {
              histograms: 'histograms.json',
              runtime: 'runtime.json',
              heap: 'heap.json',
              traces: 'traces.json',
              heapProfile: heapProfile ? 'heap.pb.gz' : null,
              snapshot: snapshotFile,
            },
            snapshot,
          };
        },
      });
      if (written.manifest.snapshot.status === 'written' || heapProfile !== null) selfPauseAtMs = cfg.now();
      if (written.manifest.snapshot.status !== 'skipped') safeCall(options.onSnapshot, written.manifest.snapshot.status);
      try {
        await enforceQuota(cfg.dir, cfg.quotaBytes, written.name, cfg.now());
      } catch (err) {
        fail('evidence quota', err);
      }
      return { status: 'written', path: written.path, manifest: written.manifest };
    } catch (err) {
      fail('evidence bundle', err);
      if (snapshotReq !== null) safeCall(options.onSnapshot, 'failed');
      else if (outcome.status === 'refused') safeCall(options.onSnapshot, 'refused');
      return { status: 'failed', reason: (err as Error).message };
    } finally {
      if (reserved) snapshotBusy = false;
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
    return track(writeEvidence({ kind, reason, severity: 0 }, data, opts.snapshot ?? policyWants(kind)));
  };

  const evaluateOnce = async (): Promise<void> => {
    const now = cfg.now();
    const window: TimeWindow = { startMs: lastEvalMs, endMs: now };
    const disturbed = evaluations++ < cfg.warmupWindows || selfPauseAtMs >= window.startMs;
    const cut = monitor.cut();
    const fired: Fired[] = [];
    // An operation still above its threshold (an incident that already triggered) keeps the
    // window out of the runtime baseline and out of any scheduled baseline bundle.
    let regressed = false;
    const ops: OpEvidence[] = [];
    const seen = new Set<string>();
    let n = 0;
    for (const ref of latency?.operations() ?? []) {
      // ~0.3 ms per operation (mostly metrics' HDR encode): yield now and then so 256 operations
      // are many short tasks, not one long stall of the event loop.
      if (++n % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
      const key = opKey(ref.kind, ref.operation);
      seen.add(key);
      const r = latency!.read(ref.kind, ref.operation);
      if (r === undefined) continue;
      const encoded: EncodedWindow = { ...window, encoded: r.count > 0 ? latency!.encode(ref.kind, ref.operation) : '', count: r.count };
      let det = p99Detectors.get(key);
      if (det === undefined && cfg.p99 !== false) p99Detectors.set(key, (det = new P99Detector(cfg.p99)));
      const baseline = det ? det.baseline().map((b) => b.encoded) : [];
      if (r.count > 0) ops.push({ ref: { kind: ref.kind, operation: ref.operation }, window: encoded, baseline });
      if (det === undefined || disturbed) continue;
      const w: P99Window = { encoded, p99: r.percentiles.p99 };
      const v = det.observe(w, now);
      if (v.regressed) regressed = true;
      if (v.trigger) {
        fired.push({
          kind: 'p99_regression',
          reason: `P99 of ${ref.operation} ${ms(w.p99)} > ${(cfg.p99 as P99Config).factor.toFixed(1)} x baseline ${ms(v.baselineP99)} (n=${r.count})`,
          operation: { kind: ref.kind, operation: ref.operation },
          observed: w.p99,
          threshold: v.threshold,
          severity: w.p99 / v.baselineP99,
        });
      }
    }
    // Operations the latency source dropped (idle) lose their state.
    for (const key of p99Detectors.keys()) if (!seen.has(key)) p99Detectors.delete(key);
    // A service's heap grows while it warms up (code, caches, pools): growth is judged only once
    // a full baseline of quiet windows exists, and readings before that are not kept.
    if (heapGrowth && runtimeBaseline.length >= cfg.baselineWindows) {
      const v = heapGrowth.observe(cut.minHeapUsedBytes, now);
      if (v.trigger) {
        fired.push({
          kind: 'heap_growth',
          reason: `heap used after GC rose in each of the last ${v.series.length - 1} windows: ${mib(v.series[0]!)} -> ${mib(v.series[v.series.length - 1]!)} (+${mib(v.growthBytes)})`,
          observed: v.growthBytes,
          threshold: (cfg.heapGrowth as HeapGrowthConfig).minGrowthBytes,
          severity: Infinity,
        });
      }
    }
    if (cfg.heapLimit !== false) {
      const s = getHeapStatistics();
      const ratio = heapLimitRatio(s.used_heap_size, s.heap_size_limit);
      if (ratio >= cfg.heapLimit.ratio && now - lastHeapLimitMs >= cfg.heapLimit.cooldownMs) {
        lastHeapLimitMs = now;
        fired.push({
          kind: 'heap_limit',
          reason: `heap used ${mib(s.used_heap_size)} is ${(ratio * 100).toFixed(0)}% of the ${mib(s.heap_size_limit)} limit`,
          observed: s.used_heap_size,
          threshold: cfg.heapLimit.ratio * s.heap_size_limit,
          severity: Infinity,
        });
      }
    }
    for (const f of fired) safeCall(options.onTrigger, f.kind);
    const data: WindowData = { window, ops, runtime: cut.stats, runtimeBaseline: [...runtimeBaseline] };
    lastEvalMs = now;
    if (fired.length > 0) {
      // One bundle per evaluation (it holds every operation anyway). Near the heap limit the
      // heap_limit trigger names it, so no snapshot is attempted; otherwise the worst one.
      const rank = (f: Fired) => (f.kind === 'heap_limit' ? 2 : f.kind === 'heap_growth' ? 1 : 0);
      const primary = [...fired].sort((a, b) => rank(b) - rank(a) || b.severity - a.severity)[0]!;
      const others = fired.length - 1;
      const named = others > 0 ? { ...primary, reason: `${primary.reason} (+${others} more trigger${others > 1 ? 's' : ''} this window)` } : primary;
      await writeEvidence(named, data, policyWants(primary.kind));
      return;
    }
    if (disturbed || regressed) return;
    runtimeBaseline.push(cut.stats);
    while (runtimeBaseline.length > cfg.baselineWindows) runtimeBaseline.shift();
    if (cfg.baselineEveryMs !== false && data.runtimeBaseline.length >= cfg.baselineWindows && (nextBaselineMs === null || now >= nextBaselineMs)) {
      nextBaselineMs = now + cfg.baselineEveryMs;
      await writeEvidence({ kind: 'baseline', reason: `scheduled baseline (every ${(cfg.baselineEveryMs / 60_000).toFixed(0)} min)` }, data, policyWants('baseline'));
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
        if (snapshotBusy) return { status: 429, reason: 'a snapshot is being written', retryAfterS: 60 };
        const wait = rateLimitedForMs(cfg.now());
        if (wait > 0) return { status: 429, reason: 'snapshot rate limit', retryAfterS: Math.ceil(wait / 1000) };
      }
      const r = await capture('endpoint', { snapshot });
      return r.status === 'written' ? { status: 200, body: r.manifest } : { status: 500, reason: r.reason ?? r.status };
    },
  };
  const handler = (req: IncomingMessage, res: ServerResponse): boolean => {
    try {
      return handleEvidenceRequest(route, req, res) || debugHandler(req, res);
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
      await sampler?.stop();
    },
  };
}
