// Users get the built dist/, not our sources: every package must load from ESM and from
// CommonJS (require(esm), no top-level await) on Node 24 and on Node 22, the oldest LTS we
// support. The packages resolve through this workspace's node_modules, as they would for a user.
// They must also load on an older Node (the machine's system Node 20, when there is one), where
// instrument() then turns itself off: nothing may fail at import time there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { oldNode } from './support/install-packs.ts';

const root = process.env.TAILTRACE_ROOT ?? join(import.meta.dirname, '..');
const node22 = join(root, '.tools', 'node22', 'node_modules', '.bin', 'node');
const packages: [string, string][] = [
  ['@tailtrace/instrument', 'instrument'],
  ['@tailtrace/tracing', 'createTracing'],
  ['@tailtrace/metrics', 'createMetrics'],
  ['@tailtrace/profiler', 'createProfiler'],
  ['@tailtrace/heap', 'readHeapSnapshot'],
  ['@tailtrace/formats', 'decodePprof'],
  ['@tailtrace/cli', 'main'],
];

function run(nodeBin: string, args: string[]): { status: number | null; out: string } {
  // No tailtrace-source condition: resolve to dist/ exactly as a user's process would.
  const env = { ...process.env, NODE_OPTIONS: '' };
  const r = spawnSync(nodeBin, args, { cwd: import.meta.dirname, env, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const old = oldNode();
const runtimes: [string, string][] = [['Node 24', process.execPath], ['Node 22', node22]];
if (old) runtimes.push([`Node ${old.version} (older than supported)`, old.bin]);

for (const [label, nodeBin] of runtimes) {
  test(`${label}: every package loads from CommonJS (require) and ESM (import) with its public API`, () => {
    assert.ok(existsSync(nodeBin), `${label} is installed by the bootstrap (${nodeBin})`);
    for (const [pkg, fn] of packages) {
      const cjs = run(nodeBin, ['-e', `const m = require(${JSON.stringify(pkg)}); if (typeof m.${fn} !== 'function') { console.error(Object.keys(m)); process.exit(3); }`]);
      assert.equal(cjs.status, 0, `${label} require('${pkg}'): ${cjs.out}`);
      const esm = run(nodeBin, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pkg)}); if (typeof m.${fn} !== 'function') process.exit(3);`]);
      assert.equal(esm.status, 0, `${label} import('${pkg}'): ${esm.out}`);
    }
  });
}
