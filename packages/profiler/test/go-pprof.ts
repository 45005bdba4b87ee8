// Runs the real Go toolchain for tests: `go run` to produce profiles and `go tool pprof` to read ours.
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function findGo(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'go'))) return join(dir, 'go');
  }
  if (existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error('go not found on PATH or at /usr/local/go/bin/go: these tests read profiles with the real go tool pprof');
}

export const GO = findGo();

// `go tool pprof` is built into GOCACHE on first use (~15 s); reuse the user's cache when it is
// writable and fall back to a private HOME/GOCACHE otherwise.
let privateDir: string | undefined;
function goEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local', GOPROXY: 'off', GOTELEMETRY: 'off' };
  try {
    const cache = execFileSync(GO, ['env', 'GOCACHE'], { encoding: 'utf8', env }).trim();
    mkdirSync(cache, { recursive: true });
    accessSync(cache, constants.W_OK);
    return env;
  } catch {
    privateDir = mkdtempSync(join(tmpdir(), 'tailtrace-gohome-'));
    return { ...env, HOME: privateDir, GOCACHE: join(privateDir, 'cache'), GOPATH: join(privateDir, 'gopath') };
  }
}
export const goEnv = goEnvironment();

export function cleanupGo(): void {
  if (privateDir !== undefined) rmSync(privateDir, { recursive: true, force: true });
}

/** `go tool pprof ARGS`; resolves stdout, rejects with stderr. Bounded by `timeoutMs`. */
export function pprofTool(args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(GO, ['tool', 'pprof', ...args], { env: goEnv, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`go tool pprof ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export interface TopRow { flat: number; cum: number; name: string }

/**
 * Parses `go tool pprof -top` output run with a plain unit (-unit=B, -unit=ms or a count):
 * rows look like `  8008029B 99.95% 99.95%   8008029B 99.95%  main.allocLeaky`.
 */
export function parseTop(out: string): { total: number; rows: TopRow[] } {
  const num = (s: string): number => Number(s.replace(/[A-Za-z]+$/, ''));
  const totalMatch = /of ([0-9.]+)[A-Za-z]* total/.exec(out);
  const rows: TopRow[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*([0-9.]+[A-Za-z]*)\s+[0-9.]+%\s+[0-9.]+%\s+([0-9.]+[A-Za-z]*)\s+[0-9.]+%\s+(.+)$/.exec(line);
    if (m) rows.push({ flat: num(m[1]!), cum: num(m[2]!), name: m[3]!.trim() });
  }
  return { total: totalMatch ? Number(totalMatch[1]) : Number.NaN, rows };
}

/** Builds and runs a one-file Go program in a temp module; returns the temp dir (caller removes). */
export function goRun(source: string, args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'tailtrace-gorun-'));
  writeFileSync(join(dir, 'go.mod'), 'module gen\n\ngo 1.21\n');
  writeFileSync(join(dir, 'main.go'), source);
  execFileSync(GO, ['run', '.', ...args], { cwd: dir, env: goEnv, timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return dir;
}
