// On-demand CPU profile (V8 CpuProfiler through node:inspector) as gzipped pprof, the shape Go's
// /debug/pprof/profile serves: sample types samples/count and cpu/nanoseconds.
import { Session } from 'node:inspector';
import { gzipPprof } from '@tailtrace/formats';
import { FrameTable } from './v8-frames.ts';
import type { V8CallFrame } from './v8-frames.ts';
import type { PprofProfile, PprofSample } from '@tailtrace/formats';

export interface CpuProfileOptions {
  /** Sampling interval in microseconds; default 10000 (100 Hz, Go's rate). */
  intervalMicros?: number;
  /** Upper bound for `seconds`; default 60. */
  maxSeconds?: number;
  /** Ends the profile early; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A CPU profile is already being taken in this process. */
export class ProfileBusyError extends Error {
  constructor() {
    super('a CPU profile is already running in this process; retry when it finishes');
    this.name = 'ProfileBusyError';
  }
}

/** Profiler.Profile as the inspector returns it (`node --cpu-prof` writes the same JSON). */
export interface V8CpuProfile {
  nodes: V8CpuProfileNode[];
  /** Microseconds, monotonic clock. */
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface V8CpuProfileNode {
  id: number;
  callFrame: V8CallFrame;
  hitCount?: number;
  children?: number[];
  /** 1-based lines inside the function, with the ticks that landed on each. */
  positionTicks?: { line: number; ticks: number }[];
}

const BUSY = Symbol.for('tailtrace.profiler.cpuProfileBusy');
type GlobalWithBusy = typeof globalThis & { [BUSY]?: boolean };

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (err: Error | null, res?: object) => (err ? reject(err) : resolve(res as T)));
  });
}

/**
 * Profiles the CPU of this process for `seconds` (1..maxSeconds) and resolves gzipped pprof.
 * One at a time per process: a concurrent call rejects with ProfileBusyError.
 */
export async function cpuProfile(seconds: number, opts: CpuProfileOptions = {}): Promise<Buffer> {
  const maxSeconds = opts.maxSeconds ?? 60;
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > maxSeconds) {
    throw new RangeError(`seconds must be between 1 and ${maxSeconds}, got ${seconds}`);
  }
  const intervalMicros = opts.intervalMicros ?? 10_000;
  if (!Number.isInteger(intervalMicros) || intervalMicros < 100 || intervalMicros > 1_000_000) {
    throw new RangeError(`intervalMicros must be an integer in 100..1000000, got ${intervalMicros}`);
  }
  opts.signal?.throwIfAborted();
  const g = globalThis as GlobalWithBusy;
  if (g[BUSY]) throw new ProfileBusyError();
  g[BUSY] = true;
  const session = new Session();
  try {
    session.connect();
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: intervalMicros });
    const timeNanos = Date.now() * 1e6;
    await post(session, 'Profiler.start');
    let aborted: { reason: unknown } | undefined;
    try {
      await sleep(seconds * 1000, opts.signal);
    } catch (reason) {
      aborted = { reason };
    }
    // Stopped even when aborted, so V8 drops its sample buffer.
    const { profile } = await post<{ profile: V8CpuProfile }>(session, 'Profiler.stop');
    await post(session, 'Profiler.disable');
    if (aborted) throw aborted.reason;
    return await gzipPprof(cpuProfileToPprof(profile, { intervalMicros, timeNanos }));
  } finally {
    session.disconnect();
    g[BUSY] = false;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Converts an inspector CPU profile to pprof: samples/count and cpu/nanoseconds (count x
 * interval), one sample per distinct stack and leaf line. "(idle)" ticks are dropped: they are
 * the event loop waiting, not CPU.
 */
export function cpuProfileToPprof(raw: V8CpuProfile, opts: { intervalMicros?: number; timeNanos?: number } = {}): PprofProfile {
  const byId = new Map<number, V8CpuProfileNode>();
  const parent = new Map<number, number>();
  for (const n of raw.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const hits = new Map<number, number>();
  if (raw.samples !== undefined) {
    for (const id of raw.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  } else {
    for (const n of raw.nodes) if (n.hitCount) hits.set(n.id, n.hitCount);
  }
  const totalHits = [...hits.values()].reduce((a, b) => a + b, 0);
  const durationMicros = Math.max(0, raw.endTime - raw.startTime);
  const intervalMicros = opts.intervalMicros ?? (totalHits > 0 ? durationMicros / totalHits : 1000);
  const periodNanos = Math.round(intervalMicros * 1000);

  const frames = new FrameTable();
  const samples: PprofSample[] = [];
  const callerStack = (id: number): number[] => {
    const out: number[] = [];
    // The parentless node is V8's "(root)": not a frame.
    for (let p = parent.get(id); p !== undefined && parent.has(p); p = parent.get(p)) {
      out.push(frames.location(byId.get(p)!.callFrame));
    }
    return out;
  };
  for (const [id, count] of hits) {
    const node = byId.get(id);
    if (!node || count === 0 || !parent.has(id) || node.callFrame.functionName === '(idle)') continue;
    const callers = callerStack(id);
    // positionTicks split the node's hits by line; ticks V8 could not place keep the start line.
    let placed = 0;
    for (const pt of node.positionTicks ?? []) {
      const ticks = Math.min(pt.ticks, count - placed);
      if (ticks <= 0) break;
      placed += ticks;
      samples.push({ locationIds: [frames.location(node.callFrame, pt.line), ...callers], values: [ticks, ticks * periodNanos] });
    }
    if (count > placed) {
      samples.push({ locationIds: [frames.location(node.callFrame), ...callers], values: [count - placed, (count - placed) * periodNanos] });
    }
  }

  return {
    sampleTypes: [{ type: 'samples', unit: 'count' }, { type: 'cpu', unit: 'nanoseconds' }],
    samples,
    mappings: [],
    locations: frames.locations,
    functions: frames.functions,
    timeNanos: opts.timeNanos ?? 0,
    durationNanos: Math.round(durationMicros * 1000),
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: periodNanos,
    comments: [],
    defaultSampleType: 1,
  };
}
