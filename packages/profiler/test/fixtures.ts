// Generates small heap snapshots of known shape in child processes (never committed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const tmp = mkdtempSync(join(tmpdir(), 'tailtrace-heap-'));

/** Payload length of every Session's string. */
export const PAYLOAD = 10_000;

function run(name: string, body: string): string {
  const script = join(tmp, `${name}.cjs`);
  writeFileSync(script, `const v8 = require('node:v8');\n${body}\n`);
  execFileSync(process.execPath, ['--expose-gc', script], { cwd: tmp, stdio: ['ignore', 'pipe', 'inherit'] });
  return join(tmp, `${name}.heapsnapshot`);
}

/** A Map `cache` on the global holding n Sessions, each with a unique flat string of PAYLOAD chars. */
export function sessionsSnapshot(name: string, n: number): string {
  return run(
    name,
    `class Session { constructor(i) { this.id = i; this.payload = Buffer.alloc(${PAYLOAD}, 97 + (i % 26)).toString('latin1'); } }
const cache = new Map();
for (let i = 0; i < ${n}; i++) cache.set('session:' + i, new Session(i));
globalThis.cache = cache;
globalThis['ключ😀'] = { note: 'unicode property name' };
gc();
v8.writeHeapSnapshot('${name}.heapsnapshot');`,
  );
}

/** Three snapshots of one process: 40 LeakyThing pushed into globalThis.leakBox between 1 and 2. */
export function leakSnapshots(): [string, string, string] {
  run(
    'leak',
    `class LeakyThing { constructor(i) { this.i = i; this.buf = Buffer.alloc(5000, 120).toString('latin1'); } }
class Temporary { constructor(i) { this.i = i; } }
globalThis.leakBox = [];
gc();
v8.writeHeapSnapshot('leak-1.heapsnapshot');
for (let i = 0; i < 40; i++) globalThis.leakBox.push(new LeakyThing(i));
let tmp = []; for (let i = 0; i < 1000; i++) tmp.push(new Temporary(i)); tmp = null;
gc();
v8.writeHeapSnapshot('leak-2.heapsnapshot');
globalThis.later = []; for (let i = 0; i < 10; i++) globalThis.later.push(new Temporary(i));
gc();
v8.writeHeapSnapshot('leak-3.heapsnapshot');`,
  );
  return [join(tmp, 'leak-1.heapsnapshot'), join(tmp, 'leak-2.heapsnapshot'), join(tmp, 'leak-3.heapsnapshot')];
}
