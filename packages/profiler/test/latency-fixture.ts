// A LatencySource over real HDR histograms (hdr-histogram-js, as metrics records them: µs, 3
// significant digits), one disjoint window at a time, filled with seeded lognormal latencies.
import hdr from 'hdr-histogram-js';
import type { LatencySource, OperationKind, OperationRef, SlowTrace } from '@tailtrace/profiler';

/** mulberry32: a small seeded PRNG so a failing sequence can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lognormal latencies (seconds) with the given median and shape (Box-Muller). */
export function lognormal(rand: () => number, medianS: number, sigma: number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
    return medianS * Math.exp(sigma * z);
  };
}

type Histogram = ReturnType<typeof hdr.build>;

export class HdrLatencySource implements LatencySource {
  private windows = new Map<string, { ref: OperationRef; h: Histogram; slowest: SlowTrace[] }>();
  encodeCalls = 0;

  /** Starts a new window: each operation gets `count` values drawn from `draw` (seconds). */
  nextWindow(fill: Array<{ ref: OperationRef; count: number; draw: () => number }>): void {
    this.windows = new Map();
    for (const f of fill) {
      const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
      let worst = { d: 0, i: 0 };
      for (let i = 0; i < f.count; i++) {
        const d = f.draw();
        h.recordValue(Math.max(1, Math.round(d * 1e6)));
        if (d > worst.d) worst = { d, i };
      }
      const slowest: SlowTrace[] = f.count > 0 ? [{ traceId: worst.i.toString(16).padStart(32, '0'), spanId: '00000000000000aa', durationS: worst.d, atMs: 0 }] : [];
      this.windows.set(`${f.ref.kind} ${f.ref.operation}`, { ref: f.ref, h, slowest });
    }
  }

  operations(): OperationRef[] {
    return [...this.windows.values()].map((w) => w.ref);
  }

  read(kind: OperationKind, operation: string) {
    const w = this.windows.get(`${kind} ${operation}`);
    if (!w) return undefined;
    const p = (q: number) => (w.h.totalCount === 0 ? 0 : w.h.getValueAtPercentile(q) / 1e6);
    return { count: w.h.totalCount, percentiles: { p50: p(50), p90: p(90), p99: p(99), p999: p(99.9) } };
  }

  encode(kind: OperationKind, operation: string): string {
    const w = this.windows.get(`${kind} ${operation}`);
    this.encodeCalls++;
    return w ? hdr.encodeIntoCompressedBase64(w.h) : '';
  }

  slowest(kind: OperationKind, operation: string): SlowTrace[] {
    return this.windows.get(`${kind} ${operation}`)?.slowest ?? [];
  }
}

export const decodeHdr = (encoded: string) => hdr.decodeFromCompressedBase64(encoded);
