// HDR histogram interchange: base64 "HISTF…" V2 compressed encoding, the format of
// hdr-histogram-js encodeIntoCompressedBase64 and of the Java/C/Go/Rust HdrHistogram libraries.
// Values are microseconds inside the encoding; everything returned here is in seconds. The V2
// encoding carries no timestamps (those live in HDR log files), so none are returned.
import hdr from 'hdr-histogram-js';
import type { Percentiles } from './types.ts';

export interface DecodedHistogram {
  count: number;
  /** Seconds; min/max are bucket-equivalent values (within the histogram's resolution). */
  min: number;
  max: number;
  mean: number;
  percentiles: Percentiles;
  significantDigits: number;
  /** Non-empty buckets, ascending: highest value equivalent to the bucket (s) and its count. */
  buckets: { valueS: number; count: number }[];
  /** Value (s) at a percentile in [0, 100], HDR semantics. */
  valueAtPercentile(percentile: number): number;
}

type JsHist = InstanceType<typeof hdr.Int32Histogram>;

export function encodeHistogram(h: JsHist): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Decodes a base64 V2 compressed histogram recorded in µs. Throws TypeError on malformed input. */
export function decodeHistogram(base64: string): DecodedHistogram {
  let h: JsHist;
  try {
    // 64-bit counts: a histogram merged by another tool may exceed 2^31 per bucket.
    h = hdr.decodeFromCompressedBase64(base64, 64, false) as JsHist;
  } catch (err) {
    throw new TypeError(`not a base64 HDR V2 compressed histogram: ${(err as Error).message ?? String(err)}`);
  }
  const at = (p: number): number => (h.totalCount === 0 ? 0 : h.getValueAtPercentile(p) / 1e6);
  const buckets: { valueS: number; count: number }[] = [];
  if (h.totalCount > 0) {
    const last = h.countsArrayIndex(h.maxValue);
    for (let i = 0; i <= last && i < h.countsArrayLength; i++) {
      const c = h.getCountAtIndex(i);
      if (c > 0) buckets.push({ valueS: h.highestEquivalentValue(h.valueFromIndex(i)) / 1e6, count: c });
    }
  }
  return {
    count: h.totalCount,
    min: h.totalCount === 0 || h.getCountAtIndex(0) > 0 ? 0 : h.minNonZeroValue / 1e6,
    max: h.maxValue / 1e6,
    mean: h.totalCount === 0 ? 0 : h.mean / 1e6,
    percentiles: { p50: at(50), p90: at(90), p99: at(99), p999: at(99.9) },
    significantDigits: h.numberOfSignificantValueDigits,
    buckets,
    valueAtPercentile: at,
  };
}
