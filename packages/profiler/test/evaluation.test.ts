// The trigger engine on exact window sequences (what createProfiler feeds it), the snapshot
// budget, and the recorder that makes real runs replayable.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { TriggerEngine } from '../src/evaluation.ts';
import type { EngineConfig, WindowReadings } from '../src/evaluation.ts';
import { SnapshotBudget } from '../src/snapshot-budget.ts';
import { createWindowRecorder, parseRecording } from '../src/window-recorder.ts';

const W = 5000;
const T0 = Date.UTC(2026, 0, 1);
const MiB = 2 ** 20;
const dir = mkdtempSync(join(tmpdir(), 'tailtrace-evaluation-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const config = (o: Partial<EngineConfig> = {}): EngineConfig => ({
  windowMs: W,
  warmupWindows: 1,
  baselineWindows: 4,
  p99: { factor: 3, minSamples: 100, minDeltaMs: 50, cooldownMs: 60 * W, baselineWindows: 4, rebaselineAfter: 3, sustain: 2, escalation: 2 },
  heapGrowth: { spanMs: 6 * W, minGrowthBytes: 16 * MiB, minReadings: 3, minTau: 0.6, cooldownMs: 60 * W, escalation: 2 },
  heapLimit: { ratio: 0.85, cooldownMs: 60 * W },
  ...o,
});

/** Window i: the route at p99Ms, one post-major reading at mid-window (heapMiB; none when NaN). */
function win(i: number, p99Ms: number, heapMiB = NaN, o: Partial<WindowReadings> = {}): WindowReadings {
  return {
    startMs: T0 + i * W,
    endMs: T0 + (i + 1) * W,
    selfPause: false,
    ops: [{ kind: 'http_server', operation: 'GET /api/orders/:id', count: 800, p99: p99Ms / 1000 }],
    majors: Number.isNaN(heapMiB) ? [] : [{ atMs: T0 + i * W + W / 2, usedBytes: heapMiB * MiB }],
    heapUsedBytes: 60 * MiB,
    heapLimitBytes: 4096 * MiB,
    ...o,
  };
}

function run(engine: TriggerEngine, windows: WindowReadings[]) {
  return windows.map((w, i) => ({ i, ...engine.observe(w) }));
}

describe('TriggerEngine', () => {
  test('start-up noise before the baseline is complete is no verdict (the missed-leak run of the issue)', () => {
    const e = new TriggerEngine(config());
    // warm-up, then 4 windows building the baseline, two of them slow (start-up noise): nothing fires
    const early = run(e, [win(0, 300), win(1, 20), win(2, 220), win(3, 230), win(4, 22)]);
    assert.ok(early.every((v) => v.fired.length === 0));
    assert.deepEqual(early.map((v) => v.judged), [false, true, true, true, true]);
    // the real regression afterwards fires: nothing spent the cool-down
    const later = run(e, [win(5, 25), win(6, 400), win(7, 450)]);
    assert.deepEqual(later.map((v) => v.fired.map((f) => f.kind)), [[], [], ['p99_regression']]);
  });

  test('our own pause: the window is not judged for latency, but its forced-GC reading is a heap reading', () => {
    const e = new TriggerEngine(config({ p99: false }));
    // warm-up + 4 quiet windows; then a leak of ~8 MiB a window seen mostly by our own forced GCs
    run(e, [0, 1, 2, 3, 4].map((i) => win(i, 20, 100)));
    const out = run(e, [5, 6, 7, 8, 9, 10].map((i) => win(i, 20, 100 + 8 * (i - 4), { selfPause: i % 2 === 1 })));
    assert.deepEqual(out.map((v) => v.judged), [false, true, false, true, false, true]);
    const fired = out.flatMap((v) => v.fired.map((f) => `${v.i}:${f.kind}`));
    assert.equal(fired.length, 1, fired.join());
    assert.match(out.find((v) => v.fired.length)!.fired[0]!.reason, /^heap used after GC grew [\d.]+ MiB in \d+ s \([\d.]+ MiB\/min over \d major GCs, tau 1\.00\)/);
  });

  test('heap growth is judged only once the runtime baseline (quiet windows) is complete', () => {
    const e = new TriggerEngine(config({ p99: false }));
    // growing from the start (warming up): not judged, readings not kept
    const out = run(e, Array.from({ length: 5 }, (_, i) => win(i, 20, 100 + 10 * i)));
    assert.ok(out.every((v) => v.fired.length === 0));
    assert.equal(out.at(-1)!.quietWindows, 4);
  });

  test('a blip is reported with the id of the trigger it proves false', () => {
    const e = new TriggerEngine(config());
    run(e, [0, 1, 2, 3, 4].map((i) => win(i, 20)));
    const out = run(e, [win(5, 300), win(6, 320), win(7, 21)]);
    const fired = out[1]!.fired[0]!;
    assert.equal(fired.id, `p99_regression GET /api/orders/:id@${T0 + 7 * W}`);
    assert.equal(fired.level, 0.32);
    assert.deepEqual(out[2]!.blips.map((b) => b.id), [fired.id]);
    assert.equal(out[2]!.quiet, true);
  });

  test('heap_limit fires in any window, warm-up included, with its own cool-down', () => {
    const e = new TriggerEngine(config());
    const near = { heapUsedBytes: 3600 * MiB };
    const out = run(e, [win(0, 20, NaN, near), win(1, 20, NaN, near)]);
    assert.deepEqual(out.map((v) => v.fired.map((f) => f.kind)), [['heap_limit'], []]);
  });
});

describe('SnapshotBudget', () => {
  const claim = (key: string, level: number, triggerId?: string) => ({ key, level, ...(triggerId ? { triggerId } : {}) });

  test('per kind: one per interval; another kind only waits for the gap', () => {
    const b = new SnapshotBudget({ intervalMs: 600_000, gapMs: 60_000, escalation: 2 });
    assert.equal(b.refusal(claim('p99_regression', 0.1), 0), undefined);
    b.taken(claim('p99_regression', 0.1), 0);
    assert.equal(b.refusal(claim('p99_regression', 0.15), 300_000), 'rate limit: one snapshot per 600 s for p99_regression, next in 300 s');
    assert.equal(b.refusal(claim('heap_growth', 5), 30_000), 'rate limit: at least 60 s between snapshots, next in 30 s');
    assert.equal(b.refusal(claim('heap_growth', 5), 60_000), undefined);
  });

  test('escalation: a trigger twice as bad as the one that took the last snapshot of its kind may take one', () => {
    const b = new SnapshotBudget({ intervalMs: 600_000, gapMs: 60_000, escalation: 2 });
    b.taken(claim('p99_regression', 0.1), 0);
    assert.match(b.refusal(claim('p99_regression', 0.19), 90_000)!, /one snapshot per 600 s/);
    assert.equal(b.refusal(claim('p99_regression', 0.2), 90_000), undefined);
    // never inside the gap, however bad
    assert.match(b.refusal(claim('p99_regression', 10), 30_000)!, /at least 60 s between snapshots/);
    // level 0 (manual captures, baselines) never escalates
    b.taken(claim('manual', 0), 100_000);
    assert.match(b.refusal(claim('manual', 0), 200_000)!, /for manual/);
  });

  test('a refund: the snapshot a blip took no longer counts against its kind', () => {
    const b = new SnapshotBudget({ intervalMs: 600_000, gapMs: 60_000, escalation: 2 });
    b.taken(claim('p99_regression', 0.3, 'false alarm'), 0);
    b.refund('false alarm');
    assert.equal(b.refusal(claim('p99_regression', 0.1), 60_000), undefined);
    b.busy = true;
    assert.equal(b.refusal(claim('heap_growth', 1), 600_000), 'another snapshot in progress');
  });
});

describe('window recorder', () => {
  test('writes a header and one line per window; parseRecording reads them back; a bad line names its number', async () => {
    const path = join(dir, 'rec.jsonl');
    const errors: unknown[] = [];
    const r = createWindowRecorder(path, { service: 'gateway', config: config() }, (e) => errors.push(e));
    const w = win(3, 42, 120);
    w.ops[0]!.encoded = { startMs: w.startMs, endMs: w.endMs, encoded: 'HISTFAAA', count: 800 };
    r.write(w, undefined, ['p99_regression GET /x@1']);
    r.write(win(4, 40), undefined, []);
    await r.close();
    assert.deepEqual(errors, []);
    const { header, windows } = parseRecording(readFileSync(path, 'utf8'));
    assert.equal(header.service, 'gateway');
    assert.deepEqual(header.config, config());
    assert.equal(windows.length, 2);
    assert.equal(windows[0]!.ops[0]!.p99, 0.042);
    assert.equal('encoded' in windows[0]!.ops[0]!, false, 'histograms are not recorded');
    assert.deepEqual(windows[0]!.fired, ['p99_regression GET /x@1']);
    assert.equal(windows[1]!.fired, undefined);
    // a recording replays into the same verdicts as the live engine gave
    const live = new TriggerEngine(config());
    const replayed = new TriggerEngine(header.config);
    for (const x of windows) assert.deepEqual(replayed.observe(x), live.observe(x));
    assert.throws(() => parseRecording(`${readFileSync(path, 'utf8')}{oops\n`), /recording line 4: /);
    assert.throws(() => parseRecording('{"format":"other"}\n'), /not a tailtrace-trigger-recording \(line 1\)/);
  });

  test('an unwritable path is reported once, never thrown', async () => {
    const errors: unknown[] = [];
    const r = createWindowRecorder(join(dir, 'no', 'such', 'dir.jsonl'), { service: 's', config: config() }, (e) => errors.push(e));
    r.write(win(0, 1), undefined, []);
    await new Promise((res) => setTimeout(res, 50));
    await r.close();
    assert.equal(errors.length, 1);
  });
});
