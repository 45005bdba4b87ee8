import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { closureLeakSnapshot, closureLeakSnapshots, leakSnapshots, sessionsSnapshot, tmp as fixtureTmp } from '../../heap/test/fixtures.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'packages', 'cli', 'bin', 'tailtrace.js');
const dir = mkdtempSync(join(tmpdir(), 'tailtrace-cli-'));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--conditions=tailtrace-source', bin, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let a: string;
let b: string;
before(() => {
  a = sessionsSnapshot('cli-a', 50);
  b = sessionsSnapshot('cli-b', 250);
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(fixtureTmp, { recursive: true, force: true });
});

describe('tailtrace heap', () => {
  test('--help and --version still work', () => {
    assert.equal(cli('--help').code, 0);
    assert.match(cli('--version').stdout, /^\d+\.\d+\.\d+/);
    assert.match(cli('heap', '--help').stdout, /summary FILE/);
  });

  test('summary: table and --json', () => {
    const t = cli('heap', 'summary', a, '--top', '5');
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /Class\s+Count\s+Self\s+Retained/);
    assert.match(t.stdout, /Largest retainers/);
    const j = cli('heap', 'summary', a, '--json', '--top', '500');
    const s = JSON.parse(j.stdout) as { totals: { nodes: number }; classes: Array<{ name: string; count: number }> };
    assert.ok(s.totals.nodes > 0);
    assert.equal(s.classes.find((c) => c.name === 'Session')?.count, 50);
  });

  test('diff: Session +200', () => {
    const j = JSON.parse(cli('heap', 'diff', a, b, '--json', '--top', '1000').stdout) as { classes: Array<{ name: string; count: { delta: number } }> };
    assert.equal(j.classes.find((c) => c.name === 'Session')?.count.delta, 200);
    const t = cli('heap', 'diff', a, b);
    assert.match(t.stdout, /ΔCount\s+ΔSelf\s+ΔRetained/);
  });

  test('diff and leaks of a leak through a closure lead with what multiplied, holders apart', () => {
    const d = cli('heap', 'diff', closureLeakSnapshot('cli-closure-a', 100), closureLeakSnapshot('cli-closure-b', 2000));
    assert.equal(d.code, 0, d.stderr);
    const lines = d.stdout.split('\n');
    const head = lines.findIndex((l) => l.startsWith('What multiplied'));
    assert.match(lines[head + 3]!, /^OrderSession @\d+:\d+ +\+1,900 .* Array \(2,000\)$/, 'the first row is the class that multiplied, held by the Array');
    const holders = lines.slice(lines.findIndex((l) => l.startsWith('Holders')));
    assert.match(holders.join('\n'), /system \/ Context .* Array\n/);
    const l = cli('heap', 'leaks', ...closureLeakSnapshots());
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /What multiplied: leak roots by class\nClass +Count +Retained +Held by\n-+.*\nOrderSession @\d+:\d+ +500 /);
    assert.match(l.stdout, /Array @\d+ +OrderSession @\d+:\d+ ×500 .* \(GC roots\) -> global \.track -> .*->sessions -> Array/);
  });

  test('retainers and leaks', () => {
    const r = cli('heap', 'retainers', a, '--class', 'Session', '--paths', '2');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /50 instances/);
    assert.match(r.stdout, /\(GC roots\) -> global \.cache -> Map/);
    const [x, y, z] = leakSnapshots();
    const l = cli('heap', 'leaks', x, y, z);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /#1 .* 40 leak roots \(LeakyThing/);
    assert.match(l.stdout, /What multiplied: leak roots by class[\s\S]*LeakyThing @\d+:\d+ +40 /);
    assert.match(l.stdout, /global \.leakBox -> Array/);
  });

  test('redact output loads and gives the same class table (--keep-names)', () => {
    const out = join(dir, 'red.heapsnapshot');
    const r = cli('heap', 'redact', a, out, '--keep-names');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /string values replaced, names kept/);
    const before = JSON.parse(cli('heap', 'summary', a, '--json', '--top', '100000').stdout) as { classes: unknown[] };
    const after = JSON.parse(cli('heap', 'summary', out, '--json', '--top', '100000').stdout) as { classes: unknown[] };
    assert.deepEqual(after.classes, before.classes);
  });

  test('bad input: exit 2 and one line on stderr', () => {
    const empty = join(dir, 'empty.heapsnapshot');
    writeFileSync(empty, '');
    const trunc = join(dir, 'trunc.heapsnapshot');
    writeFileSync(trunc, readFileSync(a).subarray(0, 200_000));
    const notSnap = join(dir, 'package.json');
    writeFileSync(notSnap, JSON.stringify({ name: 'x', version: '1.0.0' }));
    const fields = join(dir, 'fields.heapsnapshot');
    writeFileSync(fields, JSON.stringify({ snapshot: { meta: { node_fields: ['t', 'n'], node_types: [[]], edge_fields: [], edge_types: [[]] } }, nodes: [], edges: [], strings: [] }));
    const cases: Array<[string[], RegExp]> = [
      [['heap', 'summary', empty], /empty\.heapsnapshot: empty file/],
      [['heap', 'summary', trunc], /trunc\.heapsnapshot: truncated/],
      [['heap', 'summary', notSnap], /package\.json: not a V8 heap snapshot/],
      [['heap', 'summary', fields], /fields\.heapsnapshot: unsupported node_fields/],
      [['heap', 'summary', join(dir, 'missing.heapsnapshot')], /missing\.heapsnapshot: no such file/],
      [['heap', 'diff', a, empty], /empty\.heapsnapshot: empty file/],
      [['heap', 'retainers', a, '--id', '999999999'], /no node with id/],
      [['heap', 'summary'], /usage: tailtrace heap summary/],
      [['heap', 'frobnicate'], /unknown heap command/],
    ];
    for (const [args, re] of cases) {
      const r = cli(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  test('--html report renders in headless Chromium', { timeout: 600_000 }, () => {
    execFileSync('sh', [join(root, 'scripts', 'ensure-chromium.sh')], { stdio: 'inherit' });
    const sum = join(dir, 'summary.html');
    const diff = join(dir, 'diff.html');
    assert.equal(cli('heap', 'summary', a, '--html', sum).code, 0);
    assert.equal(cli('heap', 'diff', a, b, '--html', diff).code, 0);
    for (const html of [sum, diff]) {
      const text = readFileSync(html, 'utf8');
      assert.doesNotMatch(text, /<(link|img)\b|src=["']http|@import/i, 'self-contained');
      const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
      const png = join(dir, `${html.endsWith('summary.html') ? 'summary' : 'diff'}.png`);
      const profile = () => ['--user-data-dir=' + mkdtempSync(join(dir, 'chrome-'))];
      execFileSync('chromium', [...flags, ...profile(), `--screenshot=${png}`, '--window-size=1280,900', `file://${html}`], { stdio: 'ignore', timeout: 120_000 });
      assert.ok(statSync(png).size > 20_000, 'screenshot is non-trivial');
      const dom = execFileSync('chromium', [...flags, ...profile(), '--dump-dom', `file://${html}`], { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] });
      const rows = dom.match(/<tr>/g)?.length ?? 0;
      assert.ok(rows > 10, `table rows in the DOM: ${rows}`);
      assert.match(dom, /<svg[^>]*role="img"/);
      assert.match(dom, /Session/);
    }
  });
});
