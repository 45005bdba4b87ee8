// Unit in the last place of a double, spelled exactly as hdr-histogram-js does, so our percentile
// counts round the same way as the library's getValueAtPercentile.
export function ulp(x: number): number {
  return 2 ** (Math.floor(Math.log2(x)) - 52);
}
