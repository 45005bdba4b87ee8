// Seeded mutations of real evidence bundles (written by @tailtrace/profiler's createProfiler
// from HDR latency windows, with its sampling heap profile, and a real snapshot cut small)
// through `tailtrace diagnose`,
// bounded in time: every case ends within a few seconds with a report or one EvidenceError
// line. A smaller set goes through the binary: exit 0 or 2, at most one line on stderr.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createProfiler } from '@tailtrace/profiler';
import type { EvidenceManifest, OperationRef } from '@tailtrace/profiler';
import { sessionsSnapshot, tmp as fixtureTmp, trimSnapshot } from '../../heap/test/fixtures.ts';
import { HdrLatencySource, lognormal, prng } from '../../profiler/test/latency-fixture.ts';
import { runFuzz } from '../../heap/test/fuzz-runner.ts';
import { mutate } from '../../heap/test/mutate.ts';

const BUDGET_MS = 20_000;
const CASE_MS = 5_000;
const WINDOW = 60_000;
const dir = mkdtempSync(join(tmpdir(), 'tailtrace-fuzz-bundle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ORDERS: OperationRef = { kind: 'http_server', operation: 'GET /orders/:id' };
const RPC: OperationRef = { kind: 'rpc_client', operation: 'orders.OrderService/Get' };
let base: string;
let cur: string;

/** Two bundles from one real profiler: a scheduled baseline, then a signal after latency grew. */
before(async () => {
  let now = Date.UTC(2025, 0, 1);
  const src = new HdrLatencySource();
  const evidenceDir = join(dir, 'evidence');
  const profiler = createProfiler({
    serviceName: 'orders',
    latency: src,
    heapSampling: {},
    evidence: { dir: evidenceDir, now: () => now, baselineEveryMs: false, heapGrowth: false, heapLimit: false, p99: false, snapshots: 'never' },
  });
  try {
    const rand = prng(7);
    const windows = async (n: number, medianS: number) => {
      for (let i = 0; i < n; i++) {
        src.nextWindow([
          { ref: ORDERS, count: 400 + Math.floor(rand() * 400), draw: lognormal(rand, medianS, 0.5) },
          { ref: RPC, count: 200, draw: lognormal(rand, 0.003, 0.4) },
        ]);
        now += WINDOW;
        await profiler.evaluate();
      }
    };
    await windows(6, 0.01);
    assert.equal((await profiler.capture('baseline', { snapshot: false })).status, 'written');
    await windows(3, 0.03);
    assert.equal((await profiler.capture('signal', { snapshot: false })).status, 'written');
  } finally {
    await profiler.stop();
  }
  const [a, b] = readdirSync(evidenceDir).sort();
  base = join(evidenceDir, a!);
  cur = join(evidenceDir, b!);
  // The snapshot the runtime would take of this process is ~10 MB: a real one cut to 2,500 nodes
  // stands in (same V8 layout), so diagnose runs the engine on every case.
  const snapshot = trimSnapshot(sessionsSnapshot('fuzz-bundle-real', 20), 'fuzz-bundle-seed', 2500);
  for (const bundle of [base, cur]) {
    cpSync(snapshot, join(bundle, 'heap.heapsnapshot'));
    const file = join(bundle, 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8')) as EvidenceManifest;
    m.files.snapshot = 'heap.heapsnapshot';
    m.snapshot = { status: 'written' };
    writeFileSync(file, JSON.stringify(m, null, 2));
  }
});
after(() => rmSync(fixtureTmp, { recursive: true, force: true }));

test('the real bundles: heap profile, histograms and runtime windows, and diagnose reads them', () => {
  for (const b of [base, cur]) for (const f of ['heap.pb.gz', 'histograms.json', 'heap.heapsnapshot']) assert.ok(readdirSync(b).includes(f), `${b}/${f}`);
  const bin = fileURLToPath(new URL('../bin/tailtrace.js', import.meta.url));
  const r = spawnSync(process.execPath, ['--conditions=tailtrace-source', bin, 'diagnose', base, cur], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /GET \/orders\/:id/);
  assert.match(r.stdout, /snapshot diff/);
});

test(`diagnose: mutations of real bundles for ${BUDGET_MS / 1000} s, each a report or one line`, { timeout: BUDGET_MS + 60_000 }, async (t) => {
  const work = join(dir, 'fuzz');
  mkdirSync(work);
  const r = await runFuzz(fileURLToPath(new URL('./fuzz-bundle-child.ts', import.meta.url)), [base, cur, '1', '100000', String(Date.now() + BUDGET_MS), work], CASE_MS);
  assert.equal(r.hung, null, `seed ${r.hung} did not end within ${CASE_MS} ms`);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.cases.filter((c) => c.outcome === 'FAIL').map((c) => `seed ${c.seed}: ${c.message}`), []);
  const ok = r.cases.filter((c) => c.outcome.startsWith('ok')).length;
  const refused = r.cases.filter((c) => c.outcome === 'refused').length;
  t.diagnostic(`${r.cases.length} cases: ${ok} reports, ${refused} refused`);
  assert.ok(r.cases.length >= 300, `${r.cases.length} cases in the budget`);
  assert.ok(ok > 20 && refused > 20, `both outcomes seen: ${ok} reports, ${refused} refused`);
});

test('the binary: mutated bundles end with exit 0 or 2 and at most one line', { timeout: 180_000 }, () => {
  const bin = fileURLToPath(new URL('../bin/tailtrace.js', import.meta.url));
  for (let seed = 900_000; seed < 900_016; seed++) {
    const work = join(dir, `cli-${seed}`);
    cpSync(base, join(work, 'base'), { recursive: true });
    cpSync(cur, join(work, 'cur'), { recursive: true });
    const side = seed % 2 ? 'base' : 'cur';
    const names = readdirSync(join(work, side)).sort();
    const target = join(work, side, names[seed % names.length]!);
    writeFileSync(target, mutate(readFileSync(target), seed));
    const r = spawnSync(process.execPath, ['--conditions=tailtrace-source', bin, 'diagnose', join(work, 'base'), join(work, 'cur')], { encoding: 'utf8', timeout: 10_000 });
    assert.ok(r.status === 0 || r.status === 2, `seed ${seed} (${target}): exit ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
    assert.ok(r.stderr.trimEnd().split('\n').length <= 1, `seed ${seed}: one line at most: ${r.stderr}`);
  }
});
