// The evaluation loop's own decisions, on fakes: which trigger names a window's bundle, and an
// evaluation asked for while one runs joins it. The rest (blips, baselines, self-pause) is
// exercised end to end through createProfiler in evidence.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RuntimeWindowStats } from '@tailtrace/formats';
import type { EngineFired, WindowReadings, WindowVerdict } from '../src/evaluation.ts';
import { EvaluationLoop, bundleTrigger } from '../src/evaluation-loop.ts';
import type { EvaluationLoopDeps } from '../src/evaluation-loop.ts';
import type { CaptureResult, EvidenceWriter } from '../src/evidence-writer.ts';

const ORDERS = { kind: 'http_server', operation: 'GET /orders/:id' } as const;

function fired(kind: EngineFired['kind'], severity: number, o: Partial<EngineFired> = {}): EngineFired {
  return { id: `${kind}@${severity}`, kind, reason: `${kind} ${severity}`, severity, level: severity, ...o };
}

describe('bundleTrigger', () => {
  test('heap_limit names the bundle whatever the severities, then heap_growth, then the worst p99', () => {
    const t = bundleTrigger([fired('p99_regression', 9), fired('heap_growth', 1), fired('p99_regression', 3), fired('heap_limit', 0.5)]);
    assert.equal(t.kind, 'heap_limit');
    assert.deepEqual(t.fired!.map((f) => f.id), ['heap_limit@0.5', 'heap_growth@1', 'p99_regression@9', 'p99_regression@3']);
    assert.equal(t.reason, 'heap_limit 0.5 (+3 more triggers this window)');
  });

  test('one trigger: its reason as is, with its operation, observed and threshold', () => {
    const only = fired('p99_regression', 2, { operation: ORDERS, observed: 0.4, threshold: 0.2 });
    assert.deepEqual(bundleTrigger([only]), { kind: 'p99_regression', reason: 'p99_regression 2', fired: [only], operation: ORDERS, observed: 0.4, threshold: 0.2 });
    assert.equal(bundleTrigger([only, fired('p99_regression', 1)]).reason, 'p99_regression 2 (+1 more trigger this window)');
  });
});

describe('EvaluationLoop', () => {
  const verdict = (o: Partial<WindowVerdict> = {}): WindowVerdict => ({ judged: true, fired: [], regressed: false, quiet: false, quietWindows: 0, blips: [], ...o });

  function loop(observe: (r: WindowReadings) => WindowVerdict, write: EvidenceWriter['write']) {
    const failures: string[] = [];
    const deps: EvaluationLoopDeps = {
      latency: undefined,
      monitor: { cut: () => ({ stats: {} as RuntimeWindowStats, majors: [], minHeapUsedBytes: NaN }) },
      engine: { baseline: () => [], observe },
      writer: { write, disturbedUntilMs: -Infinity, takeBundleOf: () => undefined },
      budget: { refund: () => {} },
      recorder: undefined,
      track: (p) => p,
      fail: (where) => failures.push(where),
      onTrigger: () => {},
      onBlip: () => {},
    };
    let t = 0;
    return { failures, loop: new EvaluationLoop({ windowMs: 1000, baselineWindows: 2, baselineEveryMs: false, snapshots: 'manual', now: () => (t += 1000) }, deps) };
  }

  test('an evaluation asked for while one runs (its bundle still being written) joins it', async () => {
    let observed = 0;
    let release!: () => void;
    const written = new Promise<void>((r) => (release = r));
    const h = loop(() => (observed++, verdict({ fired: [fired('p99_regression', 1)] })), async (): Promise<CaptureResult> => {
      await written;
      return { status: 'written' };
    });
    const first = h.loop.evaluate();
    assert.equal(h.loop.evaluate(), first);
    release();
    await first;
    assert.equal(observed, 1);
    await h.loop.evaluate();
    assert.equal(observed, 2);
    assert.deepEqual(h.failures, []);
  });

  test('a failing evaluation is reported, never thrown, and the next one runs', async () => {
    let calls = 0;
    const h = loop(() => {
      if (++calls === 1) throw new Error('boom');
      return verdict();
    }, async () => ({ status: 'written' }));
    await h.loop.evaluate();
    await h.loop.evaluate();
    assert.equal(calls, 2);
    assert.deepEqual(h.failures, ['evaluate']);
  });
});
