// Captures between evaluations, on fakes: what the live read puts in a bundle, the default
// reasons, the policy's snapshot choice, and a failing read reported rather than thrown. Real
// bundles from capture() are in evidence.test.ts; the signal path in its signal tests.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EncodedWindow, EvidenceTriggerKind, RuntimeWindowStats } from '@tailtrace/formats';
import { captureReason, createCapture, liveData } from '../src/capture.ts';
import type { CaptureDeps, LiveSources } from '../src/capture.ts';
import type { BundleTrigger, WindowData } from '../src/evidence-writer.ts';
import type { LatencySource } from '../src/profiler.ts';

const RUNTIME = { marker: 'now' } as unknown as RuntimeWindowStats;
const QUIET = { marker: 'quiet' } as unknown as RuntimeWindowStats;
const BASE: EncodedWindow = { startMs: 0, endMs: 1000, encoded: 'b', count: 7 };

const latency: LatencySource = {
  operations: () => [
    { kind: 'http_server', operation: 'GET /a' },
    { kind: 'http_server', operation: 'GET /empty' },
    { kind: 'rpc_server', operation: 'gone' },
  ],
  read: (_k, op) => (op === 'gone' ? undefined : { count: op === 'GET /a' ? 3 : 0, percentiles: { p50: 0, p90: 0, p99: 0, p999: 0 } }),
  encode: (_k, op) => `hdr:${op}`,
  slowest: () => [],
};

const sources = (o: Partial<LiveSources> = {}): LiveSources => ({
  latency, engine: { baseline: () => [BASE] }, monitor: { peek: () => RUNTIME }, runtimeBaseline: () => [QUIET], ...o,
});

describe('liveData', () => {
  test('operations with samples in the window, each with its baseline; the runtime now and its baseline', () => {
    const window = { startMs: 5000, endMs: 65_000 };
    assert.deepEqual(liveData(sources(), window), {
      window,
      ops: [{ ref: { kind: 'http_server', operation: 'GET /a' }, window: { ...window, encoded: 'hdr:GET /a', count: 3 }, baseline: [BASE] }],
      runtime: RUNTIME,
      runtimeBaseline: [QUIET],
    });
  });
});

describe('createCapture', () => {
  function setup(o: Partial<CaptureDeps> = {}) {
    const writes: Array<{ t: BundleTrigger; data: WindowData; want: boolean }> = [];
    const triggers: string[] = [];
    const failures: string[] = [];
    const capture = createCapture({ windowMs: 60_000, snapshots: 'manual', signal: 'SIGUSR2', now: () => 100_000 }, {
      ...sources(),
      writer: { write: async (t, data, want) => (writes.push({ t, data, want }), { status: 'written' }) },
      track: (p) => p,
      fail: (where) => failures.push(where),
      onTrigger: (k) => triggers.push(k),
      ...o,
    });
    return { capture, writes, triggers, failures };
  }

  test('the window is the windowMs before now; the policy picks the snapshot unless the caller does', async () => {
    const s = setup();
    for (const kind of ['endpoint', 'baseline', 'heap_growth'] as EvidenceTriggerKind[]) await s.capture(kind);
    await s.capture('baseline', { snapshot: true, reason: 'asked' });
    assert.deepEqual(s.writes.map((w) => [w.t.kind, w.t.reason, w.want]), [
      ['endpoint', 'POST /debug/tailtrace/evidence', true],
      ['baseline', 'manual capture (baseline)', false],
      ['heap_growth', 'manual capture (heap_growth)', false],
      ['baseline', 'asked', true],
    ]);
    assert.deepEqual(s.writes[0]!.data.window, { startMs: 40_000, endMs: 100_000 });
    assert.deepEqual(s.triggers, ['endpoint', 'heap_growth']);
  });

  test('a live read that throws: a failed result and one reported failure, no bundle', async () => {
    const s = setup({ monitor: { peek: () => { throw new Error('no stats'); } } });
    assert.deepEqual(await s.capture('endpoint'), { status: 'failed', reason: 'no stats' });
    assert.deepEqual(s.writes, []);
    assert.deepEqual(s.failures, ['evidence data']);
  });
});

test('captureReason names the signal when there is one', () => {
  assert.equal(captureReason('signal', 'SIGUSR2'), 'signal SIGUSR2');
  assert.equal(captureReason('signal', false), 'signal');
  assert.equal(captureReason('endpoint', false), 'POST /debug/tailtrace/evidence');
  assert.equal(captureReason('p99_regression', false), 'manual capture (p99_regression)');
});
