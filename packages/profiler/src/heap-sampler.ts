// Continuous sampling heap profile from V8's sampling heap profiler, read through one of two
// backends. Both drive the same V8 SamplingHeapProfiler (same Poisson sampling, same cost while
// allocating: 0.93-0.98x the throughput of no sampling at 512 KiB in bench/heap-sampling.ts, the
// two backends within noise of each other); they differ in how a profile is read. Read times
// below: Node 24.21 x64, 2 shared busy cores (noisy), one run each.
//  - 'datadog' (@datadog/pprof, an optional peer dependency with prebuilt native binaries): reads
//    V8's AllocationProfile directly. No GC, and inuse_objects is V8's own count. A read costs
//    ~0.5 ms (under 4 ms for the first, before the JIT warms up) on bench/heap-sampling.ts's
//    150 MB heap (few distinct stacks), and 13-34 ms on a 176 MB heap with ~3,800 distinct
//    stacks (8-12 ms V8's tree, the rest our conversion). The price of no GC: the profile
//    includes sampled objects that are already unreachable but not yet collected (young garbage
//    goes at the next scavenge, old garbage waits for the next major GC), so in-use figures are
//    an upper bound between collections.
//  - 'inspector' (node:inspector, no native code, works everywhere): V8's inspector agent always
//    starts sampling with kSamplingForceGC, so every read runs a full mark-compact first: median
//    170 ms (120-290) per read on the same 150 MB heap, 140-150 ms on the 176 MB one, about
//    1 ms per MB of live heap. The profile is then exactly the live set, but reads should be
//    occasional (evidence bundles, a human, a scraper every minute or more), not every few
//    seconds on a large heap. The agent fixes V8's stack depth at 128 frames; `stackDepth` trims
//    frames (keeping the leaf end) when converting.
// 'auto' (default) uses 'datadog' when @datadog/pprof loads and 'inspector' otherwise, so a
// Pyroscope-style scraper every 15 s does not pause a large service on every scrape where the
// addon is installed; `HeapSampler.backend` and the profile's comment say which one ran.
// Sampling flags: none. includeObjectsCollectedByMajorGC/MinorGC (or datadog's allocation mode)
// would turn the profile into "everything ever sampled", which is not an in-use profile.
//
// Scaling: V8 already unsamples. SamplingHeapProfiler::ScaleSample turns each sampled object of
// size s into count = trunc(1 / (1 - exp(-s / interval)) + 0.5) objects. The datadog backend gets
// (size, count) pairs, so both sample types are V8's. The inspector reports per sample only
// size = s * count (per node, selfSize = the sum of those), so inuse_space is taken as reported
// while inuse_objects has to be reconstructed: we look for the smallest object size (a multiple
// of V8's tagged size) that reproduces the reported size under the same formula. That is exact
// when the object size divides the interval (e.g. powers of two) and for objects larger than
// ~2.2 intervals, and otherwise overestimates the count (different sizes can produce the same
// product), so treat the inspector's inuse_objects as approximate; inuse_space is the default
// sample type. Function and location naming is shared (v8-frames.ts), so profiles from the two
// backends diff against each other by function.
import { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import { gzipPprof } from '@tailtrace/formats';
import { FrameTable } from './v8-frames.ts';
import type { V8CallFrame } from './v8-frames.ts';
import type { PprofProfile, PprofSample } from '@tailtrace/formats';

export const DEFAULT_HEAP_INTERVAL = 512 * 1024;
const V8_MAX_STACK_DEPTH = 128;

export type HeapSamplerBackend = 'inspector' | 'datadog';

export interface HeapSamplerOptions {
  /** Mean bytes between samples (Poisson). Default 524288 (512 KiB), V8's own default. */
  intervalBytes?: number;
  /** Frames kept per stack, leaf first; 1..128, default 64. */
  stackDepth?: number;
  /**
   * How profiles are read (see the file comment). 'auto' (default): 'datadog' when the optional
   * peer dependency @datadog/pprof loads, else 'inspector'. 'datadog' throws when it does not load.
   */
  backend?: HeapSamplerBackend | 'auto';
}

export interface HeapSampler {
  readonly intervalBytes: number;
  readonly stackDepth: number;
  /** Which backend reads the profile: 'inspector' forces a full GC per read, 'datadog' does not. */
  readonly backend: HeapSamplerBackend;
  /** False after stop(). */
  readonly running: boolean;
  /**
   * The current in-use profile (the inspector backend forces a full GC first); sampling keeps
   * running. `gc: true` collects garbage first, so the profile is the live set (the inspector
   * backend always does; datadog otherwise counts sampled garbage until the next GC); an object
   * allocated while a marking cycle was already under way may stay for one more cycle. Evidence
   * bundles ask for it; `/debug/pprof/heap?gc=1` too, as in Go.
   */
  profile(opts?: { gc?: boolean }): Promise<PprofProfile>;
  /** profile() as gzipped pprof bytes. */
  pprof(opts?: { gc?: boolean }): Promise<Buffer>;
  /** Stops sampling and releases V8's sample set; later profile() calls reject. Idempotent. */
  stop(): Promise<void>;
}

/** HeapProfiler.SamplingHeapProfile (the inspector's reply; `node --heap-prof` writes the same JSON). */
export interface V8SamplingHeapProfile {
  head: V8SamplingHeapNode;
  samples?: { size: number; nodeId: number; ordinal: number }[];
}

export interface V8SamplingHeapNode {
  callFrame: V8CallFrame;
  selfSize: number;
  id: number;
  children: V8SamplingHeapNode[];
}

/**
 * A node of V8's v8::AllocationProfile as @datadog/pprof's `heap.v8Profile()` returns it: lines
 * and columns are 1-based (0 when unknown), allocations are (object size, object count) pairs.
 */
export interface V8AllocationProfileNode {
  name?: string;
  scriptName: string;
  scriptId?: number;
  lineNumber?: number;
  columnNumber?: number;
  allocations: { sizeBytes: number; count: number }[];
  children: V8AllocationProfileNode[];
}

export interface HeapProfileConversion {
  intervalBytes: number;
  stackDepth?: number;
  timeNanos?: number;
  durationNanos?: number;
}

// V8 has one sampling heap profiler per isolate and any inspector session can stop it, so one
// HeapSampler at a time per process; the flag lives on globalThis so two copies of this module
// (source and dist) still agree.
const ACTIVE = Symbol.for('tailtrace.profiler.heapSampler');
type GlobalWithSampler = typeof globalThis & { [ACTIVE]?: boolean };

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${v}`);
  return v;
}

/** The part of @datadog/pprof's `heap` export we use. */
interface DatadogHeap {
  start(intervalBytes: number, stackDepth: number): void;
  stop(): void;
  v8Profile(): V8AllocationProfileNode;
}

// Loaded on first use and remembered, failure included: a missing module or a native binary
// that does not fit this Node stays that way for the life of the process. createRequire because
// the package is CommonJS and startHeapSampling is synchronous.
let datadog: DatadogHeap | Error | undefined;
function loadDatadog(): DatadogHeap | Error {
  if (datadog !== undefined) return datadog;
  try {
    const mod = createRequire(import.meta.url)('@datadog/pprof') as { heap?: Partial<DatadogHeap> } | undefined;
    const heap = mod?.heap;
    datadog = typeof heap?.start === 'function' && typeof heap.stop === 'function' && typeof heap.v8Profile === 'function'
      ? (heap as DatadogHeap)
      : new Error('@datadog/pprof has no heap.start/stop/v8Profile (version ^5.20.0 expected)');
  } catch (err) {
    datadog = err instanceof Error ? err : new Error(String(err));
  }
  return datadog;
}

interface Reader {
  read(): Promise<PprofProfile>;
  stop(): Promise<void>;
  /** Whether read() already collects garbage first. */
  collects: boolean;
}

/** A full mark-compact through the inspector (works without --expose-gc). */
export function collectGarbage(): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = new Session();
    session.connect();
    // V8 runs the collection as a task and nothing holds the event loop open for the reply: a
    // caller awaiting it in an otherwise idle process would see the loop end with it pending.
    const keepAlive = setTimeout(() => {}, 60_000);
    session.post('HeapProfiler.collectGarbage', (err) => {
      clearTimeout(keepAlive);
      // Disconnecting inside the reply to an asynchronously dispatched command deadlocks the
      // inspector (seen on Node 24): leave the callback first.
      setImmediate(() => session.disconnect());
      if (err) reject(new Error(`cannot collect garbage through the inspector: ${err.message}`));
      else resolve();
    });
  });
}

function startInspector(intervalBytes: number, convert: (raw: V8SamplingHeapProfile) => PprofProfile): Reader {
  const session = new Session();
  session.connect();
  // In-process sessions answer synchronously; startError stays undefined if that ever changes.
  let startError: Error | null | undefined;
  session.post('HeapProfiler.startSampling', { samplingInterval: intervalBytes }, (err) => {
    startError = err ?? null;
  });
  if (startError !== null) {
    session.disconnect();
    throw new Error(`cannot start V8 sampling heap profiler: ${startError?.message ?? 'no reply from the inspector'}`);
  }
  return {
    collects: true,
    read: () =>
      new Promise((resolve, reject) => {
        session.post('HeapProfiler.getSamplingProfile', (err, res) => {
          if (err) {
            reject(new Error(`cannot read the sampling heap profile (was HeapProfiler.stopSampling called elsewhere?): ${err.message}`));
            return;
          }
          try {
            resolve(convert(res.profile as V8SamplingHeapProfile));
          } catch (e) {
            reject(e);
          }
        });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        session.post('HeapProfiler.stopSampling', () => {
          session.disconnect();
          resolve();
        });
      }),
  };
}

function startDatadog(heap: DatadogHeap, intervalBytes: number, stackDepth: number, convert: (root: V8AllocationProfileNode) => PprofProfile): Reader {
  try {
    // V8 itself keeps only the leaf-most stackDepth frames here, which is also cheaper per sample.
    heap.start(intervalBytes, stackDepth);
  } catch (err) {
    throw new Error(`cannot start V8 sampling heap profiler through @datadog/pprof (is another profiler, e.g. dd-trace, using it?): ${(err as Error).message}`, { cause: err });
  }
  return {
    collects: false,
    // Synchronous underneath; the executor turns a throw into a rejection.
    read: () => new Promise((resolve) => resolve(convert(heap.v8Profile()))),
    stop: async () => heap.stop(),
  };
}

/**
 * Starts V8's sampling heap profiler (in-use objects, Poisson sampling every `intervalBytes` on
 * average) with the chosen backend. Throws if a HeapSampler is already running in this process,
 * or if backend 'datadog' was asked for and @datadog/pprof cannot be loaded.
 */
export function startHeapSampling(opts: HeapSamplerOptions = {}): HeapSampler {
  const intervalBytes = checkInt('intervalBytes', opts.intervalBytes ?? DEFAULT_HEAP_INTERVAL, 1, 2 ** 31 - 1);
  const stackDepth = checkInt('stackDepth', opts.stackDepth ?? 64, 1, V8_MAX_STACK_DEPTH);
  const wanted = opts.backend ?? 'auto';
  if (wanted !== 'auto' && wanted !== 'inspector' && wanted !== 'datadog') throw new RangeError(`backend must be 'auto', 'inspector' or 'datadog', got ${String(wanted)}`);
  const g = globalThis as GlobalWithSampler;
  if (g[ACTIVE]) throw new Error('heap sampling is already running in this process (V8 has one sampling heap profiler): stop() the existing HeapSampler first');

  const dd = wanted === 'inspector' ? undefined : loadDatadog();
  if (wanted === 'datadog' && dd instanceof Error) {
    throw new Error(`heap sampler backend 'datadog' needs the optional peer dependency @datadog/pprof, which could not be loaded (${dd.message.split('\n')[0]}): npm install @datadog/pprof, or use backend 'inspector' or 'auto'`, { cause: dd });
  }
  const startedAt = process.hrtime.bigint();
  const conversion = (): HeapProfileConversion => ({
    intervalBytes, stackDepth, timeNanos: Date.now() * 1e6, durationNanos: Number(process.hrtime.bigint() - startedAt),
  });
  const backend: HeapSamplerBackend = dd === undefined || dd instanceof Error ? 'inspector' : 'datadog';
  const reader = dd === undefined || dd instanceof Error
    ? startInspector(intervalBytes, (raw) => heapProfileToPprof(raw, conversion()))
    : startDatadog(dd, intervalBytes, stackDepth, (root) => allocationProfileToPprof(root, conversion()));
  g[ACTIVE] = true;
  let running = true;
  let inflight: Promise<PprofProfile> | null = null;
  let inflightGc: Promise<PprofProfile> | null = null;

  return {
    intervalBytes,
    stackDepth,
    backend,
    get running() {
      return running;
    },
    profile(opts = {}) {
      if (!running) return Promise.reject(new Error('heap sampler is stopped'));
      // Concurrent reads share one (and one collection).
      if (opts.gc && !reader.collects) {
        inflightGc ??= collectGarbage().then(() => reader.read()).finally(() => {
          inflightGc = null;
        });
        return inflightGc;
      }
      inflight ??= reader.read().finally(() => {
        inflight = null;
      });
      return inflight;
    },
    async pprof(opts = {}) {
      return gzipPprof(await this.profile(opts));
    },
    async stop() {
      if (!running) return;
      running = false;
      await Promise.allSettled([inflight, inflightGc]);
      await reader.stop();
      g[ACTIVE] = false;
    },
  };
}

/** V8's ScaleSample: how many objects one sampled object of `size` bytes stands for. */
function scaledCount(size: number, interval: number): number {
  return Math.trunc(1 / (1 - Math.exp(-size / interval)) + 0.5);
}

/**
 * Objects behind one inspector sample of `reported` bytes (= size x scaledCount(size)). See the
 * file comment: the smallest consistent object size wins; past ~2.2 intervals the count is 1.
 */
export function estimateSampleObjects(reported: number, intervalBytes: number, taggedSize = 8): number {
  if (reported <= 0) return 0;
  if (reported > 2.2 * intervalBytes) return 1;
  for (let s = taggedSize; s <= reported; s += taggedSize) {
    if (reported % s === 0 && s * scaledCount(s, intervalBytes) === reported) return reported / s;
  }
  // Not produced by this interval (e.g. another session restarted V8 with a different one).
  return Math.max(1, Math.round(reported / intervalBytes));
}

const TAGGED_SIZE = (process.config.variables as { v8_enable_pointer_compression?: number | boolean }).v8_enable_pointer_compression ? 4 : 8;

/**
 * Converts the inspector's sampling heap profile to pprof: sample types inuse_objects/count and
 * inuse_space/bytes, period type space/bytes, one sample per distinct stack (leaf first).
 */
export function heapProfileToPprof(raw: V8SamplingHeapProfile, opts: HeapProfileConversion): PprofProfile {
  // Per node: [objects, bytes]. Samples carry the per-object sizes needed for object counts.
  const perNode = new Map<number, [number, number]>();
  const estimates = new Map<number, number>();
  if (raw.samples !== undefined) {
    // A sample whose node is not in the tree (allocated while V8 built it) is never looked up.
    for (const s of raw.samples) {
      let objects = estimates.get(s.size);
      if (objects === undefined) {
        objects = estimateSampleObjects(s.size, opts.intervalBytes, TAGGED_SIZE);
        estimates.set(s.size, objects);
      }
      const acc = perNode.get(s.nodeId) ?? [0, 0];
      acc[0] += objects;
      acc[1] += s.size;
      perNode.set(s.nodeId, acc);
    }
  }
  return treeToPprof(raw.head, {
    children: (n) => n.children,
    frame: (n) => n.callFrame,
    // Without samples (old .heapprofile files) selfSize is all there is.
    values: raw.samples !== undefined
      ? (n) => perNode.get(n.id)
      : (n) => (n.selfSize > 0 ? [estimateSampleObjects(n.selfSize, opts.intervalBytes, TAGGED_SIZE), n.selfSize] : undefined),
  }, opts, 'V8 sampling heap profile via node:inspector (read after a forced full GC); inuse_objects is estimated from sampled sizes');
}

/**
 * Converts V8's AllocationProfile tree (@datadog/pprof `heap.v8Profile()`) to the same pprof as
 * heapProfileToPprof: same sample types, same function and location naming, so the two diff.
 */
export function allocationProfileToPprof(root: V8AllocationProfileNode, opts: HeapProfileConversion): PprofProfile {
  return treeToPprof(root, {
    children: (n) => n.children,
    // The inspector reports the same V8 node fields 0-based (line_number - 1); so do we.
    frame: (n) => ({
      functionName: n.name ?? '',
      scriptId: String(n.scriptId ?? 0),
      url: n.scriptName,
      lineNumber: (n.lineNumber ?? 0) - 1,
      columnNumber: (n.columnNumber ?? 0) - 1,
    }),
    values: (n) => {
      if (n.allocations.length === 0) return undefined;
      let objects = 0;
      let bytes = 0;
      for (const a of n.allocations) {
        objects += a.count;
        bytes += a.sizeBytes * a.count;
      }
      return [objects, bytes];
    },
  }, opts, 'V8 sampling heap profile via @datadog/pprof (no forced GC: may include unreachable objects not yet collected)');
}

interface TreeAccess<N> {
  children(n: N): readonly N[];
  frame(n: N): V8CallFrame;
  /** [objects, bytes] allocated in this node itself, undefined when none. */
  values(n: N): readonly [number, number] | undefined;
}

interface Chain<N> {
  node: N;
  up: Chain<N> | null;
}

// One pprof sample per distinct stack (leaf first, trimmed to stackDepth at the leaf end); the
// root node itself is not a frame.
function treeToPprof<N>(head: N, access: TreeAccess<N>, opts: HeapProfileConversion, comment: string): PprofProfile {
  const depth = opts.stackDepth ?? V8_MAX_STACK_DEPTH;
  const frames = new FrameTable();
  // Interior nodes sit on many stacks: resolve each node's location once.
  const locationOf = new Map<N, number>();
  const byStack = new Map<string, PprofSample>();
  // Iterative walk: a deep tree must not overflow the JS stack.
  const todo: [N, Chain<N> | null][] = [[head, null]];
  while (todo.length > 0) {
    const [n, up] = todo.pop()!;
    const here = n === head ? null : { node: n, up };
    const v = access.values(n);
    if (v !== undefined) {
      const stack: number[] = [];
      for (let c = here; c !== null && stack.length < depth; c = c.up) {
        let loc = locationOf.get(c.node);
        if (loc === undefined) {
          loc = frames.location(access.frame(c.node));
          locationOf.set(c.node, loc);
        }
        stack.push(loc);
      }
      const key = stack.join(',');
      const sample = byStack.get(key);
      if (sample) {
        sample.values[0]! += v[0];
        sample.values[1]! += v[1];
      } else {
        byStack.set(key, { locationIds: stack, values: [v[0], v[1]] });
      }
    }
    for (const c of access.children(n)) todo.push([c, here]);
  }

  return {
    sampleTypes: [{ type: 'inuse_objects', unit: 'count' }, { type: 'inuse_space', unit: 'bytes' }],
    samples: [...byStack.values()],
    mappings: [],
    locations: frames.locations,
    functions: frames.functions,
    timeNanos: opts.timeNanos ?? 0,
    durationNanos: opts.durationNanos ?? 0,
    periodType: { type: 'space', unit: 'bytes' },
    period: opts.intervalBytes,
    comments: [comment],
    defaultSampleType: 1,
  };
}
