// `npm run bench -- <name> [options]`: every benchmark prints its figures as ratios against a
// baseline measured in the same run; `--json` prints machine-readable results instead.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

type Bench = { main(argv: string[]): Promise<number> };

/** The metrics package keeps its benchmarks beside it (record cost, scrape time): run them as they are. */
const metricsBench: Bench = {
  async main() {
    for (const name of ['record.ts', 'scrape.ts']) {
      const file = fileURLToPath(new URL(`../packages/metrics/bench/${name}`, import.meta.url));
      const r = spawnSync(process.execPath, [file], { stdio: 'inherit' });
      if (r.status !== 0) return r.status ?? 1;
    }
    return 0;
  },
};

const benches: Record<string, () => Promise<Bench>> = {
  overhead: () => import('./overhead.ts'),
  heap: () => import('./heap.ts'),
  'heap-sampling': () => import('./heap-sampling.ts'),
  'snapshot-cost': () => import('./snapshot-cost.ts'),
  triggers: () => import('./triggers.ts'),
  metrics: async () => metricsBench,
};

const [name, ...rest] = process.argv.slice(2);
const load = name ? benches[name] : undefined;
if (!load) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [--json]\n`);
  process.exit(name ? 2 : 0);
}
const mod = await load();
process.exitCode = await mod.main(rest);
