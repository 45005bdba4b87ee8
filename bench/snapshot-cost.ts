// `npm run bench -- snapshot-cost [--json] [--sizes 25,50,100,200,400] [--mixes mixed,objects,strings]`:
// what one v8.writeHeapSnapshot() costs, to calibrate the snapshot guard
// (packages/profiler/src/guard.ts). Each point is a fresh child process on this Node that builds a
// heap of the given size and mix, then snapshots it (bench/snapshot-cost-child.ts). Fits
// peak RSS growth, pause and file size as linear functions of heap used (least squares) and
// prints the worst under-estimate of each fit: the guard adds a margin above that.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface CostPoint {
  mix: string;
  targetMb: number;
  usedHeapBytes: number;
  totalHeapBytes: number;
  externalBytes: number;
  largeObjectBytes: number;
  rssBeforeBytes: number;
  peakRssBytes: number;
  peakGrowthBytes: number;
  hwmReset: boolean;
  pauseMs: number;
  fileBytes: number;
}

export interface LinearFit {
  slope: number;
  intercept: number;
  /** Largest (actual - predicted) / actual over the points: how far the fit under-estimates. */
  maxUnderRel: number;
  /** Largest |actual - predicted| / actual. */
  maxAbsRel: number;
}

/** Ordinary least squares y = slope * x + intercept, with the relative errors over the same points. */
export function fitLinear(xs: number[], ys: number[]): LinearFit {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const intercept = my - slope * mx;
  let maxUnderRel = 0;
  let maxAbsRel = 0;
  for (let i = 0; i < n; i++) {
    const rel = (ys[i]! - (slope * xs[i]! + intercept)) / ys[i]!;
    maxUnderRel = Math.max(maxUnderRel, rel);
    maxAbsRel = Math.max(maxAbsRel, Math.abs(rel));
  }
  return { slope, intercept, maxUnderRel, maxAbsRel };
}

const argValue = (argv: string[], name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const sizes = (argValue(argv, '--sizes') ?? '25,50,100,200,400').split(',').map(Number).filter((n) => n > 0);
  const mixes = (argValue(argv, '--mixes') ?? 'mixed,objects,strings').split(',');
  const dir = mkdtempSync(join(tmpdir(), 'tailtrace-bench-snapshot-'));
  const points: CostPoint[] = [];
  const log = (m: string) => {
    if (!json) process.stderr.write(`${m}\n`);
  };
  try {
    for (const mix of mixes) {
      for (const mb of sizes) {
        log(`${mix} ${mb} MiB...`);
        const out = join(dir, `${mix}-${mb}.heapsnapshot`);
        const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', join(here, 'snapshot-cost-child.ts'), mix, String(mb), out], {
          encoding: 'utf8',
          timeout: 600_000,
          env: { ...process.env, NODE_OPTIONS: '' },
        });
        rmSync(out, { force: true });
        if (r.status !== 0) {
          process.stderr.write(`child failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}\n`);
          return 1;
        }
        points.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as CostPoint);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const used = points.map((p) => p.usedHeapBytes);
  const fits = {
    peakGrowth: fitLinear(used, points.map((p) => p.peakGrowthBytes)),
    pauseMs: fitLinear(used.map((u) => u / 2 ** 20), points.map((p) => p.pauseMs)),
    file: fitLinear(used, points.map((p) => p.fileBytes)),
  };
  // Ratios per point: what a proportional (no intercept) model would need to cover every point.
  const ratios = {
    peakGrowthPerUsed: Math.max(...points.map((p) => p.peakGrowthBytes / p.usedHeapBytes)),
    pauseMsPerUsedMb: Math.max(...points.map((p) => p.pauseMs / (p.usedHeapBytes / 2 ** 20))),
    filePerUsed: Math.max(...points.map((p) => p.fileBytes / p.usedHeapBytes)),
  };
  const result = { node: process.version, points, fits, maxRatios: ratios };
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  }
  const mb = (b: number) => (b / 2 ** 20).toFixed(0).padStart(6);
  let s = `v8.writeHeapSnapshot() cost on Node ${process.version}\n`;
  s += '  mix      target  used MiB  rss before  peak growth  growth/used  pause ms  ms/MiB  file MiB  file/used\n';
  for (const p of points) {
    s += `  ${p.mix.padEnd(8)} ${String(p.targetMb).padStart(6)}  ${mb(p.usedHeapBytes)}    ${mb(p.rssBeforeBytes)}      ${mb(p.peakGrowthBytes)}` +
      `       ${(p.peakGrowthBytes / p.usedHeapBytes).toFixed(2).padStart(5)}   ${String(p.pauseMs).padStart(7)}  ${(p.pauseMs / (p.usedHeapBytes / 2 ** 20)).toFixed(1).padStart(6)}` +
      `    ${mb(p.fileBytes)}      ${(p.fileBytes / p.usedHeapBytes).toFixed(2)}${p.hwmReset ? '' : '  (VmHWM not reset: peak since start)'}\n`;
  }
  const f = (name: string, fit: LinearFit, x: string, unit: string) =>
    `  ${name.padEnd(12)} = ${fit.slope.toFixed(4)} * ${x} + ${fit.intercept.toFixed(0)} ${unit}  (worst under-estimate ${(fit.maxUnderRel * 100).toFixed(1)}%, worst |error| ${(fit.maxAbsRel * 100).toFixed(1)}%)\n`;
  s += 'least-squares fits over all points:\n';
  s += f('peak growth', fits.peakGrowth, 'used bytes', 'bytes');
  s += f('pause', fits.pauseMs, 'used MiB', 'ms');
  s += f('file', fits.file, 'used bytes', 'bytes');
  s += `largest per-point ratios: growth/used ${ratios.peakGrowthPerUsed.toFixed(2)}, pause ${ratios.pauseMsPerUsedMb.toFixed(1)} ms/MiB, file/used ${ratios.filePerUsed.toFixed(2)}\n`;
  s += 'compare: issue #4 measured 300 MB heap -> 23 s pause, 2.5 GB peak RSS; 1 GB -> 87 s, 8.5 GB.\n';
  process.stdout.write(s);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
