import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareAlternating, quantile } from './support/slice-latency.ts';

// 48 slices of 100 requests at ~20 ms, a deterministic spread of +-5 ms.
function run(delay: (slice: number, i: number) => number): number[][] {
  return Array.from({ length: 48 }, (_, k) => Array.from({ length: 100 }, (_, i) => 20 + ((i * 37 + k * 11) % 11) - 5 + delay(k, i)));
}

test('quantile picks the order statistic', () => {
  assert.equal(quantile([5, 1, 4, 2, 3], 0.5), 3);
  assert.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99), 10);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test('one stall in a mode-1 slice decides the whole-mode P99 but not the slice median', () => {
  const c = compareAlternating(run((k, i) => (k === 7 && i < 30 ? 60 : 0)));
  assert.ok(c.p99[1] > 1.5 * c.p99[0] + 25, `whole-mode P99 ${c.p99.join(' vs ')}`);
  assert.ok(Math.abs(c.sliceP99[1] - c.sliceP99[0]) < 3, `slice medians ${c.sliceP99.join(' vs ')}`);
  assert.deepEqual(c.counts, [2400, 2400]);
});

test('a delay in every mode-1 slice shows in the slice median', () => {
  // A 300 ms deadline reached by a few requests of each slice.
  const c = compareAlternating(run((k, i) => (k % 2 === 1 && i % 40 === 0 ? 300 : 0)));
  assert.ok(c.sliceP99[1] > 1.5 * c.sliceP99[0] + 25, `slice medians ${c.sliceP99.join(' vs ')}`);
});
