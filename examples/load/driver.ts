// Load generation for the demo and the benchmarks.
//
// constantRate() sends at a fixed rate and measures each request from the time it was
// *scheduled*, not the time it was sent: when the server stalls, requests that should have been
// sent during the stall are charged the wait too (coordinated-omission correction, as wrk2 and
// HdrHistogram's recordValueWithExpectedInterval do). closedLoop() keeps N requests in flight
// for maximum throughput. Both are bounded in count and in time.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';

export interface Slow {
  latencyMs: number;
  traceId: string;
}

export interface LoadResult {
  requests: number;
  errors: number;
  /** Requests not finished when the hard deadline passed (counted in errors too). */
  timedOut: number;
  durationS: number;
  rps: number;
  avgMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  slowest: Slow[];
  /** Base64 HDR V2 of the latencies in microseconds, for later tools. */
  histogram: string;
}

/** Sends one request carrying `traceparent`; resolves true when it succeeded. Never rejects. */
export type Send = (traceparent: string | undefined, i: number) => Promise<boolean>;

export interface ConstantRateOptions {
  rate: number;
  durationS: number;
  send: Send;
  maxInFlight?: number;
  /** How many of the slowest requests to remember (with their trace IDs). */
  keepSlowest?: number;
  /** Extra time after the last scheduled request before unfinished ones count as timed out. */
  graceS?: number;
  /** Called when a request enters the slowest list, so its trace can be kept while it is fresh. */
  onSlow?: (slow: Slow) => void;
}

export interface ClosedLoopOptions {
  concurrency: number;
  durationS: number;
  send: Send;
  maxRequests?: number;
  /** Send traceparent headers (sampled) so the server continues the driver's trace IDs. */
  traceparent?: boolean;
}

function newHistogram(): hdr.Histogram {
  // Microseconds from 1 µs to 60 s at 3 significant digits (0.1% relative error).
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 'packed' });
}

export function newTraceparent(): { traceparent: string; traceId: string } {
  const bytes = randomBytes(24);
  const traceId = bytes.toString('hex', 0, 16);
  return { traceId, traceparent: `00-${traceId}-${bytes.toString('hex', 16, 24)}-01` };
}

class SlowList {
  readonly items: Slow[] = [];
  readonly size: number;
  constructor(size: number) {
    this.size = size;
  }
  /** True when the request made it into the list. */
  offer(latencyMs: number, traceId: string): boolean {
    if (this.size === 0) return false;
    if (this.items.length === this.size && latencyMs <= this.items[this.items.length - 1]!.latencyMs) return false;
    this.items.push({ latencyMs, traceId });
    this.items.sort((a, b) => b.latencyMs - a.latencyMs);
    if (this.items.length > this.size) this.items.pop();
    return true;
  }
}

function summarize(h: hdr.Histogram, requests: number, errors: number, timedOut: number, durationS: number, slow: SlowList): LoadResult {
  const ms = (us: number) => us / 1000;
  const out: LoadResult = {
    requests,
    errors,
    timedOut,
    durationS,
    rps: requests / durationS,
    avgMs: h.totalCount ? ms(h.mean) : 0,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
    slowest: slow.items,
    histogram: hdr.encodeIntoCompressedBase64(h),
  };
  h.destroy();
  return out;
}

export function constantRate(opts: ConstantRateOptions): Promise<LoadResult> {
  const { rate, durationS, send } = opts;
  const maxInFlight = opts.maxInFlight ?? 1000;
  const total = Math.max(1, Math.round(rate * durationS));
  const intervalMs = 1000 / rate;
  const hist = newHistogram();
  const slow = new SlowList(opts.keepSlowest ?? 5);
  let issued = 0;
  let finished = 0;
  let inFlight = 0;
  let errors = 0;
  const t0 = performance.now();

  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (timedOut: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(hardStop);
      const elapsedS = (performance.now() - t0) / 1000;
      resolve(summarize(hist, finished, errors + timedOut, timedOut, Math.max(elapsedS, durationS), slow));
    };
    const hardStop = setTimeout(() => finish(total - finished), (durationS + (opts.graceS ?? 15)) * 1000);

    const issue = (i: number) => {
      const intended = t0 + i * intervalMs;
      const { traceparent, traceId } = newTraceparent();
      inFlight++;
      void send(traceparent, i).then((ok) => {
        if (settled) return;
        const latencyMs = performance.now() - intended;
        hist.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
        if (!ok) errors++;
        if (slow.offer(latencyMs, traceId)) opts.onSlow?.({ latencyMs, traceId });
        inFlight--;
        finished++;
        if (finished === total) finish(0);
        else if (issued < total) pump();
      });
    };
    const pump = () => {
      const due = Math.min(total, Math.floor((performance.now() - t0) / intervalMs) + 1);
      while (issued < due && inFlight < maxInFlight) issue(issued++);
    };
    const tick = () => {
      pump();
      if (issued < total) timer = setTimeout(tick, Math.max(0, Math.min(intervalMs, 5)));
    };
    tick();
  });
}

export function closedLoop(opts: ClosedLoopOptions): Promise<LoadResult> {
  const hist = newHistogram();
  const slow = new SlowList(5);
  const maxRequests = opts.maxRequests ?? Number.MAX_SAFE_INTEGER;
  const t0 = performance.now();
  const deadline = t0 + opts.durationS * 1000;
  let started = 0;
  let finished = 0;
  let errors = 0;

  const worker = async () => {
    while (started < maxRequests && performance.now() < deadline) {
      const i = started++;
      const tp = opts.traceparent ? newTraceparent() : undefined;
      const begin = performance.now();
      const ok = await opts.send(tp?.traceparent, i);
      const latencyMs = performance.now() - begin;
      hist.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
      if (!ok) errors++;
      if (tp) slow.offer(latencyMs, tp.traceId);
      finished++;
    }
  };
  return Promise.all(Array.from({ length: opts.concurrency }, worker)).then(() =>
    summarize(hist, finished, errors, 0, (performance.now() - t0) / 1000, slow),
  );
}
