// A sliding HDR window for one operation.
//
// The window is `subWindows` sub-windows of `subWindowMs`; the current one is partial, so a read
// covers between (subWindows - 1) and subWindows sub-windows of data (50-60 s by default).
//
// Layout, chosen so recording is O(1) without allocation and a scrape of thousands of operations
// stays cheap:
// - `merged`: dense counts of every live sub-window, plus `groups`: sums of 32-slot groups of it.
//   Percentiles and encoding read only these, skipping empty groups.
// - `current`: dense counts of the current sub-window only. At rotation it is compacted into a
//   sparse (index, count) snapshot and zeroed; when a snapshot leaves the window its counts are
//   subtracted from `merged`. Rotation is O(touched groups), done by the first record or read
//   that sees a new sub-window.
import hdr from 'hdr-histogram-js';
import { highestValueAt, indexOf } from './hdr-layout.ts';
import type { HdrLayout } from './hdr-layout.ts';
import { ulp } from './ulp.ts';

interface Snapshot {
  epoch: number;
  index: Int32Array;
  count: Int32Array;
  total: number;
  sumS: number;
  min: number;
  max: number;
}

/** Percentiles reported by the summary, in percent, ascending (HDR's convention). */
export const PERCENTILES = [50, 90, 99, 99.9] as const;

export interface WindowStats {
  count: number;
  sumS: number;
  min: number; // µs
  max: number; // µs
  /** Values (µs) at PERCENTILES, same order. */
  values: number[];
  startEpoch: number;
}

export class HdrWindow {
  readonly layout: HdrLayout;
  readonly subWindows: number;
  private readonly merged: Int32Array;
  private readonly groups: Int32Array;
  private readonly current: Int32Array;
  private snapshots: Snapshot[] = [];
  private epoch: number;
  private curTotal = 0;
  private curSumS = 0;
  private curMin = Infinity;
  private curMax = 0;

  constructor(layout: HdrLayout, subWindows: number, epoch: number) {
    this.layout = layout;
    this.subWindows = subWindows;
    this.merged = new Int32Array(layout.length);
    this.groups = new Int32Array(layout.groups);
    this.current = new Int32Array(layout.length);
    this.epoch = epoch;
  }

  /** Hot path: `us` is an integer in [0, layout.highest]; `epoch` the current sub-window number. */
  record(us: number, durationS: number, epoch: number): void {
    if (epoch > this.epoch) this.advance(epoch);
    const i = indexOf(this.layout, us);
    this.merged[i]!++;
    this.current[i]!++;
    this.groups[i >>> this.layout.groupShift]!++;
    this.curTotal++;
    this.curSumS += durationS;
    if (us < this.curMin) this.curMin = us;
    if (us > this.curMax) this.curMax = us;
  }

  /** Moves the window forward to `epoch` (a clock going backwards leaves it where it is). */
  advance(epoch: number): void {
    if (epoch <= this.epoch) return;
    if (epoch - this.epoch >= this.subWindows) {
      // Everything recorded so far has left the window.
      this.clearAll();
    } else {
      if (this.curTotal > 0) this.snapshots.push(this.compactCurrent());
      const oldestLive = epoch - this.subWindows + 1;
      while (this.snapshots.length > 0 && this.snapshots[0]!.epoch < oldestLive) {
        this.subtract(this.snapshots.shift()!);
      }
    }
    this.epoch = epoch;
    this.curTotal = 0;
    this.curSumS = 0;
    this.curMin = Infinity;
    this.curMax = 0;
  }

  /** True when nothing live remains (lets the owner drop idle operations). */
  isEmpty(): boolean {
    return this.curTotal === 0 && this.snapshots.length === 0;
  }

  currentEpoch(): number {
    return this.epoch;
  }

  stats(): WindowStats {
    let count = this.curTotal;
    let sumS = this.curSumS;
    let min = this.curMin;
    let max = this.curMax;
    for (const s of this.snapshots) {
      count += s.total;
      sumS += s.sumS;
      if (s.min < min) min = s.min;
      if (s.max > max) max = s.max;
    }
    return {
      count,
      sumS,
      min: count === 0 ? 0 : min,
      max,
      values: this.percentileValues(count),
      startEpoch: this.epoch - this.subWindows + 1,
    };
  }

  /** One ascending sweep over non-empty groups resolves all percentiles (HDR semantics). */
  private percentileValues(total: number): number[] {
    const out = PERCENTILES.map(() => 0);
    if (total === 0) return out;
    const targets = PERCENTILES.map((p) => {
      const fp = (p / 100) * total;
      return Math.max(Math.ceil(fp - ulp(fp)), 1);
    });
    const { groupShift, length } = this.layout;
    let cum = 0;
    let k = 0;
    for (let g = 0; g < this.groups.length && k < targets.length; g++) {
      const gc = this.groups[g]!;
      if (gc === 0) continue;
      if (cum + gc < targets[k]!) {
        cum += gc;
        continue;
      }
      const end = Math.min((g + 1) << groupShift, length);
      for (let i = g << groupShift; i < end && k < targets.length; i++) {
        const c = this.merged[i]!;
        if (c === 0) continue;
        cum += c;
        while (k < targets.length && cum >= targets[k]!) out[k++] = highestValueAt(this.layout, i);
      }
    }
    return out;
  }

  /** The merged window as an hdr-histogram-js histogram (for encoding); not a hot path. */
  toHistogram(startMs: number, endMs: number): InstanceType<typeof hdr.Int32Histogram> {
    const { lowest, highest, digits, groupShift, length } = this.layout;
    const h = new hdr.Int32Histogram(lowest, highest, digits);
    for (let g = 0; g < this.groups.length; g++) {
      if (this.groups[g] === 0) continue;
      const end = Math.min((g + 1) << groupShift, length);
      for (let i = g << groupShift; i < end; i++) {
        const c = this.merged[i]!;
        if (c !== 0) h.setCountAtIndex(i, c);
      }
    }
    h.establishInternalTackingValues();
    h.startTimeStampMsec = startMs;
    h.endTimeStampMsec = endMs;
    return h;
  }

  private compactCurrent(): Snapshot {
    const { groupShift, length } = this.layout;
    const idx: number[] = [];
    const cnt: number[] = [];
    // `merged` is a superset of `current`, so its group sums tell which slots may be non-zero.
    for (let g = 0; g < this.groups.length; g++) {
      if (this.groups[g] === 0) continue;
      const end = Math.min((g + 1) << groupShift, length);
      for (let i = g << groupShift; i < end; i++) {
        const c = this.current[i]!;
        if (c !== 0) {
          idx.push(i);
          cnt.push(c);
          this.current[i] = 0;
        }
      }
    }
    return {
      epoch: this.epoch,
      index: Int32Array.from(idx),
      count: Int32Array.from(cnt),
      total: this.curTotal,
      sumS: this.curSumS,
      min: this.curMin,
      max: this.curMax,
    };
  }

  private subtract(s: Snapshot): void {
    const shift = this.layout.groupShift;
    for (let j = 0; j < s.index.length; j++) {
      const i = s.index[j]!;
      const c = s.count[j]!;
      this.merged[i]! -= c;
      this.groups[i >>> shift]! -= c;
    }
  }

  private clearAll(): void {
    this.merged.fill(0);
    this.groups.fill(0);
    this.current.fill(0);
    this.snapshots = [];
  }
}
