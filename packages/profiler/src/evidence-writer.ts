// Writing one evidence bundle: what goes in it (histograms, runtime, heap statistics, slowest
// traces, the sampling heap profile), whether a full snapshot may be taken (policy, budget,
// resource guard), and what writing it leaves behind (the pause it caused, the quota, where each
// trigger's bundle went). createProfiler decides when a bundle is written; this decides what.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { enforceQuota, ensureDir, OUTCOME_FILE, writeBundle } from './bundle.ts';
import type { SnapshotRequest } from './bundle.ts';
import type { EngineFired } from './evaluation.ts';
import { EVIDENCE_FORMAT, EVIDENCE_VERSION } from '@tailtrace/formats';
import type {
  EncodedWindow, EvidenceManifest, EvidenceTriggerKind, HeapFile, HistogramsFile, OperationKind, OperationRef,
  RuntimeFile, RuntimeWindowStats, SlowTrace, SnapshotOutcome, TimeWindow, TracesFile,
} from '@tailtrace/formats';
import { checkSnapshotResources } from './guard.ts';
import { stopTrackingObjectMoves } from './object-ids.ts';
import type { HeapSampler } from './heap-sampler.ts';
import type { SnapshotBudget, SnapshotClaim } from './snapshot-budget.ts';
import type { SystemProbe } from './system-probe.ts';

export type SnapshotPolicy = 'never' | 'manual' | 'triggers';

/** What a bundle is written for: a trigger (the worst of its window), a capture, or the baseline. */
export interface BundleTrigger {
  kind: EvidenceTriggerKind;
  reason: string;
  operation?: OperationRef;
  observed?: number;
  threshold?: number;
  /** The engine's triggers this bundle holds, worst first (a later blip verdict annotates the bundle). */
  fired?: EngineFired[];
}

export interface OpEvidence {
  ref: OperationRef;
  window: EncodedWindow;
  baseline: EncodedWindow[];
}

/** What a bundle describes: the window and its baseline. */
export interface WindowData {
  window: TimeWindow;
  ops: OpEvidence[];
  runtime: RuntimeWindowStats;
  runtimeBaseline: RuntimeWindowStats[];
}

export interface CaptureResult {
  /** disabled: evidence is off. failed: no bundle (reason says why; nothing partial is left). */
  status: 'written' | 'failed' | 'disabled';
  /** The bundle directory. */
  path?: string;
  manifest?: EvidenceManifest;
  reason?: string;
}

export interface EvidenceWriterOptions {
  serviceName: string;
  dir: string;
  snapshots: SnapshotPolicy;
  quotaBytes: number;
  maxPauseMs: number;
  /** Leave V8's object-id tracking on after a snapshot (object-ids.ts): ids match across snapshots, every GC pays. */
  keepSnapshotObjectIds: boolean;
  /** The heap-limit trigger's ratio (1 when off): a snapshot must not push the heap past it. */
  heapLimitRatio: number;
  probe: SystemProbe;
  now: () => number;
  sampler: HeapSampler | undefined;
  budget: SnapshotBudget;
  /** Heap used after each major GC, for heap.json's trend. */
  heapAfterGc: () => Array<{ atMs: number; usedBytes: number }>;
  /** The slowest sampled requests of an operation's current window (may throw). */
  slowest: (kind: OperationKind, operation: string) => SlowTrace[];
  fail: (where: string, err: unknown) => void;
  onSnapshot: (result: 'written' | 'refused' | 'failed') => void;
}

export interface EvidenceWriter {
  write(t: BundleTrigger, data: WindowData, want: boolean): Promise<CaptureResult>;
  /**
   * Until when the last pause we caused (a snapshot, a collection first) disturbs the service:
   * its end plus twice its length, the time a service takes to drain the requests that queued up
   * meanwhile. -Infinity before any.
   */
  readonly disturbedUntilMs: number;
  /** The bundle holding an engine trigger (by id), until taken; the last 64 are kept. */
  takeBundleOf(triggerId: string): string | undefined;
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

const MANUAL: SnapshotClaim = { key: 'manual', level: 0 };

/** What the snapshot budget rations a bundle under: its trigger kind, and how bad it is. */
export function claimOf(t: Pick<BundleTrigger, 'kind' | 'fired'>): SnapshotClaim {
  if (t.kind === 'signal' || t.kind === 'endpoint') return MANUAL;
  const worst = t.fired?.[0];
  return { key: t.kind, level: worst?.level ?? 0, ...(worst ? { triggerId: worst.id } : {}) };
}

const span = (ws: readonly TimeWindow[]): TimeWindow | null =>
  ws.length === 0 ? null : { startMs: Math.min(...ws.map((w) => w.startMs)), endMs: Math.max(...ws.map((w) => w.endMs)) };

function heapFile(o: EvidenceWriterOptions): HeapFile {
  return {
    statistics: { ...getHeapStatistics() } as unknown as Record<string, number>,
    spaces: getHeapSpaceStatistics().map((s) => ({
      space_name: s.space_name, space_size: s.space_size, space_used_size: s.space_used_size,
      space_available_size: s.space_available_size, physical_space_size: s.physical_space_size,
    })),
    memoryUsage: { ...process.memoryUsage() },
    heapAfterGc: o.heapAfterGc(),
    sampling: o.sampler ? { intervalBytes: o.sampler.intervalBytes, backend: o.sampler.backend } : null,
  };
}

function tracesFile(o: EvidenceWriterOptions, ops: OpEvidence[]): TracesFile {
  return {
    operations: ops.map((op) => {
      let slowest: SlowTrace[] = [];
      try {
        slowest = o.slowest(op.ref.kind, op.ref.operation);
      } catch (err) {
        o.fail('latency.slowest', err);
      }
      return { ...op.ref, slowest };
    }),
  };
}

/** The bundle's JSON files, and the sampling profile when there is one. */
function bundleFiles(o: EvidenceWriterOptions, data: WindowData, heapProfile: Buffer | null): Array<{ name: string; data: string | Uint8Array }> {
  const histograms: HistogramsFile = {
    unit: 'microseconds',
    operations: data.ops.map((op) => ({ ...op.ref, window: op.window, baseline: op.baseline })),
  };
  const runtime: RuntimeFile = { window: data.runtime, baseline: data.runtimeBaseline };
  const files: Array<{ name: string; data: string | Uint8Array }> = [
    { name: 'histograms.json', data: JSON.stringify(histograms) },
    { name: 'runtime.json', data: JSON.stringify(runtime) },
    { name: 'heap.json', data: JSON.stringify(heapFile(o)) },
    { name: 'traces.json', data: JSON.stringify(tracesFile(o, data.ops)) },
  ];
  if (heapProfile) files.push({ name: 'heap.pb.gz', data: heapProfile });
  return files;
}

function manifestOf(o: EvidenceWriterOptions, t: BundleTrigger, data: WindowData, heapProfile: boolean, snapshot: SnapshotOutcome, snapshotFile: string | null): EvidenceManifest {
  const trigger: EvidenceManifest['trigger'] = { kind: t.kind, reason: t.reason };
  if (t.operation) trigger.operation = t.operation;
  if (t.observed !== undefined) trigger.observed = t.observed;
  if (t.threshold !== undefined) trigger.threshold = t.threshold;
  return {
    format: EVIDENCE_FORMAT,
    version: EVIDENCE_VERSION,
    service: o.serviceName,
    host: hostname(),
    pid: process.pid,
    createdAt: new Date(o.now()).toISOString(),
    versions: { tailtrace: packageVersion(), node: process.version, v8: process.versions.v8 },
    trigger,
    window: data.window,
    baselineWindow: span([...data.ops.flatMap((op) => op.baseline), ...data.runtimeBaseline]),
    files: {
      histograms: 'histograms.json',
      runtime: 'runtime.json',
      heap: 'heap.json',
      traces: 'traces.json',
      heapProfile: heapProfile ? 'heap.pb.gz' : null,
      snapshot: snapshotFile,
      outcome: OUTCOME_FILE,
    },
    snapshot,
  };
}

export function createEvidenceWriter(o: EvidenceWriterOptions): EvidenceWriter {
  let disturbedUntilMs = -Infinity;
  const bundleOf = new Map<string, string>();

  /** The snapshot decision that needs no I/O; reserves the one-at-a-time slot when it says go on. */
  const reserve = (t: BundleTrigger, want: boolean, now: number): SnapshotOutcome | 'reserved' => {
    if (o.snapshots === 'never') return { status: 'skipped', reason: "snapshots: 'never'" };
    if (!want) return { status: 'skipped', reason: `snapshots: '${o.snapshots}' does not take one on ${t.kind}` };
    if (t.kind === 'heap_limit') return { status: 'refused', reason: 'heap_limit trigger: a snapshot near the heap limit could kill the process' };
    const refusal = o.budget.refusal(claimOf(t), now);
    if (refusal !== undefined) return { status: 'refused', reason: refusal };
    o.budget.busy = true;
    return 'reserved';
  };

  /**
   * The sampling profile. A trigger's evidence wants the live set: a collection first (a pause,
   * so the window is marked). A scheduled baseline does not pause the service for it when the
   * backend can read without one: its callers would see the pause as a regression of their own.
   */
  const readProfile = async (kind: EvidenceTriggerKind): Promise<{ bytes: Buffer | null; collected: boolean }> => {
    if (!o.sampler) return { bytes: null, collected: false };
    const collected = kind !== 'baseline' || o.sampler.backend === 'inspector';
    try {
      return { bytes: await o.sampler.pprof({ gc: collected }), collected };
    } catch (err) {
      o.fail('heap profile', err);
      return { bytes: null, collected: false };
    }
  };

  /** The resource guard (memory, cgroup, disk, pause): a snapshot request, or the refusal. */
  const guard = async (): Promise<{ request: SnapshotRequest } | { refused: SnapshotOutcome }> => {
    // statfs needs the directory to exist (the first bundle creates it).
    await ensureDir(o.dir);
    const p = o.probe;
    const [cgroup, mem, disk] = await Promise.all([
      p.cgroupAvailableBytes().catch(() => null),
      p.memAvailableBytes().catch(() => null),
      p.freeDiskBytes(o.dir).catch(() => null),
    ]);
    const stats = getHeapStatistics();
    const g = checkSnapshotResources({
      usedHeapBytes: stats.used_heap_size,
      heapSizeLimit: stats.heap_size_limit,
      heapLimitRatio: o.heapLimitRatio,
      rssBytes: p.rssBytes(),
      cgroupAvailableBytes: cgroup,
      memAvailableBytes: mem,
      freeDiskBytes: disk,
      quotaBytes: o.quotaBytes,
      maxPauseMs: o.maxPauseMs,
    });
    const write = (path: string): void => {
      try {
        p.writeHeapSnapshot(path);
      } finally {
        // Else every later GC of the service pays for the snapshot's id tracking (object-ids.ts).
        if (!o.keepSnapshotObjectIds) stopTrackingObjectMoves();
      }
    };
    if (g.allowed) return { request: { write, estimatedPeakRssBytes: g.estimatedPeakRssBytes, availableBytes: g.availableBytes } };
    const refused: SnapshotOutcome = { status: 'refused', reason: g.reason };
    if (g.estimatedPeakRssBytes !== undefined) refused.estimatedPeakRssBytes = g.estimatedPeakRssBytes;
    if (g.availableBytes !== undefined) refused.availableBytes = g.availableBytes;
    return { refused };
  };

  const remember = (t: BundleTrigger, path: string): void => {
    for (const f of t.fired ?? []) bundleOf.set(f.id, path);
    while (bundleOf.size > 64) bundleOf.delete(bundleOf.keys().next().value!);
  };

  const write = async (t: BundleTrigger, data: WindowData, want: boolean): Promise<CaptureResult> => {
    const now = o.now();
    const pre = reserve(t, want, now);
    const reserved = pre === 'reserved';
    let request: SnapshotRequest | null = null;
    let outcome: SnapshotOutcome = reserved ? { status: 'skipped' } : pre;
    try {
      const profile = await readProfile(t.kind);
      if (reserved) {
        const g = await guard();
        if ('request' in g) {
          request = g.request;
          o.budget.taken(claimOf(t), now);
        } else outcome = g.refused;
      }
      const written = await writeBundle({
        dir: o.dir, atMs: now, trigger: t.kind, pid: process.pid, files: bundleFiles(o, data, profile.bytes),
        snapshot: request, outcome, clock: () => performance.now(),
        manifest: (snapshot, snapshotFile) => manifestOf(o, t, data, profile.bytes !== null, snapshot, snapshotFile),
      });
      if (written.manifest.snapshot.status === 'written' || (profile.bytes !== null && profile.collected)) {
        const end = o.now();
        disturbedUntilMs = end + 2 * Math.max(0, end - now);
      }
      remember(t, written.path);
      if (written.manifest.snapshot.status !== 'skipped') o.onSnapshot(written.manifest.snapshot.status);
      try {
        await enforceQuota(o.dir, o.quotaBytes, written.name, o.now());
      } catch (err) {
        o.fail('evidence quota', err);
      }
      return { status: 'written', path: written.path, manifest: written.manifest };
    } catch (err) {
      o.fail('evidence bundle', err);
      if (request !== null) o.onSnapshot('failed');
      else if (outcome.status === 'refused') o.onSnapshot('refused');
      return { status: 'failed', reason: (err as Error).message };
    } finally {
      if (reserved) o.budget.busy = false;
    }
  };

  return {
    write,
    get disturbedUntilMs() {
      return disturbedUntilMs;
    },
    takeBundleOf(id) {
      const path = bundleOf.get(id);
      bundleOf.delete(id);
      return path;
    },
  };
}
