// `npm run demo -- --scenario leak`: the services find the leak on their own (a trigger, not a
// call), and diagnose, run on the baseline and the triggered bundle, names the leaking class and
// the regressed route. Runs the demo exactly as the README says, with its own evidence dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EvidenceManifest } from '@tailtrace/profiler';

const root = process.env.TAILTRACE_ROOT ?? join(import.meta.dirname, '..');

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('leak scenario: a trigger captures the evidence, diagnose names OrderSession and GET /api/orders/:id', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tailtrace-leak-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const evidence = join(dir, 'evidence');
  const r = await run([join(root, 'examples', 'demo.ts'), '--scenario', 'leak', '--evidence-dir', evidence, '--json', join(dir, 'report.json'), '--timeout', '150'], 300_000);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const out = r.stdout;

  // The gateway wrote its scheduled baseline, then a trigger bundle of its own after the leak began:
  // the one the demo names (a blip before the leak, if any, is printed apart and not diagnosed).
  const gateway = join(evidence, 'gateway');
  const manifests = readdirSync(gateway).filter((n) => !n.startsWith('.')).sort()
    .map((n) => ({ dir: join(gateway, n), m: JSON.parse(readFileSync(join(gateway, n, 'manifest.json'), 'utf8')) as EvidenceManifest }));
  const baseline = manifests.find((x) => x.m.trigger.kind === 'baseline');
  assert.ok(baseline, manifests.map((x) => x.m.trigger.kind).join(','));
  const named = /^  bundle complete [\d.]+ s after the leak started: (\S+) \(snapshot/m.exec(out);
  assert.ok(named, out);
  const triggered = manifests.find((x) => x.dir === named[1]);
  assert.ok(triggered, `${named[1]} not among ${manifests.map((x) => x.dir).join(', ')}`);
  assert.ok(triggered.m.trigger.kind === 'p99_regression' || triggered.m.trigger.kind === 'heap_growth', triggered.m.trigger.kind);
  assert.ok(Date.parse(triggered.m.createdAt) > Date.parse(baseline.m.createdAt));
  assert.equal(baseline.m.snapshot.status, 'written');
  assert.equal(triggered.m.snapshot.status, 'written', JSON.stringify(triggered.m.snapshot));
  const after = /^  ([\d.]+) s after the leak started: (\w+): /m.exec(out);
  assert.ok(after, out);
  assert.equal(after[2], triggered.m.trigger.kind);
  t.diagnostic(`caught ${after[1]} s after the leak started (${after[2]})`);
  // snapshots are private files
  const snap = join(triggered.dir, triggered.m.files.snapshot!);
  assert.equal(statSync(snap).mode & 0o777, 0o600);

  // The verdict printed by the demo names both the class and the route. Caught by its latency, the
  // route regressed; caught by heap growth first (often seconds earlier), the route is named as
  // the largest latency change, regressed or not yet.
  const verdict = out.slice(out.indexOf('Verdict'), out.indexOf('Suspects'));
  const p99Caught = triggered.m.trigger.kind === 'p99_regression';
  assert.match(verdict, p99Caught ? /GET \/api\/orders\/:id regressed: P99 [\d.]+ ms → [\d.]+ (ms|s)/
    : /GET \/api\/orders\/:id (regressed: )?P99 [\d.]+ ms → [\d.]+ (ms|s)/);
  assert.match(verdict, /led by OrderSession \(\+[\d,]+ objects/);
  const suspects = out.slice(out.indexOf('Suspects'), out.indexOf('Slow traces'));
  assert.match(suspects, /1\. OrderSession grew/);
  assert.match(out.slice(out.indexOf('Slow traces')), /[0-9a-f]{32}\s+GET \/api\/orders\/:id/);

  // The full report was written (text, JSON, HTML).
  const files = /report: (\S+\.txt), (\S+\.json), (\S+\.html)/.exec(out);
  assert.ok(files, out);
  for (const f of files.slice(1)) assert.ok(existsSync(f!), f);
  const json = JSON.parse(readFileSync(files[2]!, 'utf8')) as { verdict: string[]; regressed: number };
  if (p99Caught) assert.ok(json.regressed >= 1);
  for (const f of files.slice(1)) rmSync(f!, { force: true });
});
