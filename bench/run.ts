// `npm run bench -- <name> [options]`: every benchmark prints its figures as ratios against a
// baseline measured in the same run; `--json` prints machine-readable results instead.
const benches: Record<string, () => Promise<{ main(argv: string[]): Promise<number> }>> = {
  overhead: () => import('./overhead.ts'),
  heap: () => import('./heap.ts'),
};

const [name, ...rest] = process.argv.slice(2);
const load = name ? benches[name] : undefined;
if (!load) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [--json]\n`);
  process.exit(name ? 2 : 0);
}
const mod = await load();
process.exitCode = await mod.main(rest);
