// `node bench/run.ts heap [--json] [--size normal|large] [--skip-memlab] [--skip-diff]`: snapshot analysis
// speed and memory against memlab on the same ~300 MB heap (about 8.5 M nodes, 24 M edges;
// `--size large`: ~1 GB heap). Both tools run as child processes under /usr/bin/time -v.
// Then `heap diff` of that snapshot and a 10% larger one, against the two summaries' sum.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

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

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const sizeArg = argv.includes('--size') ? argv[argv.indexOf('--size') + 1] : 'normal';
  const items = sizeArg === 'large' ? 3_300_000 : 975_000;
  const skipMemlab = argv.includes('--skip-memlab');
  const skipDiff = argv.includes('--skip-diff');
  const dir = mkdtempSync(join(tmpdir(), 'tailtrace-bench-heap-'));
  const file = join(dir, 'bench.heapsnapshot');
  const log = (m: string) => {
    if (!json) process.stderr.write(`${m}\n`);
  };
  try {
    log(`generating a ${sizeArg} heap snapshot (${items.toLocaleString('en-US')} items)...`);
    const gen = spawnSync(process.execPath, ['--max-old-space-size=16000', join(here, 'heap-gen.ts'), file, String(items)], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (gen.status !== 0) throw new Error('snapshot generation failed');
    const fileMb = Math.round(statSync(file).size / 1024 / 1024);
    log(`snapshot: ${fileMb} MiB; running tailtrace heap summary...`);
    // The built CLI (dist/), exactly what users run: no dev-time TypeScript stripping.
    const userEnv: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
    const bin = join(root, 'packages', 'cli', 'bin', 'tailtrace.js');
    const ours = timed(process.execPath, [bin, 'heap', 'summary', file, '--json'], userEnv);
    let memlab: Run | null = null;
    if (!skipMemlab) {
      log('running memlab analyze object-size...');
      const memlabBin = join(here, 'node_modules', 'memlab', 'bin', 'memlab');
      memlab = timed(process.execPath, [memlabBin, 'analyze', 'object-size', '--snapshot', file], {
        ...process.env,
        NODE_OPTIONS: '--max-old-space-size=20000',
      });
    }
    let diff: { wallS: number; peakRssMb: number; summariesWallS: number; vsTwoSummaries: number } | null = null;
    if (!skipDiff) {
      log('generating a second snapshot (10% more items) for diff...');
      const file2 = join(dir, 'bench2.heapsnapshot');
      const gen2 = spawnSync(process.execPath, ['--max-old-space-size=16000', join(here, 'heap-gen.ts'), file2, String(Math.round(items * 1.1))], { stdio: ['ignore', 'ignore', 'inherit'] });
      if (gen2.status !== 0) throw new Error('snapshot generation failed');
      const second = timed(process.execPath, [bin, 'heap', 'summary', file2, '--json'], userEnv);
      log('running tailtrace heap diff...');
      const d = timed(process.execPath, [bin, 'heap', 'diff', file, file2, '--json'], userEnv);
      const summariesWallS = Number((ours.wallS + second.wallS).toFixed(2));
      diff = { wallS: d.wallS, peakRssMb: d.peakRssMb, summariesWallS, vsTwoSummaries: Number((d.wallS / summariesWallS).toFixed(2)) };
      rmSync(file2, { force: true });
    }
    const result = {
      fileMb,
      size: sizeArg,
      diff,
      tailtrace: { wallS: ours.wallS, peakRssMb: ours.peakRssMb },
      memlab: memlab ? { wallS: memlab.wallS, peakRssMb: memlab.peakRssMb, ok: memlab.code === 0 } : null,
      speedup: memlab ? Number((memlab.wallS / ours.wallS).toFixed(2)) : null,
      rssToFile: Number((ours.peakRssMb / fileMb).toFixed(2)),
      targets: { speedup: 5, rssToFile: 1.5 },
    };
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(
        `heap snapshot analysis, ${fileMb} MiB snapshot\n` +
          `  tailtrace heap summary  ${ours.wallS.toFixed(2)} s  peak RSS ${ours.peakRssMb} MiB (${result.rssToFile}x file; target <= 1.5x)\n` +
          (memlab ? `  memlab object-size      ${memlab.wallS.toFixed(2)} s  peak RSS ${memlab.peakRssMb} MiB\n  speedup ${result.speedup}x (target >= 5x)\n` : '') +
          (diff ? `  tailtrace heap diff     ${diff.wallS.toFixed(2)} s  peak RSS ${diff.peakRssMb} MiB (${diff.vsTwoSummaries}x the two summaries, ${diff.summariesWallS} s)\n` : ''),
      );
    }
    return ours.code === 0 ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
