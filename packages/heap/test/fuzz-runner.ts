// Runs a fuzz child and watches it: every case must end within `caseMs` (a hang is killed and
// named by its seed), the whole run within the child's own deadline.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface FuzzCase {
  seed: number;
  ms: number;
  outcome: string;
  message: string;
}

export interface FuzzRun {
  cases: FuzzCase[];
  /** The seed that did not finish within caseMs (the child was killed), or null. */
  hung: number | null;
  stderr: string;
  code: number | null;
}

export function runFuzz(script: string, args: string[], caseMs: number): Promise<FuzzRun> {
  const child = spawn(process.execPath, ['--conditions=tailtrace-source', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const cases: FuzzCase[] = [];
  let stderr = '';
  let running: number | null = null;
  let hung: number | null = null;
  let timer: NodeJS.Timeout | undefined;
  const watch = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      hung = running;
      child.kill('SIGKILL');
    }, caseMs);
  };
  watch();
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = JSON.parse(line) as FuzzCase & { start?: boolean };
    if (m.start) running = m.seed;
    else {
      running = null;
      cases.push(m);
    }
    watch();
  });
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ cases, hung, stderr, code });
    });
  });
}
