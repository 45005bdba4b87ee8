// Real runs replayed through the trigger engine. Each fixture directory is one run of the demo's
// three services recorded by `npm run bench -- triggers --record DIR` (what each service's
// triggers saw, window by window, and scenario.json: which fault was switched on where and when):
// quiet and CPU-starved leaks, a slow dependency, GC-heavy and plain load. The replay is
// deterministic, so the detectors are judged on what real runs look like, not on synthetic noise:
// every fault is caught within a bounded number of windows, and nothing fires without one.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { TriggerEngine } from '../src/evaluation.ts';
import type { EngineFired } from '../src/evaluation.ts';
import { parseRecording } from '../src/window-recorder.ts';
import type { RecordedWindow, RecordingHeader } from '../src/window-recorder.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'triggers');
const SERVICES = ['gateway', 'orders', 'inventory'] as const;
/** A fault must be caught within this many windows of the switch (9 x 5 s = 45 s). */
const CATCH_WITHIN = 9;

interface ScenarioFile {
  scenario: 'plain' | 'gc-heavy' | 'leak' | 'slow-dependency';
  faultAt: (typeof SERVICES)[number] | null;
  switchedAtMs: number | null;
  windowMs: number;
}

interface Replayed {
  service: string;
  header: RecordingHeader;
  windows: RecordedWindow[];
  fired: Array<EngineFired & { atMs: number }>;
}

function replay(service: string, text: string): Replayed {
  const { header, windows } = parseRecording(text);
  const engine = new TriggerEngine(header.config);
  const fired: Replayed['fired'] = [];
  for (const w of windows) for (const f of engine.observe(w).fired) fired.push({ ...f, atMs: w.endMs });
  return { service, header, windows, fired };
}

const runs = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'scenario.json'))).sort() : [];

test('the fixtures cover every scenario, and the leak also under a competing CPU load', () => {
  const kinds = new Set(runs.map((r) => (JSON.parse(readFileSync(join(FIXTURES, r, 'scenario.json'), 'utf8')) as ScenarioFile).scenario));
  assert.deepEqual([...kinds].sort(), ['gc-heavy', 'leak', 'plain', 'slow-dependency']);
  assert.ok(runs.some((r) => r.startsWith('leak-hog')), runs.join(', '));
});

for (const run of runs) {
  describe(`replay ${run}`, () => {
    const dir = join(FIXTURES, run);
    const sc = JSON.parse(readFileSync(join(dir, 'scenario.json'), 'utf8')) as ScenarioFile;
    const services = SERVICES.filter((s) => existsSync(join(dir, `${s}.jsonl`)))
      .map((s) => replay(s, readFileSync(join(dir, `${s}.jsonl`), 'utf8')));
    const describeFired = (fs: Replayed['fired']) => fs.map((f) => `${f.kind} ${f.operation?.operation ?? ''} at +${((f.atMs - services[0]!.windows[0]!.startMs) / 1000).toFixed(0)} s`).join('; ');

    test('the replay makes the decisions the live run made (same engine, same readings)', () => {
      assert.equal(services.length, 3);
      for (const s of services) {
        const live = s.windows.flatMap((w) => w.fired ?? []);
        assert.deepEqual(s.fired.map((f) => f.id), live,
          `${s.service}: the engine changed since this fixture was recorded; record it again (npm run bench -- triggers --record DIR)`);
      }
    });

    if (sc.switchedAtMs === null) {
      test(`${sc.scenario}: nothing fires in any service`, () => {
        for (const s of services) assert.deepEqual(s.fired, [], `${s.service}: ${describeFired(s.fired)}`);
        // and the detectors were live for most of the run (a baseline, then judged windows)
        const judged = services[0]!.windows.length;
        assert.ok(judged >= 20, `${judged} windows`);
      });
      return;
    }
    const switchedAt = sc.switchedAtMs;
    test(`${sc.scenario}: nothing fires before the fault`, () => {
      for (const s of services) {
        const early = s.fired.filter((f) => f.atMs < switchedAt);
        assert.deepEqual(early, [], `${s.service}: ${describeFired(early)}`);
      }
    });
    test(`${sc.scenario}: ${sc.faultAt} catches it within ${CATCH_WITHIN} windows`, () => {
      const s = services.find((x) => x.service === sc.faultAt)!;
      const caught = s.fired.find((f) => f.atMs >= switchedAt && (f.kind === 'p99_regression' || f.kind === 'heap_growth'));
      assert.ok(caught, `${s.service}: nothing after the switch (${describeFired(s.fired)})`);
      const windows = Math.ceil((caught.atMs - switchedAt) / sc.windowMs);
      assert.ok(windows <= CATCH_WITHIN, `caught after ${windows} windows: ${caught.reason}`);
      if (sc.scenario === 'slow-dependency') assert.equal(caught.kind, 'p99_regression');
    });
  });
}
