// Child processes started by the tests: output captured to a log file, stopped by PID only
// (SIGTERM, then SIGKILL after a bound), never by name.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Proc {
  child: ChildProcess;
  pid: number;
  logFile: string;
  log(): string;
  exited(): boolean;
  stop(timeoutMs?: number): Promise<void>;
}

export function startProc(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; logFile: string; cwd?: string }): Proc {
  const out = createWriteStream(opts.logFile, { flags: 'a' });
  const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  let done = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { done = true; resolve(); }));
  return {
    child,
    pid: child.pid!,
    logFile: opts.logFile,
    log: () => { try { return readFileSync(opts.logFile, 'utf8'); } catch { return ''; } },
    exited: () => done,
    async stop(timeoutMs = 10_000) {
      if (!done) {
        child.kill('SIGTERM');
        const t = setTimeout(() => { if (!done) child.kill('SIGKILL'); }, timeoutMs);
        await exit;
        clearTimeout(t);
      }
      out.end();
    },
  };
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (bounded). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
}
