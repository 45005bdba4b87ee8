// The hostile inputs through the real `tailtrace` binary: every heap command and
// `diagnose` ends in seconds with exit 2 and one line naming the file, and what we inflate is
// capped (an HDR window or a heap profile that is a decompression bomb costs no more memory
// than a normal run). Peak memory is the child's own maxRSS, read by a wrapper around main().
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createDeflate, createGzip } from 'node:zlib';
import { tinySnapshot } from '../../heap/test/fixtures.ts';
import type { TinyParts } from '../../heap/test/fixtures.ts';
import { healthyOps, heapProfile, leakingOps, writeBundle } from './evidence-fixtures.ts';
import type { BundleSpec } from './evidence-fixtures.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'packages', 'cli', 'bin', 'tailtrace.js');
const dir = mkdtempSync(join(tmpdir(), 'tailtrace-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  maxRssMiB: number;
}

/** The CLI's main() in a child (what bin/tailtrace.js runs), reporting its peak RSS in a file. */
function cli(...args: string[]): Run {
  const rssFile = join(dir, `rss-${process.hrtime.bigint()}`);
  const script = `const { main } = await import(${JSON.stringify(pathToFileURL(join(root, 'packages', 'cli', 'src', 'index.ts')).href)});
process.exitCode = await main(${JSON.stringify(args)});
(await import('node:fs')).writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS));`;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--conditions=tailtrace-source', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  const ms = performance.now() - t0;
  let maxRssMiB = NaN;
  try {
    maxRssMiB = Number(readFileSync(rssFile, 'utf8')) / 1024;
  } catch {
    // killed by the timeout: no figure
  }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms, maxRssMiB };
}

function assertRefused(r: Run, file: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: exit 2 (got ${r.code}, ${Math.round(r.ms)} ms): ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: one line: ${r.stderr}`);
  assert.match(lines[0]!, file, `${what}: names the file`);
  assert.ok(r.ms < 20_000, `${what}: ended in ${Math.round(r.ms)} ms`);
}

const NF = 6;
const snapshots: Array<[string, (p: TinyParts) => void]> = [
  ['negative-edge-count', (p) => {
    p.nodes[0 * NF + 4] = -1;
    p.nodes[1 * NF + 4] = 4;
  }],
  ['node-count-1e12', (p) => (p.snapshot['node_count'] = 1e12)],
  ['root-index-out-of-range', (p) => (p.snapshot['root_index'] = 30)],
  ['node-type-256', (p) => (p.nodes[1 * NF] = 256)],
];

const T0 = Date.UTC(2025, 5, 3, 10, 0, 0);
const base = (extra: Partial<BundleSpec> = {}): BundleSpec => ({
  pid: 100, trigger: 'baseline', endMs: T0, seed: 1, ops: healthyOps(0.3), runtime: { gcMsPerMin: 300, elP99Ms: 12, heapMB: [40] }, heapAfterGcMB: [40, 41], ...extra,
});
const cur = (extra: Partial<BundleSpec> = {}): BundleSpec => ({
  pid: 200, trigger: 'p99_regression', endMs: T0 + 86_400_000, seed: 2, ops: leakingOps(0.3),
  runtime: { gcMsPerMin: 1020, elP99Ms: 31, heapMB: [80, 100] }, heapAfterGcMB: [60, 80], ...extra,
});

/** A stream of `mib` MiB of zeros through a zlib compressor: ~1000:1, built without holding the input. */
async function bomb(make: typeof createDeflate | typeof createGzip, mib: number): Promise<Buffer> {
  const z = make({ level: 9 });
  const out: Buffer[] = [];
  z.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((res) => z.on('end', res));
  const zeros = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < mib / 16; i++) if (!z.write(zeros)) await new Promise((res) => z.once('drain', res));
  z.end();
  await done;
  return Buffer.concat(out);
}

let good: string;
let goodBase: string;
before(() => {
  good = tinySnapshot('good');
  goodBase = writeBundle(dir, 'base', base({ snapshot: good }));
});

describe('hostile snapshots through every command', () => {
  for (const [name, change] of snapshots) {
    test(`${name}: heap summary, diff, leaks, retainers, redact and diagnose each exit 2 with one line`, () => {
      const bad = tinySnapshot(name, change);
      const re = new RegExp(`^tailtrace( diagnose)?: .*${name}\\.heapsnapshot: `);
      assertRefused(cli('heap', 'summary', bad), re, 'summary');
      assertRefused(cli('heap', 'diff', good, bad), re, 'diff');
      assertRefused(cli('heap', 'leaks', good, good, bad), re, 'leaks');
      assertRefused(cli('heap', 'retainers', bad, '--class', 'Session'), re, 'retainers');
      assertRefused(cli('heap', 'redact', bad, join(dir, `${name}.out`)), re, 'redact');
      const current = writeBundle(dir, `cur-${name}`, cur({ snapshot: bad }));
      assertRefused(cli('diagnose', goodBase, current), new RegExp(`^tailtrace diagnose: .*cur-${name}/heap\\.heapsnapshot: `), 'diagnose');
    });
  }
});

describe('every inflate is capped', () => {
  test('an HDR window that inflates to 1 GiB: exit 2, one line, no more memory than a normal run', async () => {
    const deflated = await bomb(createDeflate, 1024);
    const head = Buffer.alloc(8);
    head.writeInt32BE(0x1c849314, 0); // V2 compressed cookie
    head.writeInt32BE(deflated.length, 4);
    const encoded = Buffer.concat([head, deflated]).toString('base64');
    const current = writeBundle(dir, 'cur-hdr-bomb', cur());
    const file = join(current, 'histograms.json');
    const h = JSON.parse(readFileSync(file, 'utf8')) as { operations: Array<{ window: { encoded: string; count: number } }> };
    h.operations[0]!.window = { ...h.operations[0]!.window, encoded, count: 5 };
    writeFileSync(file, JSON.stringify(h));
    const normal = cli('diagnose', goodBase, writeBundle(dir, 'cur-normal', cur()));
    assert.equal(normal.code, 0, normal.stderr);
    const r = cli('diagnose', goodBase, current);
    assertRefused(r, /histograms\.json: operations\[0\] .*\.window is a corrupt HDR histogram: inflates to more than 32 MiB/, 'diagnose');
    assert.ok(r.maxRssMiB < normal.maxRssMiB + 64, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB vs ${normal.maxRssMiB.toFixed(0)} MiB for a normal run`);
  });

  test('a heap.pb.gz that inflates to 1 GiB: exit 2, one line, no more memory than a normal run', async () => {
    const current = writeBundle(dir, 'cur-pprof-bomb', cur({ profile: heapProfile(6) }));
    writeFileSync(join(current, 'heap.pb.gz'), await bomb(createGzip, 1024));
    const normal = cli('diagnose', goodBase, writeBundle(dir, 'cur-normal-profile', cur({ profile: heapProfile(6) })));
    assert.equal(normal.code, 0, normal.stderr);
    const r = cli('diagnose', goodBase, current);
    assertRefused(r, /heap\.pb\.gz: corrupt pprof \(pprof: gzip payload decompresses to more than 67108864 bytes\)/, 'diagnose');
    assert.ok(r.maxRssMiB < normal.maxRssMiB + 96, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB vs ${normal.maxRssMiB.toFixed(0)} MiB for a normal run`);
  });
});
