// Generates every bundled dashboard as Grafana JSON, and the Prometheus rule file.
//   node --conditions=tailtrace-source dashboards/src/build.ts            -> dashboards/*.json, dashboards/rules/*.yml
//   node --conditions=tailtrace-source dashboards/src/build.ts --out DIR  -> DIR/*.json, DIR/rules/*.yml
// Both are committed; test/dashboards-generated.test.ts regenerates them into a temp dir and
// fails on any difference, so edit the TypeScript and rerun this script.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dashboards } from './index.ts';
import { ruleFiles } from './rules.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = resolve(values.out ?? join(here, '..'));
mkdirSync(out, { recursive: true });
for (const [file, make] of Object.entries(dashboards)) {
  writeFileSync(join(out, file), `${JSON.stringify(make(), null, 2)}\n`);
  process.stdout.write(`${join(out, file)}\n`);
}
for (const [file, make] of Object.entries(ruleFiles)) {
  mkdirSync(dirname(join(out, file)), { recursive: true });
  writeFileSync(join(out, file), make());
  process.stdout.write(`${join(out, file)}\n`);
}
