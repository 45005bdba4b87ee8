// Whether a full heap snapshot may be written now, and what it will cost. A snapshot of a large
// heap pauses the process for tens of seconds and needs several times the heap in native memory:
// in a container near its limit that is an OOM kill, which loses the evidence and the process.

/**
 * Cost per byte of V8 heap used, from `npm run bench -- snapshot-cost` (bench/snapshot-cost.ts)
 * on Node 24.21, 15 heaps of 25-400 MiB in three mixes (a service-like mix of class instances,
 * Maps, arrays and strings; tiny objects only; mostly strings), on a shared 2-core machine:
 * - peak RSS growth while writing / heap used: 4.2-5.4 (objects), 7.0-8.1 (mixed), 8.5-10.5
 *   (strings); highest 10.54. Issue #4 measured 8.3 (300 MB) and 8.5 (1 GB). Proportional,
 *   rising slowly with size: 12 covers every point with at least 14% to spare (and
 *   over-estimates a small tiny-object heap up to 2.9x: a refusal that was not needed, never an
 *   OOM kill). A least-squares line (8.10 x used - 42 MiB) under-estimated by up to 25%, so
 *   the model is the worst ratio plus a margin, not a fit.
 * - pause: 24-95 ms per MiB used, rising with heap size (issue #4: 77 ms/MiB at 300 MB, 85 at
 *   1 GB). 110 ms/MiB covers every point by at least 16%; small heaps are over-estimated up to
 *   4.6x, which only matters against a maxPauseMs far below their real pause. Timings were
 *   noisy (other work on the machine); disk speed adds to it since the file is written during
 *   the pause.
 * - file size / heap used: 1.30-1.89 (strings highest). 2.1 covers every point by at least 11%.
 */
export const SNAPSHOT_COST = {
  peakRssPerUsedByte: 12,
  pauseMsPerUsedMiB: 110,
  fileBytesPerUsedByte: 2.1,
} as const;

/** Kept free on the evidence filesystem beyond the estimated file: the service may log there too. */
export const DISK_MARGIN_BYTES = 64 * 2 ** 20;

export interface SnapshotCost {
  peakRssGrowthBytes: number;
  pauseMs: number;
  fileBytes: number;
}

/** The estimated cost of one v8.writeHeapSnapshot() from `v8.getHeapStatistics().used_heap_size`. */
export function estimateSnapshotCost(usedHeapBytes: number): SnapshotCost {
  const used = Math.max(0, usedHeapBytes);
  return {
    peakRssGrowthBytes: Math.ceil(used * SNAPSHOT_COST.peakRssPerUsedByte),
    pauseMs: Math.ceil((used / 2 ** 20) * SNAPSHOT_COST.pauseMsPerUsedMiB),
    fileBytes: Math.ceil(used * SNAPSHOT_COST.fileBytesPerUsedByte),
  };
}

export interface GuardInput {
  usedHeapBytes: number;
  heapSizeLimit: number;
  /** Heap used / limit at which the heap counts as near its limit (cheap evidence only). */
  heapLimitRatio: number;
  rssBytes: number;
  /** null: no cgroup limit seen. */
  cgroupAvailableBytes: number | null;
  /** null: unknown. */
  memAvailableBytes: number | null;
  /** null: unknown (statfs failed). */
  freeDiskBytes: number | null;
  quotaBytes: number;
  maxPauseMs: number;
}

export type GuardDecision =
  | { allowed: true; cost: SnapshotCost; estimatedPeakRssBytes: number; availableBytes: number }
  | { allowed: false; reason: string; cost: SnapshotCost; estimatedPeakRssBytes?: number; availableBytes?: number };

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/**
 * The resource checks, cheapest first. The memory figures are reported as RSS levels: the peak
 * the snapshot would bring the process to, against the RSS it can reach (now + headroom).
 */
export function checkSnapshotResources(g: GuardInput): GuardDecision {
  const cost = estimateSnapshotCost(g.usedHeapBytes);
  const ratio = g.heapSizeLimit > 0 ? g.usedHeapBytes / g.heapSizeLimit : 0;
  if (ratio >= g.heapLimitRatio) {
    return { allowed: false, cost, reason: `heap near its limit (${(ratio * 100).toFixed(0)}% of ${mib(g.heapSizeLimit)}): cheap evidence only` };
  }
  if (cost.pauseMs > g.maxPauseMs) {
    return { allowed: false, cost, reason: `estimated pause ${(cost.pauseMs / 1000).toFixed(1)} s > maxPauseMs ${(g.maxPauseMs / 1000).toFixed(1)} s (heap used ${mib(g.usedHeapBytes)})` };
  }
  const candidates = [g.cgroupAvailableBytes, g.memAvailableBytes].filter((x): x is number => x !== null);
  const estimatedPeakRssBytes = g.rssBytes + cost.peakRssGrowthBytes;
  if (candidates.length === 0) {
    return { allowed: false, cost, estimatedPeakRssBytes, reason: 'available memory unknown (no cgroup or meminfo reading)' };
  }
  const headroom = Math.min(...candidates);
  const availableBytes = g.rssBytes + headroom;
  if (cost.peakRssGrowthBytes > headroom) {
    const which = g.cgroupAvailableBytes !== null && g.cgroupAvailableBytes === headroom ? 'cgroup limit' : 'available memory';
    return {
      allowed: false, cost, estimatedPeakRssBytes, availableBytes,
      reason: `estimated peak RSS growth ${mib(cost.peakRssGrowthBytes)} > ${mib(headroom)} left before the ${which}`,
    };
  }
  if (cost.fileBytes > g.quotaBytes) {
    return { allowed: false, cost, estimatedPeakRssBytes, availableBytes, reason: `estimated snapshot ${mib(cost.fileBytes)} > evidence quota ${mib(g.quotaBytes)}` };
  }
  if (g.freeDiskBytes === null) {
    return { allowed: false, cost, estimatedPeakRssBytes, availableBytes, reason: 'free disk unknown (statfs failed)' };
  }
  if (cost.fileBytes > g.freeDiskBytes - DISK_MARGIN_BYTES) {
    return {
      allowed: false, cost, estimatedPeakRssBytes, availableBytes,
      reason: `estimated snapshot ${mib(cost.fileBytes)} > free disk ${mib(g.freeDiskBytes)} minus ${mib(DISK_MARGIN_BYTES)} margin`,
    };
  }
  return { allowed: true, cost, estimatedPeakRssBytes, availableBytes };
}
