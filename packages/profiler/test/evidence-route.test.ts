// What POST /debug/tailtrace/evidence decides before and after a capture (the HTTP itself, token
// and all, is tested in evidence.test.ts): a snapshot that would be refused is a 429 with no
// bundle written; the capture's result maps to 200 or 500.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EvidenceManifest } from '@tailtrace/formats';
import type { CaptureOptions } from '../src/capture.ts';
import { evidenceRoute, profilerHandler } from '../src/evidence-route.ts';
import type { CaptureResult } from '../src/evidence-writer.ts';
import { SnapshotBudget } from '../src/snapshot-budget.ts';

const T0 = Date.UTC(2026, 0, 1);

function setup(result: CaptureResult = { status: 'written', manifest: { service: 'orders', host: 'h', pid: 1, versions: {} } as unknown as EvidenceManifest }) {
  const budget = new SnapshotBudget({ intervalMs: 600_000, gapMs: 60_000, escalation: 2 });
  const captures: CaptureOptions[] = [];
  const capture = async (_kind: string, opts: CaptureOptions = {}) => {
    captures.push(opts);
    return result;
  };
  const cfg = { token: 'tok', snapshots: 'manual' as const, now: () => T0 };
  return { budget, captures, route: (snapshots: 'manual' | 'never' = 'manual') => evidenceRoute({ ...cfg, snapshots }, budget, capture) };
}

describe('evidenceRoute', () => {
  test('a snapshot being written: 429 for a snapshot request, without a capture', async () => {
    const s = setup();
    s.budget.busy = true;
    assert.deepEqual(await s.route().capture(true), { status: 429, reason: 'a snapshot is being written', retryAfterS: 60 });
    assert.deepEqual(s.captures, []);
  });

  test('the rate limit: 429 with the seconds until the next one is allowed', async () => {
    const s = setup();
    s.budget.taken({ key: 'manual', level: 0 }, T0 - 30_500);
    assert.deepEqual(await s.route().capture(true), { status: 429, reason: 'snapshot rate limit', retryAfterS: 570 });
    assert.deepEqual(s.captures, []);
  });

  test('no snapshot asked for, or policy never: the budget is not consulted', async () => {
    const s = setup();
    s.budget.busy = true;
    assert.equal((await s.route().capture(false)).status, 200);
    assert.equal((await s.route('never').capture(true)).status, 200);
    assert.deepEqual(s.captures, [{ snapshot: false }, { snapshot: true }]);
  });

  test('written: 200 with the manifest minus host, pid and versions; anything else: 500 with the reason', async () => {
    assert.deepEqual(await setup().route().capture(false), { status: 200, body: { service: 'orders' } });
    assert.deepEqual(await setup({ status: 'failed', reason: 'ENOSPC' }).route().capture(false), { status: 500, reason: 'ENOSPC' });
    assert.deepEqual(await setup({ status: 'written' }).route().capture(false), { status: 500, reason: 'written' });
  });
});

describe('profilerHandler', () => {
  test('a handler that throws is reported and answers false, never throws into the server', () => {
    const failures: string[] = [];
    const handle = profilerHandler({ token: undefined, capture: async () => ({ status: 500, reason: '' }) }, () => {
      throw new Error('boom');
    }, (where) => failures.push(where));
    const req = { url: '/debug/pprof/heap', headers: {} } as never;
    assert.equal(handle(req, {} as never), false);
    assert.deepEqual(failures, ['handler']);
  });
});
