// `npm run bench -- heap-sampling [--json] [--rounds N] [--seconds S] [--heap-mb M]`
//
// What the continuous sampling heap profiler costs, and what one profile read costs, for our
// HeapSampler with each backend: 'inspector' (node:inspector) and 'datadog' (@datadog/pprof, an
// optional peer dependency; skipped if it does not load). Every configuration runs in a fresh process (heap-sampling-child.ts) with a
// ~M MB heap of mixed objects and an allocation-heavy loop; configurations alternate within each
// round and throughput is compared with the "off" run of the same round.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface Read { collectMs: number; encodeMs: number; gzipMs: number; bytes: number }
interface ChildResult { mode: string; intervalBytes: number; opsPerSec: number; heapUsedMb: number; reads: Read[] }

const child = fileURLToPath(new URL('./heap-sampling-child.ts', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function runChild(mode: string, interval: number, heapMb: number, seconds: number, collects: number): ChildResult | string {
  const r = spawnSync(process.execPath, ['--max-old-space-size=4096', child, mode, String(interval), String(heapMb), String(seconds), String(collects)], {
    encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 20,
  });
  if (r.status !== 0) return (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').slice(-3).join(' | ');
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '4' },
      'heap-mb': { type: 'string', default: '150' },
      collects: { type: 'string', default: '3' },
    },
  });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const heapMb = Number(values['heap-mb']);
  const collects = Number(values.collects);
  const log = (s: string) => process.stderr.write(`${s}\n`);

  const configs: [string, number][] = [['off', 0], ['inspector', 524288], ['inspector', 131072], ['datadog', 524288], ['datadog', 131072]];
  const key = ([m, i]: [string, number]) => (m === 'off' ? 'off' : `${m}@${i / 1024}KiB`);
  const runs: Record<string, ChildResult[]> = {};
  const skipped: Record<string, string> = {};
  for (let round = 0; round < rounds; round++) {
    const order = configs.map((_, i) => configs[(i + round) % configs.length]!);
    for (const c of order) {
      const k = key(c);
      if (skipped[k]) continue;
      const r = runChild(c[0], c[1] || 524288, heapMb, seconds, c[0] === 'off' ? 0 : collects);
      if (typeof r === 'string') {
        skipped[k] = r;
        log(`${k}: skipped (${r})`);
        continue;
      }
      (runs[k] ??= []).push(r);
      log(`round ${round + 1}/${rounds} ${k.padEnd(18)} ${(r.opsPerSec / 1000).toFixed(1)}k ops/s  heap ${r.heapUsedMb.toFixed(0)} MB  reads ${r.reads.map((x) => (x.collectMs + x.encodeMs + x.gzipMs).toFixed(1)).join('/')} ms`);
    }
  }

  const off = runs.off ?? [];
  const result: Record<string, unknown> = { meta: { rounds, seconds, heapMb, collects, node: process.version } };
  const rows: string[] = [];
  for (const c of configs) {
    const k = key(c);
    const rs = runs[k];
    if (!rs) continue;
    // Paired with the same round's "off" run.
    const ratios = rs.map((r, i) => r.opsPerSec / (off[i]?.opsPerSec ?? Number.NaN));
    const reads = rs.flatMap((r) => r.reads);
    const row = {
      opsPerSec: median(rs.map((r) => r.opsPerSec)),
      throughputRatio: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      heapUsedMb: median(rs.map((r) => r.heapUsedMb)),
      collectMs: median(reads.map((r) => r.collectMs)),
      encodeMs: median(reads.map((r) => r.encodeMs)),
      gzipMs: median(reads.map((r) => r.gzipMs)),
      profileBytes: median(reads.map((r) => r.bytes)),
    };
    result[k] = row;
    rows.push(
      `${k.padEnd(18)} ${(row.opsPerSec / 1000).toFixed(1).padStart(8)}k  ${row.throughputRatio.toFixed(3)}x (${row.ratioMin.toFixed(3)}..${row.ratioMax.toFixed(3)})  ${row.heapUsedMb.toFixed(0).padStart(5)}` +
      (k === 'off' ? '' : `  ${row.collectMs.toFixed(1).padStart(8)}  ${row.encodeMs.toFixed(1).padStart(7)}  ${row.gzipMs.toFixed(1).padStart(6)}  ${(row.profileBytes / 1024).toFixed(1).padStart(7)}`),
    );
  }
  result.skipped = skipped;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    process.stdout.write(`\nheap sampling (median of ${rounds} rounds, ${seconds} s loop, ~${heapMb} MB heap; ratio vs "off" of the same round)\n`);
    process.stdout.write('config               ops/s    throughput (spread)      heapMB  collectMs encodeMs gzipMs  pprofKB\n');
    for (const r of rows) process.stdout.write(`${r}\n`);
    for (const [k, why] of Object.entries(skipped)) process.stdout.write(`${k}: not measured (${why})\n`);
    process.stdout.write('collect = HeapSampler.profile(): inspector = getSamplingProfile incl. the full GC V8 forces + conversion; datadog = heap.v8Profile() (no GC) + conversion.\n');
  }
  return 0;
}
