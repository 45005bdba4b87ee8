// The counts-array layout of an HdrHistogram, computed with integer bit operations so recording
// stays a handful of instructions. The geometry is read from a real hdr-histogram-js histogram,
// so our indexes are exactly the library's (tested) and arrays can be handed to its encoder.
import hdr from 'hdr-histogram-js';

export interface HdrLayout {
  readonly lowest: number; // lowest discernible value, µs
  readonly highest: number; // highest trackable value, µs (< 2^31 so `>>>` works)
  readonly digits: number;
  readonly length: number; // counts array length
  readonly halfMagnitude: number; // log2(subBucketHalfCount)
  readonly halfCount: number;
  readonly unitMagnitude: number;
  /** Counts are also summed per group of 2^groupShift slots so percentile walks skip empty space. */
  readonly groupShift: number;
  readonly groups: number;
}

const MAX_INT_VALUE = 0x7fffffff;

export function createLayout(lowestUs: number, highestUs: number, digits: number): HdrLayout {
  const lowest = Math.max(1, Math.floor(lowestUs));
  const highest = Math.min(MAX_INT_VALUE, Math.max(2 * lowest, Math.floor(highestUs)));
  const d = Math.min(5, Math.max(1, Math.floor(digits)));
  const probe = new hdr.Int32Histogram(lowest, highest, d);
  const halfMagnitude = probe.subBucketHalfCountMagnitude;
  const groupShift = Math.min(5, halfMagnitude);
  return {
    lowest,
    highest,
    digits: d,
    length: probe.countsArrayLength,
    halfMagnitude,
    halfCount: probe.subBucketHalfCount,
    unitMagnitude: probe.unitMagnitude,
    groupShift,
    groups: Math.ceil(probe.countsArrayLength / (1 << groupShift)),
  };
}

/** Counts-array index of an integer value in [0, highest]; same as JsHistogram.countsArrayIndex. */
export function indexOf(layout: HdrLayout, value: number): number {
  // floor(log2(v)) = 31 - clz32(v); v = 0 gives a negative bucket, clamped to 0 like the library.
  const bucket = Math.max(31 - Math.clz32(value) - layout.halfMagnitude - layout.unitMagnitude, 0);
  return (bucket << layout.halfMagnitude) + (value >>> (bucket + layout.unitMagnitude));
}

/** Highest value equivalent to the values counted at `index` (what HDR reports for a percentile). */
export function highestValueAt(layout: HdrLayout, index: number): number {
  let bucket = Math.floor(index / layout.halfCount) - 1;
  let sub = (index % layout.halfCount) + layout.halfCount;
  if (bucket < 0) {
    sub -= layout.halfCount;
    bucket = 0;
  }
  const scale = 2 ** (bucket + layout.unitMagnitude);
  return sub * scale + scale - 1;
}
