// Evidence bundles for the diagnose tests, written the way the contract (evidence-format.ts)
// says: HDR windows recorded with hdr-histogram-js in µs from seeded latency distributions, real
// heap snapshots written by child Node processes, pprof heap profiles through the profiler's
// codec. Typed against the contract, so a change of the format fails the type check here.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import hdr from 'hdr-histogram-js';
import { EVIDENCE_FORMAT, EVIDENCE_VERSION, encodePprof } from '@tailtrace/formats';
import type {
  EncodedWindow, EvidenceManifest, EvidenceTriggerKind, HeapFile, HistogramsFile, OperationRef, PprofProfile, RuntimeFile, RuntimeWindowStats, TracesFile,
} from '@tailtrace/formats';
import { gzipSync } from 'node:zlib';
import type { EvidenceBundle } from '../src/index.ts';

/** mulberry32: a small seeded PRNG so every run draws the same samples. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Latency in ms: log-normal body (median, sigma) plus an optional slow tail (share, extra ms). */
export interface Dist {
  medianMs: number;
  sigma: number;
  tailShare?: number;
  tailMs?: number;
}

export function sampler(d: Dist, seed: number): () => number {
  const r = rng(seed);
  return () => {
    const u1 = Math.max(r(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * r());
    let v = d.medianMs * Math.exp(d.sigma * z);
    if (d.tailShare && r() < d.tailShare) v += (d.tailMs ?? 0) * (0.5 + r());
    return v;
  };
}

/** One HDR window as the metrics side encodes it (µs, 1 µs .. 60 s, 3 digits). */
export function encodeSamples(ms: readonly number[]): string {
  const h = hdr.build({ bitBucketSize: 32, autoResize: false, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  for (const v of ms) h.recordValue(Math.min(60_000_000, Math.max(0, Math.round(v * 1000))));
  return hdr.encodeIntoCompressedBase64(h);
}

export interface OpSpec extends OperationRef {
  dist: Dist;
  /** Samples in the current window and in each baseline window. */
  n: number;
  baselineWindows?: number;
  /** Baseline windows' distribution if different (a bundle written after a regression began). */
  baselineDist?: Dist;
  baselineN?: number;
}

export interface BundleSpec {
  service?: string;
  host?: string;
  pid: number;
  trigger: EvidenceTriggerKind;
  /** End of the bundle's window (ms since the epoch); windows are WINDOW_MS long, back to back. */
  endMs: number;
  seed: number;
  ops: OpSpec[];
  /** GC pause ms per minute and event-loop p99 ms for the window and for the baseline windows. */
  runtime: { gcMsPerMin: number; elP99Ms: number; heapMB: number[]; baseGcMsPerMin?: number; baseElP99Ms?: number; elu?: number };
  /** Heap used after GC history (MiB) for heap.json, oldest first, one point a minute. */
  heapAfterGcMB: number[];
  /** Path of a heap snapshot to copy in as heap.heapsnapshot. */
  snapshot?: string;
  profile?: PprofProfile;
  /** Slowest traces kept per operation. */
  traces?: number;
}

export const WINDOW_MS = 60_000;
const MiB = 1024 * 1024;

function runtimeWindow(startMs: number, gcMsPerMin: number, elP99Ms: number, heapMB: number[], elu: number): RuntimeWindowStats {
  const count = 40;
  const major = Math.round(gcMsPerMin * 0.6);
  const minor = gcMsPerMin - major;
  return {
    startMs,
    endMs: startMs + WINDOW_MS,
    gc: {
      count,
      totalPauseMs: gcMsPerMin,
      maxPauseMs: Math.max(1, gcMsPerMin / 12),
      byKind: { minor: { count: 34, totalPauseMs: minor }, major: { count: 4, totalPauseMs: major }, incremental: { count: 2, totalPauseMs: 0 }, weakcb: { count: 0, totalPauseMs: 0 } },
    },
    eventLoop: { p50Ms: 10.1, p99Ms: elP99Ms, maxMs: elP99Ms * 2, meanMs: 10.4, utilization: elu },
    heapUsedAfterGcBytes: heapMB.map((m) => m * MiB),
  };
}

function hex(r: () => number, chars: number): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += Math.floor(r() * 16).toString(16);
  return s;
}

/** The raw samples (ms) of operation `i`: the current window and the baseline windows, oldest first. */
export function samplesOf(spec: BundleSpec, i: number): { current: number[]; baseline: number[][] } {
  const o = spec.ops[i]!;
  const draw = (dist: Dist, n: number, seed: number) => Array.from({ length: n }, sampler(dist, seed));
  const baseline: number[][] = [];
  for (let k = o.baselineWindows ?? 4; k >= 1; k--) baseline.push(draw(o.baselineDist ?? o.dist, o.baselineN ?? o.n, spec.seed * 1000 + i + 100 * k));
  return { current: draw(o.dist, o.n, spec.seed * 1000 + i), baseline };
}

/** The bundle's files as objects (`manifest.json` last, as the writer does). */
export function bundleFiles(spec: BundleSpec): { manifest: EvidenceManifest; histograms: HistogramsFile; runtime: RuntimeFile; heap: HeapFile; traces: TracesFile } {
  const start = spec.endMs - WINDOW_MS;
  const nb = Math.max(0, ...spec.ops.map((o) => o.baselineWindows ?? 4));
  const r = rng(spec.seed ^ 0x9e3779b9);
  const histograms: HistogramsFile = { unit: 'microseconds', operations: [] };
  const traces: TracesFile = { operations: [] };
  spec.ops.forEach((o, i) => {
    const { current: cur, baseline: base } = samplesOf(spec, i);
    const window: EncodedWindow = { startMs: start, endMs: spec.endMs, count: o.n, encoded: o.n ? encodeSamples(cur) : '' };
    const baseline: EncodedWindow[] = base.map((vals, j) => {
      const k = base.length - j;
      return { startMs: start - k * WINDOW_MS, endMs: start - (k - 1) * WINDOW_MS, count: vals.length, encoded: vals.length ? encodeSamples(vals) : '' };
    });
    histograms.operations.push({ kind: o.kind, operation: o.operation, window, baseline });
    const slow = [...cur].sort((a, b) => b - a).slice(0, spec.traces ?? 5);
    if (slow.length) {
      traces.operations.push({
        kind: o.kind,
        operation: o.operation,
        slowest: slow.map((ms) => ({ traceId: hex(r, 32), spanId: hex(r, 16), durationS: ms / 1000, atMs: start + Math.floor(r() * WINDOW_MS) })),
      });
    }
  });
  const rt = spec.runtime;
  const runtime: RuntimeFile = {
    window: runtimeWindow(start, rt.gcMsPerMin, rt.elP99Ms, rt.heapMB, rt.elu ?? 0.3),
    baseline: Array.from({ length: nb }, (_, j) => runtimeWindow(start - (nb - j) * WINDOW_MS, rt.baseGcMsPerMin ?? rt.gcMsPerMin, rt.baseElP99Ms ?? rt.elP99Ms, rt.heapMB.slice(0, 1), rt.elu ?? 0.3)),
  };
  const used = (spec.heapAfterGcMB.at(-1) ?? 50) * MiB;
  const heap: HeapFile = {
    statistics: { total_heap_size: used * 1.5, used_heap_size: used * 1.1, heap_size_limit: 4096 * MiB, external_memory: 3 * MiB, malloced_memory: 1 * MiB },
    spaces: [{ space_name: 'old_space', space_size: used * 1.2, space_used_size: used, space_available_size: used * 0.2, physical_space_size: used * 1.2 }],
    memoryUsage: { rss: used * 2, heapTotal: used * 1.5, heapUsed: used * 1.1, external: 3 * MiB, arrayBuffers: MiB },
    heapAfterGc: spec.heapAfterGcMB.map((m, i) => ({ atMs: spec.endMs - (spec.heapAfterGcMB.length - 1 - i) * 60_000, usedBytes: m * MiB })),
    sampling: spec.profile ? { intervalBytes: 512 * 1024 } : null,
  };
  const manifest: EvidenceManifest = {
    format: EVIDENCE_FORMAT,
    version: EVIDENCE_VERSION,
    service: spec.service ?? 'orders',
    host: spec.host ?? 'test-host',
    pid: spec.pid,
    createdAt: new Date(spec.endMs + 1500).toISOString(),
    versions: { tailtrace: '0.1.0', node: process.version, v8: process.versions.v8 },
    trigger: { kind: spec.trigger, reason: spec.trigger === 'baseline' ? 'scheduled baseline' : 'P99 of GET /orders/:id over 2.0x baseline' },
    window: { startMs: start, endMs: spec.endMs },
    baselineWindow: nb ? { startMs: start - nb * WINDOW_MS, endMs: start } : null,
    files: {
      histograms: 'histograms.json',
      runtime: 'runtime.json',
      heap: 'heap.json',
      traces: 'traces.json',
      heapProfile: spec.profile ? 'heap.pb.gz' : null,
      snapshot: spec.snapshot ? 'heap.heapsnapshot' : null,
    },
    snapshot: spec.snapshot ? { status: 'written', pauseMs: 120, bytes: 1 } : { status: 'skipped', reason: 'policy: snapshots off' },
  };
  return { manifest, histograms, runtime, heap, traces };
}

/** Writes a bundle directory `<parent>/<name>` and returns its path. */
export function writeBundle(parent: string, name: string, spec: BundleSpec): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = bundleFiles(spec);
  const put = (n: string, data: string | Uint8Array) => writeFileSync(join(dir, n), data, { mode: 0o600 });
  put('histograms.json', JSON.stringify(f.histograms));
  put('runtime.json', JSON.stringify(f.runtime));
  put('heap.json', JSON.stringify(f.heap));
  put('traces.json', JSON.stringify(f.traces));
  if (spec.profile) put('heap.pb.gz', gzipSync(encodePprof(spec.profile)));
  if (spec.snapshot) execFileSync('cp', [spec.snapshot, join(dir, 'heap.heapsnapshot')]);
  put('manifest.json', JSON.stringify(f.manifest, null, 2));
  return dir;
}

/**
 * A heap snapshot from a child process holding `n` LeakedSession objects in a global Map and `n`
 * more in a Map only a closure's context holds, each with a 1 KiB string (n = 4000: ~9 MiB).
 */
export function leakSnapshot(dir: string, name: string, n: number): string {
  const script = join(dir, `${name}.cjs`);
  const out = join(dir, `${name}.heapsnapshot`);
  writeFileSync(
    script,
    `const v8 = require('node:v8');
class LeakedSession { constructor(i) { this.id = i; this.user = 'user-' + i; this.payload = Buffer.alloc(1024, 97 + (i % 26)).toString('latin1'); } }
class OrderCache { constructor() { this.entries = new Map(); } }
globalThis.sessions = new Map();
globalThis.orders = new OrderCache();
for (let i = 0; i < ${n}; i++) globalThis.sessions.set(i, new LeakedSession(i));
// A second leak of the same sessions held only by one closure's context (as a module-level
// variable is), while closure contexts multiply for an unrelated reason (live handlers): the
// Context class then grows in count and, through that one context, in retained size.
const sessionsOf = (() => { const held = new Map(); return () => held; })();
globalThis.sessionsOf = sessionsOf;
for (let i = 0; i < ${n}; i++) sessionsOf().set(i, new LeakedSession(i));
globalThis.handlers = [];
for (let i = 0; i < ${Math.floor(n / 4)}; i++) globalThis.handlers.push(((k) => () => k)(i));
for (let i = 0; i < 50; i++) globalThis.orders.entries.set(i, { id: i });
gc();
v8.writeHeapSnapshot(${JSON.stringify(out)});
`,
  );
  execFileSync(process.execPath, ['--expose-gc', script], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
  return out;
}

/**
 * A sampling heap profile as the runtime writes it (inuse_objects/count, inuse_space/bytes):
 * `leakMiB` in use at `new LeakedSession` under getOrder, plus steady sites.
 */
export function heapProfile(leakMiB: number): PprofProfile {
  const fn = (id: number, name: string, filename: string, startLine: number) => ({ id, name, systemName: name, filename, startLine });
  const loc = (id: number, functionId: number, line: number) => ({ id, mappingId: 0, address: 0, lines: [{ functionId, line }] });
  const sample = (locationIds: number[], bytes: number) => ({ locationIds, values: [Math.max(1, Math.round(bytes / 1100)), bytes] });
  return {
    sampleTypes: [
      { type: 'inuse_objects', unit: 'count' },
      { type: 'inuse_space', unit: 'bytes' },
    ],
    samples: [
      sample([1, 2, 3, 4], leakMiB * MiB),
      sample([5, 4], 3 * MiB),
      sample([6, 4], 2 * MiB),
    ],
    mappings: [],
    locations: [loc(1, 1, 3), loc(2, 2, 20), loc(3, 3, 42), loc(4, 4, 1), loc(5, 5, 77), loc(6, 6, 12)],
    functions: [
      fn(1, 'LeakedSession', 'file:///app/session.js', 2),
      fn(2, 'createSession', 'file:///app/session.js', 18),
      fn(3, 'getOrder', 'file:///app/routes/orders.js', 40),
      fn(4, '(root)', '', 0),
      fn(5, 'parseBody', 'file:///app/node_modules/body-parser/lib/read.js', 70),
      fn(6, 'compileRoutes', 'file:///app/server.js', 10),
    ],
    timeNanos: 1_700_000_000_000_000_000 / 1e3,
    durationNanos: 0,
    periodType: { type: 'space', unit: 'bytes' },
    period: 512 * 1024,
    comments: [],
    defaultSampleType: 1,
  };
}

export const ORDERS_GET: OperationRef = { kind: 'http_server', operation: 'GET /orders/:id' };

/** The healthy service: GET /orders/:id ~12 ms median, POST /orders ~25 ms, a gRPC method ~4 ms. */
export function healthyOps(scale = 1): OpSpec[] {
  return [
    { ...ORDERS_GET, dist: { medianMs: 12, sigma: 0.35 }, n: Math.round(300 * scale) },
    { kind: 'http_server', operation: 'POST /orders', dist: { medianMs: 25, sigma: 0.4 }, n: Math.round(120 * scale) },
    { kind: 'rpc_server', operation: 'orders.OrderService/Get', dist: { medianMs: 4, sigma: 0.5 }, n: Math.round(500 * scale) },
    { kind: 'http_client', operation: 'GET inventory', dist: { medianMs: 8, sigma: 0.3 }, n: Math.round(200 * scale) },
  ];
}

/** The same service with a leak: GET /orders/:id gets GC-pause tails. */
export function leakingOps(scale = 1): OpSpec[] {
  return healthyOps(scale).map((o) => (o.operation === ORDERS_GET.operation ? { ...o, dist: { medianMs: 13, sigma: 0.4, tailShare: 0.06, tailMs: 40 }, n: Math.round(1200 * scale) } : o));
}

/** The bundle as readEvidence would return it, without touching the disk (for the pure tests). */
export function memoryBundle(dir: string, spec: BundleSpec): EvidenceBundle {
  const f = bundleFiles(spec);
  return { dir, ...f, heapProfile: spec.profile ?? null, heapProfilePath: spec.profile ? join(dir, 'heap.pb.gz') : null, snapshotPath: null, outcome: null };
}
