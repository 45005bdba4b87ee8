// The significance test behind "regressed": is the current side's tail heavier than the
// baseline's? Pool both sides, take the pooled percentile as a threshold, and ask how likely it is
// that the current side holds as many of the values above it as it does if both sides were one
// distribution (Fisher's exact test, one-sided: a hypergeometric tail). Distribution-free and
// valid at any sample size; with few samples it simply cannot reach significance.

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const lnChoose = (n: number, k: number): number => lnGamma(n + 1) - lnGamma(k + 1) - lnGamma(n - k + 1);

/**
 * P(X >= x) for X ~ Hypergeometric(population, marked, drawn): the chance that a random
 * `drawn`-sized part of `population` holds at least x of its `marked` members.
 */
export function hypergeometricTail(population: number, marked: number, drawn: number, x: number): number {
  const lo = Math.max(0, drawn - (population - marked));
  const hi = Math.min(marked, drawn);
  if (x <= lo) return 1;
  if (x > hi) return 0;
  const den = lnChoose(population, drawn);
  const mode = Math.floor(((drawn + 1) * (marked + 1)) / (population + 2));
  let p = 0;
  for (let k = x; k <= hi; k++) {
    const term = Math.exp(lnChoose(marked, k) + lnChoose(population - marked, drawn - k) - den);
    p += term;
    // past the mode the terms only shrink: stop once they no longer change the sum
    if (k > mode && term <= p * 1e-15) break;
  }
  return Math.min(1, p);
}
