// Installs the @tailtrace packages the way a user would: `pnpm pack` per public package (what
// `npm run pack` does), then `npm install <tarballs> <the app's own dependencies>` in a temp dir
// outside this repository, from the npm registry through npm's cache. Nothing of the workspace
// leaks in: no NODE_OPTIONS (tailtrace-source), no npm_* variables of the surrounding `npm run`,
// no .tools or workspace node_modules on PATH.
import { execFile, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export const repoRoot = process.env.TAILTRACE_ROOT ?? join(import.meta.dirname, '..', '..');
export const node24 = process.execPath;
export const node22 = join(repoRoot, '.tools', 'node22', 'node_modules', '.bin', 'node');

/** Directory names under packages/ of the packages users install (not private). */
export function publicPackages(): string[] {
  return readdirSync(join(repoRoot, 'packages'))
    .filter((d) => existsSync(join(repoRoot, 'packages', d, 'package.json')))
    .filter((d) => !(JSON.parse(readFileSync(join(repoRoot, 'packages', d, 'package.json'), 'utf8')) as { private?: boolean }).private);
}

/** PATH without this repository's tools (.tools, node_modules/.bin). */
function outsidePath(): string[] {
  return (process.env.PATH ?? '').split(delimiter).filter((p) => p !== '' && !p.startsWith(repoRoot));
}

/** A Node on PATH older than 22 (the machine's system Node the bootstrap starts from), if any. */
export function oldNode(): { bin: string; version: string } | undefined {
  for (const dir of [...outsidePath(), '/usr/bin', '/usr/local/bin']) {
    const bin = join(dir, 'node');
    if (!existsSync(bin)) continue;
    const version = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8', env: { PATH: dir } }).stdout?.trim() ?? '';
    if (/^\d+\./.test(version) && Number(version.split('.')[0]) < 22) return { bin: realpathSync(bin), version };
  }
  return undefined;
}

/** The environment of a user's shell with `nodeBin` first on PATH (so `npm`, `npx` and bins run on it). */
export function userEnv(nodeBin: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k === 'INIT_CWD' || k.startsWith('TAILTRACE_') || k.startsWith('OTEL_')) continue;
    // What `npm run` adds for its script (package, lifecycle, prefixes of this workspace).
    if (/^npm_(package|lifecycle|command|execpath|node_execpath)|^npm_config_(local_prefix|prefix)$/.test(k)) continue;
    env[k] = v;
  }
  env.PATH = [dirname(nodeBin), ...outsidePath()].join(delimiter);
  env.npm_config_update_notifier = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_audit = 'false';
  return { ...env, ...extra };
}

/** `pnpm pack` of every public package into outDir; package name -> tarball path. */
export function packAll(outDir: string): Map<string, string> {
  const pnpm = join(repoRoot, '.tools', 'node_modules', '.bin', 'pnpm');
  const out = new Map<string, string>();
  for (const dir of publicPackages()) {
    const r = spawnSync(node24, [pnpm, 'pack', '--json', '--pack-destination', outDir], {
      cwd: join(repoRoot, 'packages', dir), encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' },
    });
    if (r.status !== 0) throw new Error(`pnpm pack in packages/${dir} failed:\n${r.stdout}${r.stderr}`);
    const packed = JSON.parse(r.stdout) as { name: string; filename: string };
    out.set(packed.name, packed.filename);
  }
  return out;
}

/** The files of a .tgz (ustar, as npm and pnpm write it): path (without `package/`) -> content. */
export function readTarball(file: string): Map<string, Buffer> {
  const tar = gunzipSync(readFileSync(file));
  const files = new Map<string, Buffer>();
  const str = (b: Buffer) => b.toString('utf8').replace(/\0.*$/s, '');
  let longName: string | undefined;
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const size = Number.parseInt(str(header.subarray(124, 136)).trim() || '0', 8);
    const type = String.fromCharCode(header[156]!);
    const body = tar.subarray(at + 512, at + 512 + size);
    const prefix = str(header.subarray(345, 500));
    const name = longName ?? (prefix ? `${prefix}/${str(header.subarray(0, 100))}` : str(header.subarray(0, 100)));
    longName = undefined;
    if (type === 'x') longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1];
    else if (type === '0' || type === '\0') files.set(name.replace(/^package\//, ''), Buffer.from(body));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

export interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded by timeoutMs), never throwing on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Exec> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 180_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/**
 * `npm install` of `specs` (tarball paths and registry specs) into `dir`, run by the npm on
 * PATH under `nodeBin` (npm's engine checks see that Node). Throws with npm's output on failure.
 */
export async function npmInstall(dir: string, specs: string[], nodeBin: string, extraArgs: string[] = []): Promise<Exec> {
  const r = await run('npm', ['install', '--no-package-lock', '--prefer-offline', '--loglevel=warn', ...extraArgs, ...specs], {
    cwd: dir, env: userEnv(nodeBin),
  });
  if (r.code !== 0) throw new Error(`npm install in ${dir} failed (${r.code}):\n${r.stdout}${r.stderr}`);
  return r;
}

export interface App {
  /** What the app printed after READY. */
  ready: Record<string, unknown>;
  child: ChildProcess;
  /** SIGTERM, then waits (bounded) for the process to end by itself. */
  stop(timeoutMs?: number): Promise<Exec & { stopped: boolean }>;
}

/**
 * Starts `node <args>` in `dir` and resolves once it printed `READY {json}`; rejects with its
 * output if it exits first or is not ready within timeoutMs (then it is killed).
 */
export function startApp(nodeBin: string, dir: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<App> {
  const child = spawn(nodeBin, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  // 'close', not 'exit': the last lines of output may still be in the pipes at 'exit'.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));

  const stop = async (stopTimeoutMs = 15_000): Promise<Exec & { stopped: boolean }> => {
    if (!done) child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), stopTimeoutMs)))]);
    clearTimeout(timer);
    if (!inTime) child.kill('SIGKILL');
    const code = await exited;
    return { code, stdout, stderr, stopped: inTime && /^STOPPED$/m.test(stdout) };
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop(0).then((r) => reject(new Error(`${args.join(' ')} not ready within ${timeoutMs} ms:\n${r.stdout}${r.stderr}`)));
    }, timeoutMs);
    const onData = (): void => {
      const m = /^READY (.*)$/m.exec(stdout);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve({ ready: JSON.parse(m[1]!) as Record<string, unknown>, child, stop });
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited (${code}) before it was ready:\n${stdout}${stderr}`));
    });
  });
}
