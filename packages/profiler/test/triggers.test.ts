// Trigger thresholds on exact sequences: P99 windows are real HDR histograms of seeded lognormal
// latencies (as metrics records them), heap readings are byte counts per window.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import hdr from 'hdr-histogram-js';
import { HeapGrowthDetector, P99Detector, heapLimitRatio, kendallTau, median, theilSen } from '../src/triggers.ts';
import type { HeapGrowthConfig, HeapReading, P99Config, P99Window } from '../src/triggers.ts';
import { lognormal, prng } from './latency-fixture.ts';

const WINDOW = 60_000;
const T0 = Date.UTC(2025, 0, 1);

/** One window of `count` lognormal latencies: encoded as metrics encodes it, p99 as HDR reads it. */
function hdrWindow(i: number, count: number, draw: () => number): P99Window {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  for (let k = 0; k < count; k++) h.recordValue(Math.max(1, Math.round(draw() * 1e6)));
  const p99 = count === 0 ? 0 : h.getValueAtPercentile(99) / 1e6;
  return { count, p99, encoded: { startMs: T0 + i * WINDOW, endMs: T0 + (i + 1) * WINDOW, encoded: hdr.encodeIntoCompressedBase64(h), count } };
}

const config = (o: Partial<P99Config> = {}): P99Config => ({
  factor: 2, minSamples: 100, minDeltaMs: 5, cooldownMs: 30 * 60_000, baselineWindows: 5, rebaselineAfter: 3, sustain: 1, escalation: 2, ...o,
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
    const base = det.baseline().map((w) => w.encoded!.startMs);
    run(det, [{ count: 1000, medianS: 0.04 }, { count: 1000, medianS: 0.04 }], 32, 6);
    assert.deepEqual(det.baseline().map((w) => w.encoded!.startMs), base);
    // a normal window breaks the run: it joins, and the two regressed windows never do
    run(det, [{ count: 1000, medianS: 0.01 }], 33, 8);
    assert.deepEqual(det.baseline().map((w) => w.encoded!.startMs), [...base.slice(1), T0 + 8 * WINDOW]);
  });

  test('cool-down: a second regression inside it is regressed but not a trigger; after it, it triggers', () => {
    const det = new P99Detector(config({ cooldownMs: 10 * WINDOW, rebaselineAfter: 100 }));
    const n = (medianS: number) => ({ count: 1000, medianS });
    const slow = [n(0.03), n(0.03)];
    const out = run(det, [...Array(6).fill(n(0.01)), ...slow, n(0.01), n(0.01), ...slow, n(0.01), ...Array(6).fill(n(0.01)), ...slow, n(0.01)], 41);
    assert.deepEqual(out.filter((v) => v.regressed).map((v) => v.i), [6, 7, 10, 11, 19, 20]);
    assert.deepEqual(out.filter((v) => v.trigger).map((v) => v.i), [6, 19]);
    assert.equal(out.filter((v) => v.blip).length, 0, 'a regression lasting past its trigger is no blip');
  });

  test('below minSamples a 5x window is not judged and does not join the baseline', () => {
    const det = new P99Detector(config());
    run(det, Array.from({ length: 6 }, () => ({ count: 1000, medianS: 0.01 })), 51);
    const base = det.baseline().map((w) => w.encoded!.startMs);
    const out = run(det, Array.from({ length: 10 }, () => ({ count: 50, medianS: 0.05 })), 52, 6);
    assert.equal(out.filter((v) => v.regressed || v.trigger).length, 0);
    assert.deepEqual(det.baseline().map((w) => w.encoded!.startMs), base);
  });

  test('no judgement until the baseline is complete: baselineWindows windows of minSamples each', () => {
    // Start-up noise (a 5x window) inside the first baselineWindows windows is never a verdict.
    const det = new P99Detector(config({ baselineWindows: 4 }));
    const out = run(det, [{ count: 1000, medianS: 0.01 }, { count: 1000, medianS: 0.05 }, { count: 1000, medianS: 0.05 }, { count: 1000, medianS: 0.01 }], 61);
    assert.equal(out.filter((v) => v.regressed || v.trigger).length, 0);
    assert.ok(out.every((v) => !v.ready));
    // thin windows do not complete it: 10 windows of 50 requests leave it at 4 windows... of which none new
    const det2 = new P99Detector(config({ baselineWindows: 3, minSamples: 100 }));
    run(det2, [...Array(2).fill({ count: 1000, medianS: 0.01 }), ...Array(10).fill({ count: 50, medianS: 0.01 })], 62);
    assert.equal(det2.baseline().length, 2);
    const out2 = run(det2, [{ count: 1000, medianS: 0.05 }, { count: 1000, medianS: 0.05 }], 63, 12);
    assert.deepEqual(out2.map((v) => [v.ready, v.trigger]), [[false, false], [true, true]]);
  });

  test('escalation: inside the cool-down a regression much worse than the one that fired still triggers', () => {
    const det = new P99Detector(config({ cooldownMs: 60 * WINDOW, rebaselineAfter: 100 }));
    const n = (medianS: number) => ({ count: 1000, medianS });
    // a mild regression fires; later, inside the cool-down, a same-level one does not, a 4x worse one does
    const out = run(det, [...Array(6).fill(n(0.01)), n(0.025), n(0.025), n(0.01), n(0.026), n(0.026), n(0.01), n(0.1), n(0.1)], 64);
    assert.deepEqual(out.filter((v) => v.regressed).map((v) => v.i), [6, 7, 9, 10, 12, 13]);
    assert.deepEqual(out.filter((v) => v.trigger).map((v) => v.i), [6, 12]);
  });

  test('escalation within one incident: a regression that keeps worsening fires again at 2x, not every window', () => {
    const det = new P99Detector(config({ rebaselineAfter: 100 }));
    const n = (medianS: number) => ({ count: 1000, medianS });
    const out = run(det, [...Array(6).fill(n(0.01)), n(0.03), n(0.035), n(0.04), n(0.045), n(0.13), n(0.14)], 65);
    assert.deepEqual(out.filter((v) => v.trigger).map((v) => v.i), [6, 10]);
  });

  test('a blip: the trigger whose regression ended right after it is reported as such and gives its cool-down back', () => {
    const det = new P99Detector(config({ sustain: 2, cooldownMs: 60 * WINDOW }));
    const n = (medianS: number) => ({ count: 1000, medianS });
    // two slow windows (start-up noise, a neighbour's pause) fire; the next is normal: a blip
    const out = run(det, [...Array(6).fill(n(0.01)), n(0.05), n(0.05), n(0.01), n(0.01), n(0.03), n(0.03), n(0.03), n(0.01)], 66);
    assert.deepEqual(out.filter((v) => v.trigger).map((v) => v.i), [7, 11]);
    const blips = out.filter((v) => v.blip);
    assert.equal(blips.length, 1);
    assert.equal(blips[0]!.i, 8);
    assert.equal(blips[0]!.blip!.firedAtMs, T0 + 8 * WINDOW);
    assert.match(blips[0]!.blip!.reason, /back under its threshold 60 s after the trigger/);
    // the real regression (3 windows) fired inside the blip's cool-down, and it is no blip itself
    assert.equal(out[13]!.blip, undefined);
  });

  test('a latency creeping up in steps, each under the threshold, is not absorbed by the baseline: it triggers', () => {
    // A leak in a CPU-starved service: +20% a window. Each window is under 2x the median of the
    // last 5, so joining them as they come carries the baseline along and nothing ever fires;
    // windows above sqrt(2)x the median stay out of the baseline, and the creep crosses 2x.
    const det = new P99Detector(config({ sustain: 2 }));
    const n = (medianS: number) => ({ count: 1000, medianS });
    const creep = Array.from({ length: 12 }, (_, k) => n(0.01 * 1.2 ** (k + 1)));
    const out = run(det, [...Array(6).fill(n(0.01)), ...creep], 67);
    const fired = out.filter((v) => v.trigger).map((v) => v.i);
    assert.ok(fired.length >= 1 && fired[0]! <= 12, `fired at ${fired.join(',')}`);
  });

  test('an elevated level under the threshold that persists becomes the baseline, without a trigger', () => {
    const det = new P99Detector(config());
    const n = (medianS: number) => ({ count: 1000, medianS });
    const before = run(det, Array.from({ length: 6 }, () => n(0.01)), 68);
    assert.equal(before.filter((v) => v.trigger).length, 0);
    const oldMedian = median(det.baseline().map((w) => w.p99));
    const out = run(det, Array.from({ length: 8 }, () => n(0.016)), 69, 6);
    assert.equal(out.filter((v) => v.trigger || v.regressed).length, 0);
    const ratio = median(det.baseline().map((w) => w.p99)) / oldMedian;
    assert.ok(ratio > 1.4, `the new level is the baseline after 6 windows (ratio ${ratio.toFixed(2)})`);
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
  const cfg = (o: Partial<HeapGrowthConfig> = {}): HeapGrowthConfig => ({
    spanMs: 5 * WINDOW, minGrowthBytes: 16 * MiB, minReadings: 3, minTau: 0.6, cooldownMs: 0, escalation: 2, ...o,
  });
  /** One window per entry: its post-major readings (MiB), spread over the window. */
  const feed = (det: HeapGrowthDetector, windows: number[][], start = 0) =>
    windows.map((mibs, j) => {
      const i = start + j;
      const readings: HeapReading[] = mibs.map((m, k) => ({ atMs: T0 + i * WINDOW + ((k + 1) * WINDOW) / (mibs.length + 1), usedBytes: m * MiB }));
      return { i, ...det.observe(readings, T0 + (i + 1) * WINDOW) };
    });
  const fired = (out: Array<{ i: number; trigger: boolean }>) => out.filter((v) => v.trigger).map((v) => v.i);

  test('kendallTau and theilSen', () => {
    assert.equal(kendallTau([1, 2, 3, 4]), 1);
    assert.equal(kendallTau([4, 3, 2, 1]), -1);
    assert.ok(Math.abs(kendallTau([1, 3, 2, 4]) - 4 / 6) < 1e-9);
    const pts = [0, 1, 2, 3, 4].map((t) => ({ atMs: t * 1000, usedBytes: 10 * t }));
    assert.equal(theilSen(pts), 0.01);
    // one wild reading does not move the median slope
    assert.equal(theilSen([...pts.slice(0, 4), { atMs: 4000, usedBytes: 1e9 }]), 0.01);
  });

  test('a leak seen by a major GC only every other window (or less) still triggers, once per span of fresh growth', () => {
    const det = new HeapGrowthDetector(cfg());
    // +6 MiB per window, a reading in every second window: a strict per-window streak never forms
    const windows = Array.from({ length: 14 }, (_, i) => (i % 2 === 0 ? [100 + 6 * i] : []));
    const out = feed(det, windows);
    assert.deepEqual(fired(out), [4, 10]);
    const t = out[4]!;
    assert.equal(t.series.length, 3);
    assert.ok(t.growthBytes >= 16 * MiB && t.tau === 1, `${t.growthBytes / MiB} MiB, tau ${t.tau}`);
    assert.ok(Math.abs(t.bytesPerMin - 6 * MiB) < 0.01 * MiB);
  });

  test('one odd reading (a GC right after a burst of garbage) does not hide the trend', () => {
    const det = new HeapGrowthDetector(cfg({ spanMs: 8 * WINDOW }));
    const out = feed(det, [[100], [106], [112], [109], [124], [130], [136], [142]]);
    assert.deepEqual(fired(out), [6]);
    assert.ok(out[6]!.tau < 1 && out[6]!.tau >= 0.6, String(out[6]!.tau));
  });

  test('a saw-tooth (old-generation garbage, caches that fill and flush), even drifting upward, never triggers', () => {
    const det = new HeapGrowthDetector(cfg({ minGrowthBytes: 1 * MiB }));
    const out = feed(det, Array.from({ length: 40 }, (_, i) => [100 + (i % 4) * 8 + i * 0.1]));
    assert.deepEqual(fired(out), []);
  });

  test('growth below minGrowthBytes over the span, too few readings, or readings covering too little time: no trigger', () => {
    assert.deepEqual(fired(feed(new HeapGrowthDetector(cfg()), Array.from({ length: 20 }, (_, i) => [100 + i * 0.5]))), []);
    // two readings, however steep
    assert.deepEqual(fired(feed(new HeapGrowthDetector(cfg()), [[100], [], [], [200], [], [], []])), []);
    // three readings inside one window cover a fifth of the span; three over half of it, too little
    assert.deepEqual(fired(feed(new HeapGrowthDetector(cfg()), [[], [], [], [100, 150, 200], []])), []);
    assert.deepEqual(fired(feed(new HeapGrowthDetector(cfg()), [[], [], [100], [150], [200]])), []);
  });

  test('the readings of one forced collection (several major GCs back to back) count once, at their lowest', () => {
    const det = new HeapGrowthDetector(cfg({ minGrowthBytes: 1 * MiB }));
    const at = T0 + 1000;
    const v = det.observe([{ atMs: at, usedBytes: 50 * MiB }, { atMs: at + 10, usedBytes: 40 * MiB }, { atMs: at + 20, usedBytes: 41 * MiB }], T0 + WINDOW);
    assert.deepEqual(v.series, [{ atMs: at, usedBytes: 40 * MiB }]);
  });

  test('cool-down: a second growth at the same rate waits; one twice as fast escalates', () => {
    const det = new HeapGrowthDetector(cfg({ cooldownMs: 100 * WINDOW }));
    const steady = feed(det, Array.from({ length: 12 }, (_, i) => [100 + 6 * i]));
    assert.deepEqual(fired(steady), [4]);
    const faster = feed(det, Array.from({ length: 5 }, (_, i) => [200 + 14 * i]), 12);
    assert.equal(fired(faster).length, 1);
  });

  test('a blip: the heap falls back under where the growth started, within a span of the trigger', () => {
    const det = new HeapGrowthDetector(cfg({ cooldownMs: 100 * WINDOW }));
    const out = feed(det, [[100], [104], [108], [112], [116], [95], [100], [108], [116], [124]]);
    // the second growth fires inside the first's cool-down: the blip gave it back
    assert.deepEqual(fired(out), [4, 9]);
    const b = out.find((v) => v.blip)!;
    assert.equal(b.i, 5);
    assert.equal(b.blip!.firedAtMs, T0 + 5 * WINDOW);
    assert.match(b.blip!.reason, /fell back to 95\.0 MiB, under the 100\.0 MiB the growth started from/);
  });
});

test('heapLimitRatio', () => {
  assert.equal(heapLimitRatio(850, 1000), 0.85);
  assert.equal(heapLimitRatio(1, 0), 0);
});
