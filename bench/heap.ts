// `npm run bench -- heap [--json] [--size normal|large|both] [--items N] [--skip-memlab] [--skip-diff]`:
// snapshot analysis speed and memory against memlab on the same file, both as child processes
// under /usr/bin/time -v, in one run. Sizes: normal, a ~500 MiB snapshot (975 k items, ~7.5 M
// nodes, ~22 M edges); large, a ~1.7 GB one (3.3 M items). Default: both. Then (normal size)
// `heap diff` of that snapshot and a 10% larger one, against the two summaries' sum.
// `--items N` replaces the sizes by one snapshot of N items (a smoke run).
// Targets (issue #12): >= 8x memlab on both, peak RSS <= 1.3x the file, the large one in <= 10 s.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

export const TARGETS = { speedup: 8, rssToFile: 1.3, largeWallS: 10 };
const SIZES: Record<string, number> = { normal: 975_000, large: 3_300_000 };
type Size = string;

interface Run {
  wallS: number;
  peakRssMb: number;
  code: number;
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Run {
  const useTime = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const r = useTime
    ? spawnSync('/usr/bin/time', ['-f', '__rss_kb=%M', cmd, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 28 })
    : spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 1 << 28 });
  const wallS = (performance.now() - t0) / 1000;
  const kb = Number(/__rss_kb=(\d+)/.exec(r.stderr ?? '')?.[1] ?? NaN);
  if (r.status !== 0) process.stderr.write(`${cmd} ${args.join(' ')} failed (${r.status}):\n${(r.stderr ?? '').slice(-2000)}\n`);
  return { wallS: Number(wallS.toFixed(2)), peakRssMb: Math.round(kb / 1024), code: r.status ?? 1 };
}

function generate(file: string, items: number): void {
  const gen = spawnSync(process.execPath, ['--max-old-space-size=16000', join(here, 'heap-gen.ts'), file, String(items)], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (gen.status !== 0) throw new Error('snapshot generation failed');
}

interface SizeResult {
  size: Size;
  fileMb: number;
  tailtrace: { wallS: number; peakRssMb: number };
  memlab: { wallS: number; peakRssMb: number; ok: boolean } | null;
  speedup: number | null;
  rssToFile: number;
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const sizeArg = argv.includes('--size') ? argv[argv.indexOf('--size') + 1] : 'both';
  const items = argv.includes('--items') ? Number(argv[argv.indexOf('--items') + 1]) : NaN;
  if (Number.isInteger(items) && items > 0) SIZES[`${items} items`] = items;
  const sizes: Size[] = Number.isInteger(items) && items > 0 ? [`${items} items`] : sizeArg === 'normal' || sizeArg === 'large' ? [sizeArg] : ['normal', 'large'];
  const skipMemlab = argv.includes('--skip-memlab');
  const skipDiff = argv.includes('--skip-diff');
  const dir = mkdtempSync(join(tmpdir(), 'tailtrace-bench-heap-'));
  const log = (m: string) => {
    if (!json) process.stderr.write(`${m}\n`);
  };
  // The built CLI (dist/), exactly what users run: no dev-time TypeScript stripping.
  const userEnv: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  const bin = join(root, 'packages', 'cli', 'bin', 'tailtrace.js');
  const results: SizeResult[] = [];
  let diff: { wallS: number; peakRssMb: number; summariesWallS: number; vsTwoSummaries: number } | null = null;
  let ok = true;
  try {
    for (const size of sizes) {
      const file = join(dir, `${size.replace(/\W+/g, '-')}.heapsnapshot`);
      log(`generating the ${size} heap snapshot (${SIZES[size]!.toLocaleString('en-US')} items)...`);
      generate(file, SIZES[size]!);
      const fileMb = Math.round(statSync(file).size / 1024 / 1024);
      log(`snapshot: ${fileMb} MiB; running tailtrace heap summary...`);
      const ours = timed(process.execPath, [bin, 'heap', 'summary', file, '--json'], userEnv);
      ok &&= ours.code === 0;
      let memlab: Run | null = null;
      if (!skipMemlab) {
        log('running memlab analyze object-size...');
        const memlabBin = join(here, 'node_modules', 'memlab', 'bin', 'memlab');
        memlab = timed(process.execPath, [memlabBin, 'analyze', 'object-size', '--snapshot', file], { ...process.env, NODE_OPTIONS: '--max-old-space-size=20000' });
      }
      results.push({
        size,
        fileMb,
        tailtrace: { wallS: ours.wallS, peakRssMb: ours.peakRssMb },
        memlab: memlab ? { wallS: memlab.wallS, peakRssMb: memlab.peakRssMb, ok: memlab.code === 0 } : null,
        speedup: memlab ? Number((memlab.wallS / ours.wallS).toFixed(2)) : null,
        rssToFile: Number((ours.peakRssMb / fileMb).toFixed(2)),
      });
      if (size === 'normal' && !skipDiff) {
        log('generating a second snapshot (10% more items) for diff...');
        const file2 = join(dir, 'normal2.heapsnapshot');
        generate(file2, Math.round(SIZES.normal! * 1.1));
        const second = timed(process.execPath, [bin, 'heap', 'summary', file2, '--json'], userEnv);
        log('running tailtrace heap diff...');
        const d = timed(process.execPath, [bin, 'heap', 'diff', file, file2, '--json'], userEnv);
        const summariesWallS = Number((ours.wallS + second.wallS).toFixed(2));
        diff = { wallS: d.wallS, peakRssMb: d.peakRssMb, summariesWallS, vsTwoSummaries: Number((d.wallS / summariesWallS).toFixed(2)) };
        rmSync(file2, { force: true });
      }
      rmSync(file, { force: true });
    }
    if (json) process.stdout.write(`${JSON.stringify({ results, diff, targets: TARGETS })}\n`);
    else process.stdout.write(render(results, diff));
    return ok ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function render(results: readonly SizeResult[], diff: { wallS: number; peakRssMb: number; summariesWallS: number; vsTwoSummaries: number } | null): string {
  const mark = (met: boolean) => (met ? 'met' : 'MISSED');
  let out = 'heap snapshot analysis: tailtrace heap summary vs memlab analyze object-size, same file, one run\n';
  out += `${'snapshot'.padEnd(12)}${'file'.padStart(10)}${'tailtrace'.padStart(11)}${'peak RSS'.padStart(10)}${'x file'.padStart(8)}${'memlab'.padStart(9)}${'peak RSS'.padStart(10)}${'speedup'.padStart(9)}\n`;
  for (const r of results) {
    out += `${r.size.padEnd(12)}${`${r.fileMb} MiB`.padStart(10)}${`${r.tailtrace.wallS.toFixed(2)} s`.padStart(11)}${`${r.tailtrace.peakRssMb} MiB`.padStart(10)}${`${r.rssToFile}x`.padStart(8)}`;
    out += r.memlab ? `${`${r.memlab.wallS.toFixed(1)} s`.padStart(9)}${`${r.memlab.peakRssMb} MiB`.padStart(10)}${`${r.speedup}x`.padStart(9)}\n` : '\n';
  }
  out += `targets: speedup >= ${TARGETS.speedup}x, peak RSS <= ${TARGETS.rssToFile}x the file, the large snapshot in <= ${TARGETS.largeWallS} s\n`;
  for (const r of results) {
    const parts = [`peak RSS ${mark(r.rssToFile <= TARGETS.rssToFile)}`];
    if (r.speedup !== null) parts.unshift(`speedup ${mark(r.speedup >= TARGETS.speedup)}`);
    if (r.size === 'large') parts.push(`${TARGETS.largeWallS} s ${mark(r.tailtrace.wallS <= TARGETS.largeWallS)}`);
    out += `  ${r.size}: ${parts.join(', ')}\n`;
  }
  if (diff) out += `tailtrace heap diff (normal vs 10% larger): ${diff.wallS.toFixed(2)} s, peak RSS ${diff.peakRssMb} MiB (${diff.vsTwoSummaries}x the two summaries, ${diff.summariesWallS} s)\n`;
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
