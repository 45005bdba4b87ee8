// Latency of an alternating A/B run, compared slice by slice. A machine stall (another job on a
// shared CI box, a GC pause) delays every request of the one slice it falls in, so the P99 of
// all requests of a mode is decided by where the few stalls happened to land: one 60 ms stall at
// 400 req/s is the P99 of 2,400 requests. An effect of the mode itself shows in every slice of
// that mode; the median over slices of each slice's P99 sees it and ignores the stalls.

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))]!;
}

export interface SliceComparison {
  /** Median over the mode's slices of each slice's P99, ms. */
  sliceP99: [number, number];
  /** P99 of all the mode's requests, ms (shown, not judged: see above). */
  p99: [number, number];
  counts: [number, number];
}

/** `slices[k]` holds the latencies of slice k; even slices are mode 0, odd slices mode 1. */
export function compareAlternating(slices: ReadonlyArray<readonly number[] | undefined>): SliceComparison {
  const perSlice: [number[], number[]] = [[], []];
  const all: [number[], number[]] = [[], []];
  slices.forEach((xs, k) => {
    if (!xs || xs.length === 0) return;
    perSlice[k % 2]!.push(quantile(xs, 0.99));
    all[k % 2]!.push(...xs);
  });
  return {
    sliceP99: [quantile(perSlice[0], 0.5), quantile(perSlice[1], 0.5)],
    p99: [quantile(all[0], 0.99), quantile(all[1], 0.99)],
    counts: [all[0].length, all[1].length],
  };
}
