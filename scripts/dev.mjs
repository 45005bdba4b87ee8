#!/usr/bin/env node
// The one entry point behind `npm run demo`, `npm test` and `npm run bench`.
// It must run on the machine's Node 20 with nothing installed: it bootstraps Node 24 and pnpm
// from the npm registry into ./.tools (never `npm -g`, which would collide with the system
// node), installs the workspace from the lockfile, builds, then re-runs the command on Node 24.
// Every step is skipped when its inputs have not changed, so the second run is fast.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const toolsDir = join(root, '.tools');
const binDir = join(toolsDir, 'node_modules', '.bin');
const versions = JSON.parse(readFileSync(join(root, 'scripts', 'tools.json'), 'utf8'));

// Setup (installing tools and dependencies) reports on stderr: stdout belongs to the command
// run, so `npm run bench -- overhead --json | jq` reads JSON only, on a fresh clone too.
const SETUP_STDIO = ['ignore', 2, 'inherit'];

function log(msg) {
  process.stderr.write(`[tailtrace] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env: toolEnv(), ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function must(cmd, args, opts) {
  const code = run(cmd, args, opts);
  if (code !== 0) {
    log(`failed (${code}): ${cmd} ${args.join(' ')}`);
    process.exit(code);
  }
}

function toolEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  env.PATH = `${binDir}:${join(root, 'node_modules', '.bin')}:${env.PATH ?? ''}`;
  // memlab pulls in puppeteer; no browser download is possible (registries only) or needed.
  env.PUPPETEER_SKIP_DOWNLOAD = '1';
  env.npm_config_update_notifier = 'false';
  return env;
}

function versionOf(bin) {
  const p = join(binDir, bin);
  if (!existsSync(p)) return null;
  const r = spawnSync(p, ['--version'], { encoding: 'utf8', env: toolEnv() });
  return r.status === 0 ? r.stdout.trim().replace(/^v/, '') : null;
}

// Node 22 (the oldest supported LTS) lives beside it so tests can load the built packages there.
function ensureNode22() {
  const dir = join(toolsDir, 'node22');
  const bin = join(dir, 'node_modules', '.bin', 'node');
  const have = existsSync(bin) ? spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout?.trim() : '';
  if (have === `v${versions.node22}`) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, dependencies: { node: versions.node22 } }, null, 2));
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'], {
    cwd: dir, stdio: SETUP_STDIO, env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (r.status !== 0) log('could not install Node 22 (tests that load the build on Node 22 will be skipped)');
}

function ensureTools() {
  ensureNode22();
  if (versionOf('node') === versions.node && versionOf('pnpm') === versions.pnpm) return;
  log(`installing Node ${versions.node} and pnpm ${versions.pnpm} into .tools/`);
  mkdirSync(toolsDir, { recursive: true });
  writeFileSync(
    join(toolsDir, 'package.json'),
    JSON.stringify({ private: true, dependencies: { node: versions.node, pnpm: versions.pnpm } }, null, 2),
  );
  // The system npm installs; the `node` package fetches the platform binary from the registry.
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'], {
    cwd: toolsDir,
    stdio: SETUP_STDIO,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (r.status !== 0 || versionOf('node') !== versions.node) {
    log('could not install Node 24 from the npm registry (package node@24)');
    process.exit(1);
  }
}

function workspaceManifests() {
  const files = ['package.json', 'pnpm-workspace.yaml', 'pnpm-lock.yaml', '.npmrc'];
  for (const dir of ['packages']) {
    for (const name of readdirSync(join(root, dir))) files.push(join(dir, name, 'package.json'));
  }
  for (const dir of ['examples', 'bench', 'test', 'dashboards']) files.push(join(dir, 'package.json'));
  return files.filter((f) => existsSync(join(root, f)));
}

function ensureInstall() {
  const h = createHash('sha256');
  h.update(versions.node + versions.pnpm);
  for (const f of workspaceManifests()) h.update(f).update(readFileSync(join(root, f)));
  const digest = h.digest('hex');
  const stamp = join(root, 'node_modules', '.tailtrace-install');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return;
  const frozen = existsSync(join(root, 'pnpm-lock.yaml')) ? ['--frozen-lockfile'] : [];
  log(`pnpm install ${frozen.join(' ')}`);
  must(join(binDir, 'pnpm'), ['install', ...frozen, '--reporter=append-only'], { stdio: SETUP_STDIO });
  writeFileSync(stamp, digest);
}

function build() {
  must(join(binDir, 'node'), [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'tsconfig.build.json']);
}

function node24(args, extraEnv = {}) {
  return run(join(binDir, 'node'), args, { env: toolEnv(devEnv(extraEnv)) });
}

// Workspace packages resolve to their TypeScript sources under this condition, so tests and
// the demo run what is in src/ (Node 24 strips types) while users get the built dist/.
function devEnv(extra) {
  const opts = (process.env.NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  if (!opts.includes('--conditions=tailtrace-source')) opts.push('--conditions=tailtrace-source');
  return { NODE_OPTIONS: opts.join(' '), TAILTRACE_ROOT: root, ...extra };
}

// The packages users install: every packages/* that is not private.
function publicPackages() {
  return readdirSync(join(root, 'packages'))
    .filter((name) => existsSync(join(root, 'packages', name, 'package.json')))
    .filter((name) => !JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')).private);
}

// tsc -b never deletes the output of a source that was removed or renamed; a tarball must not
// ship it.
function removeStaleOutputs(pkgDir) {
  const walk = (rel) => {
    const dir = join(pkgDir, 'dist', rel);
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = join(rel, entry.name);
      if (entry.isDirectory()) {
        walk(file);
        continue;
      }
      const m = /^(.*)\.(js|d\.ts)(\.map)?$/.exec(file);
      if (m && !existsSync(join(pkgDir, 'src', `${m[1]}.ts`))) rmSync(join(pkgDir, 'dist', file));
    }
  };
  walk('');
}

// `npm run pack [-- --out DIR]`: one tarball per public package, as it would be published.
// pnpm pack turns `workspace:*` into the packed version and applies publishConfig (exports
// without the tailtrace-source condition); `files` keeps only dist/ (JS and .d.ts), README, LICENSE.
function pack(args) {
  const i = args.indexOf('--out');
  // npm run starts scripts in the root; INIT_CWD is where the user typed the command.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const outDir = resolve(cwd, i >= 0 && args[i + 1] ? args[i + 1] : join(root, '.tailtrace', 'pack'));
  mkdirSync(outDir, { recursive: true });
  // Tarballs of an earlier version would be installed beside the new ones by `*.tgz`.
  for (const f of readdirSync(outDir)) if (/^tailtrace-.*\.tgz$/.test(f)) rmSync(join(outDir, f));
  const tarballs = [];
  for (const name of publicPackages()) {
    const pkgDir = join(root, 'packages', name);
    removeStaleOutputs(pkgDir);
    const r = spawnSync(join(binDir, 'pnpm'), ['pack', '--json', '--pack-destination', outDir], {
      cwd: pkgDir, env: toolEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) {
      log(`pnpm pack failed in packages/${name}`);
      process.exit(r.status ?? 1);
    }
    tarballs.push(JSON.parse(r.stdout).filename);
  }
  for (const t of tarballs) process.stdout.write(`${t}\n`);
  log(`${tarballs.length} tarballs in ${relative(cwd, outDir) || '.'}; in an app: npm install ${outDir}/*.tgz`);
}

function bootstrap() {
  ensureTools();
  ensureInstall();
  build();
}

const [command = 'help', ...rest] = process.argv.slice(2);
switch (command) {
  case 'bootstrap':
    bootstrap();
    break;
  case 'build':
    bootstrap();
    break;
  case 'test':
    bootstrap();
    process.exit(node24([join(root, 'scripts', 'test.ts'), ...rest]));
    break;
  case 'demo':
    bootstrap();
    process.exit(node24([join(root, 'examples', 'demo.ts'), ...rest]));
    break;
  case 'bench':
    bootstrap();
    process.exit(node24([join(root, 'bench', 'run.ts'), ...rest]));
    break;
  case 'tailtrace':
    bootstrap();
    process.exit(node24([join(root, 'packages', 'cli', 'bin', 'tailtrace.js'), ...rest]));
    break;
  case 'pack':
    bootstrap();
    pack(rest);
    break;
  case 'node':
    // `node scripts/dev.mjs node file.ts`: run anything on the bootstrapped Node 24.
    bootstrap();
    process.exit(node24(rest));
    break;
  default:
    log(`usage: node ${relative(process.cwd(), fileURLToPath(import.meta.url))} bootstrap|build|test|demo|bench|tailtrace|pack|node`);
    process.exit(command === 'help' ? 0 : 2);
}
