// Default histogram buckets (seconds).
//
// Between 1 ms and 600 ms — where the P99s of HTTP routes and RPCs usually sit — bounds follow
// 1, 1.5, 2.5, 4, 6 per decade, so consecutive bounds differ by at most 1.67x. histogram_quantile()
// interpolates linearly inside the bucket that holds the quantile, so its answer can be off by up
// to one bucket width: at worst +67% / -40% of the true value, typically well under half that.
// Two sub-millisecond bounds catch loopback RPCs, three above 1 s catch timeouts. 21 bounds + +Inf.
// For exact tail latency use tailtrace_latency_seconds (HDR, 0.1%); the histogram exists for
// aggregation across instances and exemplars.
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.00025, 0.0005,
  0.001, 0.0015, 0.0025, 0.004, 0.006,
  0.01, 0.015, 0.025, 0.04, 0.06,
  0.1, 0.15, 0.25, 0.4, 0.6,
  1, 2.5, 5, 10,
]);

/** Sorted, de-duplicated, finite, positive bounds; falls back to the defaults when none remain. */
export function normalizeBuckets(buckets: readonly number[] | undefined): number[] {
  if (!buckets) return [...DEFAULT_BUCKETS];
  const out = [...new Set(buckets.filter((b) => Number.isFinite(b) && b > 0))].sort((a, b) => a - b);
  return out.length > 0 ? out : [...DEFAULT_BUCKETS];
}

/** Index of the first bound >= v (le is inclusive); bounds.length for the +Inf bucket. */
export function bucketIndex(bounds: Float64Array, v: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bounds[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
