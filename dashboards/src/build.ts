// Generates every bundled dashboard as Grafana JSON.
//   node --conditions=tailtrace-source dashboards/src/build.ts            -> dashboards/*.json
//   node --conditions=tailtrace-source dashboards/src/build.ts --out DIR  -> DIR/*.json
// The JSON is committed; test/dashboards-generated.test.ts regenerates it into a temp dir and
// fails on any difference, so edit the TypeScript and rerun this script.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dashboards } from './index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = resolve(values.out ?? join(here, '..'));
mkdirSync(out, { recursive: true });
for (const [file, make] of Object.entries(dashboards)) {
  writeFileSync(join(out, file), `${JSON.stringify(make(), null, 2)}\n`);
  process.stdout.write(`${join(out, file)}\n`);
}
