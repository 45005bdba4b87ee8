// Trigger thresholds on exact sequences: P99 windows are real HDR histograms of seeded lognormal
// latencies (as metrics records them), heap readings are byte counts per window.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import hdr from 'hdr-histogram-js';
import { HeapGrowthDetector, MIN_BASELINE_WINDOWS, P99Detector, heapLimitRatio, median } from '../src/triggers.ts';
import type { P99Config, P99Window } from '../src/triggers.ts';
import { lognormal, prng } from './latency-fixture.ts';

const WINDOW = 60_000;
const T0 = Date.UTC(2025, 0, 1);

/** One window of `count` lognormal latencies: encoded as metrics encodes it, p99 as HDR reads it. */
function hdrWindow(i: number, count: number, draw: () => number): P99Window {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  for (let k = 0; k < count; k++) h.recordValue(Math.max(1, Math.round(draw() * 1e6)));
  const p99 = count === 0 ? 0 : h.getValueAtPercentile(99) / 1e6;
  return { encoded: { startMs: T0 + i * WINDOW, endMs: T0 + (i + 1) * WINDOW, encoded: hdr.encodeIntoCompressedBase64(h), count }, p99 };
}

const config = (o: Partial<P99Config> = {}): P99Config => ({
  factor: 2, minSamples: 100, minDeltaMs: 5, cooldownMs: 30 * 60_000, baselineWindows: 5, rebaselineAfter: 3, sustain: 1, ...o,
});

function run(det: P99Detector, windows: Array<{ count: number; medianS: number }>, seed: number, start = 0) {
  const rand = prng(seed);
  return windows.map((w, j) => {
    const i = start + j;
    const v = det.observe(hdrWindow(i, w.count, lognormal(rand, w.medianS, 0.5)), T0 + (i + 1) * WINDOW);
    return { i, ...v };
  });
}

describe('P99Detector', () => {
  test('steady lognormal noise over 60 windows (varying traffic) triggers nothing', () => {
    const rand = prng(7);
    const det = new P99Detector(config());
    const windows = Array.from({ length: 60 }, () => ({ count: 300 + Math.floor(rand() * 2000), medianS: 0.01 * (0.85 + rand() * 0.3) }));
    const out = run(det, windows, 11);
    assert.deepEqual(out.filter((v) => v.regressed).map((v) => v.i), []);
    assert.equal(out.filter((v) => v.trigger).length, 0);
    // the baseline is live: a real comparison was made in most windows
    assert.ok(out.filter((v) => Number.isFinite(v.baselineP99)).length >= 55);
  });

  test('noisy low-traffic windows (minSamples..1.5x) over 60 windows trigger nothing', () => {
    const rand = prng(3);
    const det = new P99Detector(config());
    const windows = Array.from({ length: 60 }, () => ({ count: 100 + Math.floor(rand() * 50), medianS: 0.02 }));
    assert.equal(run(det, windows, 5).filter((v) => v.trigger).length, 0);
  });

  test('a 3x shift triggers once, on its first window; after rebaselineAfter windows it is the new normal', () => {
    const det = new P99Detector(config({ cooldownMs: 0 })); // no cool-down: the re-baseline alone must stop repeats
    const steady = Array.from({ length: 10 }, () => ({ count: 1000, medianS: 0.01 }));
    const shifted = Array.from({ length: 20 }, () => ({ count: 1000, medianS: 0.03 }));
    const before = run(det, steady, 21);
    assert.equal(before.filter((v) => v.trigger).length, 0);
    const oldBase = det.baseline().map((w) => w.p99);
    const after = run(det, shifted, 22, 10);
    assert.deepEqual(after.filter((v) => v.trigger).map((v) => v.i), [10]);
    assert.deepEqual(after.filter((v) => v.regressed).map((v) => v.i), [10, 11, 12]);
    const t = after[0]!;
    assert.ok(t.baselineP99 === median(oldBase) && t.threshold === 2 * t.baselineP99);
    // the baseline moved to the new level: its median is now ~3x the old one
    const ratio = median(det.baseline().map((w) => w.p99)) / median(oldBase);
    assert.ok(ratio > 2.5 && ratio < 3.5, `baseline ratio ${ratio}`);
  });

  test('sustain: a one-window blip never triggers; a regression lasting 2 windows triggers on its second', () => {
    const det = new P99Detector(config({ sustain: 2, cooldownMs: 0 }));
    const n = (medianS: number) => ({ count: 1000, medianS });
    const out = run(det, [...Array(6).fill(n(0.01)), n(0.05), n(0.01), n(0.05), n(0.01), n(0.01), n(0.05), n(0.05), n(0.05)], 91);
    assert.deepEqual(out.filter((v) => v.regressed).map((v) => v.i), [6, 8, 11, 12, 13]);
    assert.deepEqual(out.filter((v) => v.trigger).map((v) => v.i), [12]);
  });

  test('regressed windows stay out of the baseline until the run is long enough', () => {
    const det = new P99Detector(config());
    run(det, Array.from({ length: 6 }, () => ({ count: 1000, medianS: 0.01 })), 31);
    const base = det.baseline().map((w) => w.encoded.startMs);
    run(det, [{ count: 1000, medianS: 0.04 }, { count: 1000, medianS: 0.04 }], 32, 6);
    assert.deepEqual(det.baseline().map((w) => w.encoded.startMs), base);
    // a normal window breaks the run: it joins, and the two regressed windows never do
    run(det, [{ count: 1000, medianS: 0.01 }], 33, 8);
    assert.deepEqual(det.baseline().map((w) => w.encoded.startMs), [...base.slice(1), T0 + 8 * WINDOW]);
  });

  test('cool-down: a second regression inside it is regressed but not a trigger; after it, it triggers', () => {
    const det = new P99Detector(config({ cooldownMs: 10 * WINDOW }));
    const n = (medianS: number) => ({ count: 1000, medianS });
    const out = run(det, [...Array(6).fill(n(0.01)), n(0.03), n(0.01), n(0.01), n(0.03), n(0.01), ...Array(6).fill(n(0.01)), n(0.03)], 41);
    assert.deepEqual(out.filter((v) => v.regressed).map((v) => v.i), [6, 9, 17]);
    assert.deepEqual(out.filter((v) => v.trigger).map((v) => v.i), [6, 17]);
  });

  test('below minSamples a 5x window is not judged and does not join the baseline', () => {
    const det = new P99Detector(config());
    run(det, Array.from({ length: 6 }, () => ({ count: 1000, medianS: 0.01 })), 51);
    const base = det.baseline().map((w) => w.encoded.startMs);
    const out = run(det, Array.from({ length: 10 }, () => ({ count: 50, medianS: 0.05 })), 52, 6);
    assert.equal(out.filter((v) => v.regressed || v.trigger).length, 0);
    assert.deepEqual(det.baseline().map((w) => w.encoded.startMs), base);
  });

  test('no baseline yet: nothing is judged before MIN_BASELINE_WINDOWS windows and minSamples in them', () => {
    const det = new P99Detector(config({ minSamples: 1500 }));
    // 3 windows of 1000: enough windows but 3000 samples >= 1500, so the 4th is judged; 2 are not enough
    const out = run(det, [{ count: 1000, medianS: 0.01 }, { count: 1000, medianS: 0.01 }, { count: 1600, medianS: 0.05 }], 61);
    assert.equal(MIN_BASELINE_WINDOWS, 3);
    assert.equal(out.filter((v) => v.regressed).length, 0);
    const det2 = new P99Detector(config({ minSamples: 1500 }));
    const out2 = run(det2, [...Array(3).fill({ count: 1000, medianS: 0.01 }), { count: 1600, medianS: 0.05 }], 62);
    assert.deepEqual(out2.filter((v) => v.trigger).map((v) => v.i), [3]);
  });

  test('minDeltaMs: tripling a 100 µs p99 is not a regression worth evidence', () => {
    const det = new P99Detector(config());
    const out = run(det, [...Array(6).fill({ count: 1000, medianS: 0.0001 }), ...Array(5).fill({ count: 1000, medianS: 0.0003 })], 71);
    assert.equal(out.filter((v) => v.regressed).length, 0);
    const det2 = new P99Detector(config({ minDeltaMs: 0 }));
    const out2 = run(det2, [...Array(6).fill({ count: 1000, medianS: 0.0001 }), ...Array(5).fill({ count: 1000, medianS: 0.0003 })], 71);
    assert.equal(out2.filter((v) => v.trigger).length, 1);
  });

  test('a window without traffic changes nothing', () => {
    const det = new P99Detector(config());
    run(det, Array.from({ length: 4 }, () => ({ count: 500, medianS: 0.01 })), 81);
    const base = det.baseline().length;
    const v = det.observe(hdrWindow(4, 0, () => 0), T0 + 5 * WINDOW);
    assert.equal(v.regressed, false);
    assert.equal(det.baseline().length, base);
  });
});

describe('HeapGrowthDetector', () => {
  const MiB = 2 ** 20;
  const feed = (det: HeapGrowthDetector, series: number[]) => series.map((b, i) => det.observe(b, T0 + i * WINDOW));

  test('rising in each of N windows by minGrowthBytes in total triggers at the N-th rise, once', () => {
    const det = new HeapGrowthDetector({ windows: 5, minGrowthBytes: 16 * MiB, cooldownMs: 0 });
    const series = Array.from({ length: 8 }, (_, i) => 100 * MiB + i * 4 * MiB);
    const out = feed(det, series);
    assert.deepEqual(out.map((v, i) => (v.trigger ? i : -1)).filter((i) => i >= 0), [5]);
    assert.equal(out[5]!.growthBytes, 20 * MiB);
    assert.deepEqual(out[5]!.series, series.slice(0, 6));
    // after a trigger N fresh rises are needed: windows 6, 7 are only 2
    assert.ok(!out[6]!.trigger && !out[7]!.trigger);
    const more = [8, 9, 10].map((i) => det.observe(100 * MiB + i * 4 * MiB, T0 + i * WINDOW));
    assert.deepEqual(more.map((v) => v.trigger), [false, false, true]);
  });

  test('a saw-tooth (GC pattern, even drifting upward) never triggers', () => {
    const det = new HeapGrowthDetector({ windows: 5, minGrowthBytes: 1 * MiB, cooldownMs: 0 });
    const series = Array.from({ length: 40 }, (_, i) => 100 * MiB + (i % 4) * 8 * MiB + i * 0.1 * MiB);
    assert.equal(feed(det, series).filter((v) => v.trigger).length, 0);
  });

  test('slow steady rises below minGrowthBytes do not trigger; a flat window breaks a run', () => {
    const det = new HeapGrowthDetector({ windows: 3, minGrowthBytes: 16 * MiB, cooldownMs: 0 });
    assert.equal(feed(det, Array.from({ length: 20 }, (_, i) => 100 * MiB + i * 0.5 * MiB)).filter((v) => v.trigger).length, 0);
    const det2 = new HeapGrowthDetector({ windows: 3, minGrowthBytes: 1 * MiB, cooldownMs: 0 });
    assert.equal(feed(det2, [10, 20, 20, 30, 40].map((x) => x * MiB)).filter((v) => v.trigger).length, 0);
  });

  test('cool-down holds a second sustained growth back; windows without a reading are skipped', () => {
    const det = new HeapGrowthDetector({ windows: 2, minGrowthBytes: 1 * MiB, cooldownMs: 5 * WINDOW });
    const series = [10, 20, 30, NaN, 40, 50, 60, 70, 80].map((x) => x * MiB);
    const out = feed(det, series);
    // 2 at i=2; the next two rises end at i=5 (inside 5 windows of i=2), so the next is i=7
    assert.deepEqual(out.map((v, i) => (v.trigger ? i : -1)).filter((i) => i >= 0), [2, 7]);
  });
});

test('heapLimitRatio', () => {
  assert.equal(heapLimitRatio(850, 1000), 0.85);
  assert.equal(heapLimitRatio(1, 0), 0);
});
