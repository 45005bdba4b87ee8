// Thousands of seeded mutations of a real (trimmed) V8 snapshot through the engine, bounded in
// time: every case ends within a few seconds with a result or one HeapSnapshotError line, never
// a hang, a crash or another error. A smaller set goes through the `tailtrace` binary: exit 0 or
// 2, at most one line on stderr. A failing seed is replayed with mutate(seed).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { analyze, readHeapSnapshot, retainerPaths } from '@tailtrace/heap';
import { sessionsSnapshot, tmp, trimSnapshot } from './fixtures.ts';
import { runFuzz } from './fuzz-runner.ts';
import { mutate } from './mutate.ts';

const BUDGET_MS = 25_000;
const CASE_MS = 5_000;
let seedFile: string;
before(() => {
  seedFile = trimSnapshot(sessionsSnapshot('fuzz-real', 20), 'fuzz-seed', 2500);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the seed: a valid snapshot in V8 layout with the application objects and their paths', async () => {
  const s = await readHeapSnapshot(seedFile);
  assert.equal(s.nodeCount, 2500);
  assert.ok(s.edgeCount > 2500 && s.locations.length > 0);
  assert.equal(analyze(s).classes.find((c) => c.name === 'Session')?.count, 20);
  assert.match(retainerPaths(s, { className: 'Session' })[0]!.chain, /global \.cache -> Map/);
});

test(`engine: mutations of a real snapshot for ${BUDGET_MS / 1000} s, each a result or one line`, { timeout: BUDGET_MS + 60_000 }, async (t) => {
  const dir = join(tmp, 'fuzz');
  mkdirSync(dir);
  const r = await runFuzz(fileURLToPath(new URL('./fuzz-child.ts', import.meta.url)), [seedFile, '1', '100000', String(Date.now() + BUDGET_MS), dir], CASE_MS);
  assert.equal(r.hung, null, `seed ${r.hung} did not end within ${CASE_MS} ms`);
  assert.equal(r.code, 0, r.stderr);
  const failed = r.cases.filter((c) => c.outcome === 'FAIL');
  assert.deepEqual(failed.map((c) => `seed ${c.seed}: ${c.message}`), []);
  const ok = r.cases.filter((c) => c.outcome.startsWith('ok')).length;
  const refused = r.cases.filter((c) => c.outcome === 'refused').length;
  assert.ok(r.cases.length >= 1000, `${r.cases.length} cases in the budget`);
  assert.ok(ok > 50 && refused > 50, `both outcomes seen: ${ok} read, ${refused} refused`);
  const slowest = r.cases.reduce((a, c) => (c.ms > a.ms ? c : a));
  t.diagnostic(`${r.cases.length} cases: ${ok} read, ${refused} refused; slowest seed ${slowest.seed} (${slowest.ms} ms)`);
  assert.ok(slowest.ms < CASE_MS, `slowest case: seed ${slowest.seed}, ${slowest.ms} ms`);
});

test('the binary: mutated snapshots end with exit 0 or 2 and at most one line', { timeout: 180_000 }, () => {
  const bin = fileURLToPath(new URL('../../cli/bin/tailtrace.js', import.meta.url));
  const input = readFileSync(seedFile);
  const dir = join(tmp, 'fuzz-cli');
  mkdirSync(dir);
  for (let seed = 500_000; seed < 500_024; seed++) {
    const file = join(dir, `m${seed}.heapsnapshot`);
    writeFileSync(file, mutate(input, seed));
    const args = seed % 2 ? ['heap', 'summary', file] : ['heap', 'retainers', file, '--class', 'Session'];
    const r = spawnSync(process.execPath, ['--conditions=tailtrace-source', bin, ...args], { encoding: 'utf8', timeout: 10_000 });
    assert.ok(r.status === 0 || r.status === 2, `seed ${seed}: exit ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
    assert.ok(r.stderr.trimEnd().split('\n').length <= 1, `seed ${seed}: one line at most: ${r.stderr}`);
    if (r.status === 2) assert.match(r.stderr, /^tailtrace: /);
  }
});
