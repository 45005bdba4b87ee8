// `tailtrace diagnose` through the real CLI entry (bin/tailtrace.js in a child process): exit
// codes, one-line errors for bad bundles, --json, --fail-on-regression, and the HTML report
// rendered in headless Chromium.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DiagnoseReport } from '../src/index.ts';
import { healthyOps, heapProfile, leakSnapshot, leakingOps, writeBundle } from './evidence-fixtures.ts';
import type { BundleSpec } from './evidence-fixtures.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'packages', 'cli', 'bin', 'tailtrace.js');
const dir = mkdtempSync(join(tmpdir(), 'tailtrace-diagnose-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--conditions=tailtrace-source', bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const T0 = Date.UTC(2025, 5, 3, 10, 0, 0);
const base = (extra: Partial<BundleSpec> = {}): BundleSpec => ({
  pid: 100, trigger: 'baseline', endMs: T0, seed: 1, ops: healthyOps(), runtime: { gcMsPerMin: 300, elP99Ms: 12, heapMB: [40] }, heapAfterGcMB: [40, 40, 41, 40], ...extra,
});
const cur = (extra: Partial<BundleSpec> = {}): BundleSpec => ({
  pid: 200, trigger: 'p99_regression', endMs: T0 + 86_400_000, seed: 2, ops: leakingOps(),
  runtime: { gcMsPerMin: 1020, elP99Ms: 31, heapMB: [80, 100, 120], baseGcMsPerMin: 400, baseElP99Ms: 14 }, heapAfterGcMB: [60, 80, 100, 120], ...extra,
});

let goodBase: string;
let goodCur: string;
let snapBase: string;
let snapCur: string;
before(() => {
  goodBase = writeBundle(dir, 'base', base({ profile: heapProfile(0.5) }));
  goodCur = writeBundle(dir, 'cur', cur({ profile: heapProfile(6) }));
  snapBase = writeBundle(dir, 'snap-base', base({ snapshot: leakSnapshot(dir, 'b', 20), profile: heapProfile(0.5) }));
  // an operation name with markup: the HTML must escape it
  const ops = [...leakingOps(), { kind: 'http_server' as const, operation: 'GET /search/<img src=x onerror=alert(1)>', dist: { medianMs: 9, sigma: 0.3 }, n: 80 }];
  snapCur = writeBundle(dir, 'snap-cur', cur({ ops, snapshot: leakSnapshot(dir, 'c', 4000), profile: heapProfile(6) }));
});

/** A copy of the good current bundle, changed by `edit`. */
function broken(name: string, edit: (d: string) => void): string {
  const d = join(dir, 'bad', name);
  mkdirSync(dirname(d), { recursive: true });
  cpSync(goodCur, d, { recursive: true });
  edit(d);
  return d;
}
const json = (d: string, f: string) => JSON.parse(readFileSync(join(d, f), 'utf8')) as Record<string, any>;
const put = (d: string, f: string, v: unknown) => writeFileSync(join(d, f), typeof v === 'string' ? v : JSON.stringify(v));

describe('tailtrace diagnose (CLI)', () => {
  test('text report: exit 0, the verdict first', () => {
    const r = cli('diagnose', goodBase, goodCur);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const verdictAt = r.stdout.indexOf('Verdict\n');
    assert.ok(verdictAt > 0 && verdictAt < r.stdout.indexOf('Latency per operation'));
    assert.match(r.stdout, /Verdict\n {2}GET \/orders\/:id regressed: P99 /);
    // paths relative to the service's root in text (whole in --json, below)
    assert.match(r.stdout, /led by allocation site LeakedSession session\.js:3 /);
    assert.match(r.stdout, /Slow traces/);
  });

  test('--json: the report object; --fail-on-regression: exit 1 only when something regressed', () => {
    const r = cli('diagnose', goodBase, goodCur, '--json', '--traces', '7');
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as DiagnoseReport;
    assert.equal(j.reportVersion, 1);
    assert.equal(j.regressed, 1);
    assert.equal(j.options.traces, 7);
    assert.equal(j.slowTraces.length, 7);
    assert.deepEqual(Object.keys(j).sort(), ['baseline', 'current', 'heap', 'operations', 'options', 'regressed', 'reportVersion', 'runtime', 'slowTraces', 'suspects', 'verdict']);
    const o = j.operations[0]!;
    assert.equal(o.operation, 'GET /orders/:id');
    assert.equal(o.status, 'regressed');
    assert.ok(o.judged!.pValue < 0.001);
    assert.equal(o.curve!.baseline.length, 81);
    assert.deepEqual(o.curve!.baseline[40]![0], 99, 'x = 2 is P99');
    assert.equal(j.baseline.bundles[0]!.dir, goodBase);
    assert.equal(j.heap.profile!.sites[0]!.site, 'LeakedSession /app/session.js:3', 'whole paths in --json');
    assert.equal(j.heap.profile!.serviceRoot, '/app');
    assert.ok(j.runtime.changes.some((c) => c.metric === 'GC pause time' && c.ratio !== null && Math.abs(c.ratio - 1020 / 300) < 1e-9));
    assert.equal(cli('diagnose', goodBase, goodCur, '--fail-on-regression').code, 1);
    // a second healthy process: nothing regressed, exit 0 even with the gate
    const healthy = writeBundle(dir, 'healthy', base({ pid: 300, seed: 77, endMs: T0 + 3_600_000 }));
    const g = cli('diagnose', goodBase, healthy, '--fail-on-regression', '--json');
    assert.equal(g.code, 0, g.stderr);
    assert.equal((JSON.parse(g.stdout) as DiagnoseReport).regressed, 0);
  });

  test('--help and usage errors', () => {
    const h = cli('diagnose', '--help');
    assert.equal(h.code, 0);
    assert.match(h.stdout, /usage: tailtrace diagnose BASELINE CURRENT/);
    assert.match(cli('--help').stdout, /diagnose/);
  });

  test('bad bundles and bad usage: exit 2 and one line naming the file', () => {
    const cases: Array<[string[], RegExp]> = [
      [[join(dir, 'missing'), goodCur], /missing: no such file or directory$/],
      [[(() => { const d = join(dir, 'bad', 'empty'); mkdirSync(d, { recursive: true }); return d; })(), goodCur], /empty: not an evidence bundle \(no manifest\.json\) and holds no bundles$/],
      [[goodBase, broken('notjson', (d) => put(d, 'manifest.json', '{"format": "tailtrace-evid'))], /notjson\/manifest\.json: not JSON/],
      [[goodBase, broken('format', (d) => put(d, 'manifest.json', { ...json(d, 'manifest.json'), format: 'something-else' }))], /format\/manifest\.json: not a tailtrace evidence manifest \(format "something-else", expected 'tailtrace-evidence'\)$/],
      [[goodBase, broken('version', (d) => put(d, 'manifest.json', { ...json(d, 'manifest.json'), version: 2 }))], /version\/manifest\.json: bundle version 2, this tailtrace reads 1$/],
      [[goodBase, broken('nohist', (d) => unlinkSync(join(d, 'histograms.json')))], /nohist\/histograms\.json: missing \(named in manifest\.json\)$/],
      [[goodBase, broken('escape', (d) => put(d, 'manifest.json', { ...json(d, 'manifest.json'), files: { ...json(d, 'manifest.json')['files'], histograms: '../base/histograms.json' } }))], /escape\/manifest\.json: files\.histograms must be a file name inside the bundle, got '\.\.\/base\/histograms\.json'$/],
      [[goodBase, broken('b64', (d) => { const h = json(d, 'histograms.json'); h['operations'][0].window.encoded = 'HIST%%not-base64'; put(d, 'histograms.json', h); })], /b64\/histograms\.json: operations\[0\] \(GET \/orders\/:id \(http_server\)\)\.window is a corrupt HDR histogram: not base64$/],
      [[goodBase, broken('nothdr', (d) => { const h = json(d, 'histograms.json'); h['operations'][1].baseline[2].encoded = Buffer.from('hello, histogram').toString('base64'); put(d, 'histograms.json', h); })], /nothdr\/histograms\.json: operations\[1\] \(POST \/orders \(http_server\)\)\.baseline\[2\] is a corrupt HDR histogram: not an HDR V2 compressed histogram/],
      [[goodBase, broken('count', (d) => { const h = json(d, 'histograms.json'); h['operations'][0].window.count += 1; put(d, 'histograms.json', h); })], /count\/histograms\.json: operations\[0\] .*\.window histogram holds 1200 values but count says 1201$/],
      [[goodBase, broken('dup', (d) => { const h = json(d, 'histograms.json'); h['operations'].push(h['operations'][0]); put(d, 'histograms.json', h); })], /dup\/histograms\.json: operations\[4\] \(GET \/orders\/:id \(http_server\)\) is listed twice$/],
      [[goodBase, broken('traceop', (d) => { const t = json(d, 'traces.json'); t['operations'][0].operation = 'GET /nowhere'; put(d, 'traces.json', t); })], /traceop\/traces\.json: operations\[0\] \(GET \/nowhere \(http_server\)\) has no entry in histograms\.json$/],
      [[goodBase, broken('runtime', (d) => { const r = json(d, 'runtime.json'); r['window'].gc.totalPauseMs = '1020'; put(d, 'runtime.json', r); })], /runtime\/runtime\.json: window\.gc\.totalPauseMs must be a non-negative number, got string$/],
      [[goodBase, broken('pprof', (d) => writeFileSync(join(d, 'heap.pb.gz'), readFileSync(join(d, 'heap.pb.gz')).subarray(0, 40)))], /pprof\/heap\.pb\.gz: corrupt pprof/],
      [[goodBase, broken('emptysnap', (d) => { writeFileSync(join(d, 'heap.heapsnapshot'), ''); put(d, 'manifest.json', { ...json(d, 'manifest.json'), files: { ...json(d, 'manifest.json')['files'], snapshot: 'heap.heapsnapshot' }, snapshot: { status: 'written' } }); })], /emptysnap\/heap\.heapsnapshot: empty file/],
      [[snapBase, (() => { const d = join(dir, 'bad', 'truncsnap'); cpSync(snapCur, d, { recursive: true }); writeFileSync(join(d, 'heap.heapsnapshot'), readFileSync(join(snapCur, 'heap.heapsnapshot')).subarray(0, 300_000)); return d; })()], /truncsnap\/heap\.heapsnapshot: truncated/],
      [[goodCur], /usage: tailtrace diagnose BASELINE CURRENT/],
      [[goodBase, goodCur, '--frobnicate'], /unknown option --frobnicate/],
      [[goodBase, goodCur, '--percentile', '95'], /percentile must be one of 50, 90, 99, 99\.9, got 95/],
      [[goodBase, goodCur, '--threshold', 'lots'], /--threshold needs a number, got 'lots'/],
      [[goodBase, goodCur, '--html', join(dir, 'no', 'such', 'dir', 'r.html')], /cannot write .*r\.html: ENOENT/],
    ];
    // a bad bundle inside a directory of bundles names the bundle's file
    const parent = join(dir, 'bad', 'parent');
    mkdirSync(parent, { recursive: true });
    cpSync(goodBase, join(parent, 'ok'), { recursive: true });
    cpSync(join(dir, 'bad', 'version'), join(parent, 'newer'), { recursive: true });
    cases.push([[parent, goodCur], /parent\/newer\/manifest\.json: bundle version 2, this tailtrace reads 1$/]);
    for (const [args, re] of cases) {
      const r = cli('diagnose', ...args);
      const label = args.map((a) => a.replace(dir, '')).join(' ');
      assert.equal(r.code, 2, `${label}: ${r.stderr}`);
      assert.equal(r.stdout, '', label);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.match(lines[0]!, /^tailtrace diagnose: /);
      assert.match(lines[0]!, re, label);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  test('--html: percentile curves and growth bars, rendered in headless Chromium', { timeout: 600_000 }, () => {
    execFileSync('sh', [join(root, 'scripts', 'ensure-chromium.sh')], { stdio: 'inherit' });
    const html = join(dir, 'report.html');
    const r = cli('diagnose', snapBase, snapCur, '--html', html, '--trace-url', 'http://127.0.0.1:16686/trace/{traceId}');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /led by LeakedSession/);
    const text = readFileSync(html, 'utf8');
    assert.doesNotMatch(text, /<(link|img)\b|src=["']http|@import/i, 'self-contained, markup in names escaped');
    assert.match(text, /GET \/search\/&#60;img src=x onerror=alert\(1\)&#62;/);
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
    const profile = () => ['--user-data-dir=' + mkdtempSync(join(dir, 'chrome-'))];
    const png = join(dir, 'report.png');
    execFileSync('chromium', [...flags, ...profile(), `--screenshot=${png}`, '--window-size=1280,1600', `file://${html}`], { stdio: 'ignore', timeout: 120_000 });
    assert.ok(statSync(png).size > 50_000, `screenshot is non-trivial: ${statSync(png).size} bytes`);
    const dom = execFileSync('chromium', [...flags, ...profile(), '--dump-dom', `file://${html}`], { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] });
    assert.doesNotMatch(dom, /<img\b/, 'the operation name did not become an element');
    const charts = dom.match(/<svg[^>]*class="percentile-curves"[^>]*role="img"/g) ?? [];
    assert.ok(charts.length >= 5, `percentile charts: ${charts.length}`);
    assert.match(dom, /aria-label="Latency by percentile: GET \/orders\/:id"/);
    // both sides' curves, each a polyline of 81 points
    const baseLines = [...dom.matchAll(/<polyline class="curve-baseline" points="([^"]+)"/g)];
    const curLines = [...dom.matchAll(/<polyline class="curve-current" points="([^"]+)"/g)];
    assert.ok(baseLines.length >= 4 && curLines.length >= 5, `${baseLines.length} / ${curLines.length}`);
    assert.equal(curLines[0]![1]!.trim().split(' ').length, 81);
    const classBars = dom.match(/<svg[^>]*class="growth-classes"[\s\S]*?<\/svg>/)?.[0] ?? '';
    assert.match(classBars, /LeakedSession @\d+:\d+/);
    assert.ok((classBars.match(/<rect class="bar"/g) ?? []).length >= 2, 'growth bars');
    assert.match(dom, /<svg[^>]*class="growth-sites"/);
    assert.match(dom, /<div class="verdict" id="verdict"><p>GET \/orders\/:id regressed/);
    assert.match(dom, /<a href="http:\/\/127\.0\.0\.1:16686\/trace\/[0-9a-f]{32}">/);
    assert.ok((dom.match(/<tr>/g)?.length ?? 0) > 20, 'tables rendered');
  });
});
