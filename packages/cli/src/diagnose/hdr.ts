// HDR windows of a bundle: decode (base64 V2 compressed, µs), merge, read percentiles.
import { inflateSync } from 'node:zlib';
import hdr from 'hdr-histogram-js';
import type { JsHistogram } from 'hdr-histogram-js';

// JS (not WebAssembly) histograms throughout: counts are read bucket by bucket
export type Histogram = ReturnType<typeof hdr.build>;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** V2 compressed encoding: this cookie (low nibble: flags), the deflated length, then the deflated payload. */
const COMPRESSED_COOKIE = 0x1c849304;
/**
 * More than any histogram the metrics side writes can inflate to (2^31 µs at 5 significant
 * digits is 2.1 M counts of at most 9 bytes): a window beyond it is a decompression bomb.
 */
export const MAX_INFLATED_BYTES = 32 * 1024 * 1024;

/** Checks the compressed envelope and inflates it under MAX_INFLATED_BYTES, before the library inflates it unbounded. */
function checkInflate(bytes: Buffer): void {
  if (bytes.length < 8 || (bytes.readInt32BE(0) & ~0xf0) !== COMPRESSED_COOKIE) throw new Error('not an HDR V2 compressed histogram (no V2 cookie)');
  const length = bytes.readInt32BE(4);
  if (length < 0 || length > bytes.length - 8) throw new Error(`not an HDR V2 compressed histogram (says ${length} compressed bytes, holds ${bytes.length - 8})`);
  try {
    inflateSync(bytes.subarray(8, 8 + length), { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw new Error(`inflates to more than ${MAX_INFLATED_BYTES / 1024 / 1024} MiB (a decompression bomb, not a latency window)`);
    throw new Error(`not an HDR V2 compressed histogram (bad deflate data: ${(err as Error).message.split('\n')[0]})`);
  }
}

/** Decodes one window; throws Error with a short reason when it is not a V2 compressed histogram. */
export function decodeWindow(encoded: string): Histogram {
  const s = encoded.trim();
  if (s.length === 0 || s.length % 4 !== 0 || !BASE64.test(s)) throw new Error('not base64');
  checkInflate(Buffer.from(s, 'base64'));
  let h: Histogram;
  try {
    // 64-bit counts: merged windows of a busy route exceed 2^31 per bucket over days.
    h = hdr.decodeFromCompressedBase64(s, 64, false);
  } catch (err) {
    throw new Error(`not an HDR V2 compressed histogram (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!Number.isSafeInteger(h.totalCount) || h.totalCount < 0) throw new Error(`impossible total count ${h.totalCount}`);
  return h;
}

function sumLike(first: Histogram): Histogram {
  const d = Math.min(5, Math.max(1, Math.round(first.numberOfSignificantValueDigits))) as 1 | 2 | 3 | 4 | 5;
  return hdr.build({
    bitBucketSize: 64,
    autoResize: true,
    lowestDiscernibleValue: (first as JsHistogram).lowestDiscernibleValue,
    highestTrackableValue: first.highestTrackableValue,
    numberOfSignificantValueDigits: d,
    useWebAssembly: false,
  });
}

/**
 * Sum of the histograms in a new one; null when there are none. The sum takes the geometry of
 * the first, so windows written by the same encoder add bucket by bucket; it grows when a later
 * one holds larger values.
 */
export function merge(hs: readonly Histogram[]): Histogram | null {
  if (!hs[0]) return null;
  const out = sumLike(hs[0]);
  for (const h of hs) if (h.totalCount > 0) out.add(h);
  return out;
}

/** Decodes and sums encoded windows one at a time (a side may hold thousands); null when none. */
export function mergeEncoded(encoded: Iterable<string>): Histogram | null {
  let out: Histogram | null = null;
  for (const e of encoded) {
    const h = decodeWindow(e);
    out ??= sumLike(h);
    if (h.totalCount > 0) out.add(h);
  }
  return out;
}

/** Value (µs) at a percentile in [0, 100], HDR semantics (highest equivalent value of the bucket). */
export function valueAt(h: Histogram, percentile: number): number {
  return h.totalCount === 0 ? 0 : h.getValueAtPercentile(percentile);
}

/** How many recorded values lie in buckets above the bucket of `value` (µs). */
export function countAbove(h: Histogram, value: number): number {
  const j = h as JsHistogram;
  let n = 0;
  for (let i = j.countsArrayIndex(value) + 1; i < j.countsArrayLength; i++) n += j.getCountAtIndex(i);
  return n;
}

/**
 * The percentile curve on the usual HdrHistogram axis: x = log10(1 / (1 - q)), so 0 is the
 * median's left end (0%), 1 is 90%, 2 is 99%, 3 is 99.9%, 4 is 99.99%. Points every 0.05 up to
 * maxX, as [percentile, µs].
 */
export function percentileCurve(h: Histogram, maxX = 4, step = 0.05): Array<[number, number]> {
  const pts: Array<[number, number]> = [];
  const steps = Math.round(maxX / step);
  for (let i = 0; i <= steps; i++) {
    const p = 100 * (1 - 10 ** -(i * step));
    pts.push([Number(p.toFixed(4)), valueAt(h, p)]);
  }
  return pts;
}
