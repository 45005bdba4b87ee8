// `npm test` on Node 24: type-check everything, prepare the real external parts the
// integration tests use (Prometheus, the Collector), run node's test runner over every test
// file, and end with one plain `N passed, N failed` line that CI reads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.env.TAILTRACE_ROOT ?? process.cwd();
const outDir = join(root, '.tailtrace');
mkdirSync(outDir, { recursive: true });

function step(name: string, cmd: string, args: string[]): void {
  process.stderr.write(`[tailtrace] ${name}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    process.stderr.write(`[tailtrace] ${name} failed\n`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

const args = process.argv.slice(2);
const filters = args.filter((a) => !a.startsWith('-'));

if (!process.env.TAILTRACE_SKIP_TYPECHECK) {
  step('type-check', process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit']);
}
const setup = join(root, 'scripts', 'test-setup.ts');
if (existsSync(setup) && !process.env.TAILTRACE_SKIP_SETUP) step('external parts', process.execPath, [setup]);

const globs = filters.length > 0 ? filters : [
  'packages/*/test/**/*.test.ts',
  'examples/**/*.test.ts',
  'dashboards/test/**/*.test.ts',
  'test/**/*.test.ts',
];
const tap = join(outDir, 'test-results.tap');
const r = spawnSync(process.execPath, [
  '--test',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tap}`,
  '--test-timeout=600000',
  ...globs,
], { stdio: 'inherit', cwd: root });

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(tap)) {
  const text = readFileSync(tap, 'utf8');
  passed = Number(/^# pass (\d+)/m.exec(text)?.[1] ?? 0);
  failed = Number(/^# fail (\d+)/m.exec(text)?.[1] ?? 0) + Number(/^# cancelled (\d+)/m.exec(text)?.[1] ?? 0);
  skipped = Number(/^# skipped (\d+)/m.exec(text)?.[1] ?? 0);
}
if (r.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
