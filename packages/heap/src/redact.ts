// Streaming rewrite of a snapshot that leaves nothing a service held in memory readable: nodes and
// edges are copied byte for byte, only the `strings` array is rewritten.
//  - Values (string, concatenated and sliced string nodes; RegExp sources; symbol descriptions;
//    the names of compiled code; numbers when V8 wrote their values) become placeholders no
//    longer than they were.
//  - Names someone chose (constructor, function and property names, closure variables, Map keys
//    used as property names) become keyed hashes unless `keepNames`: 128 bits of
//    HMAC-SHA-256 under a salt that is random per run unless one is given, so a guessed token
//    cannot be confirmed from the output.
//  - V8's own names stay (internal fields, `(…)`, `system / …`, builtin constructors), so the
//    class table and retainer paths read the same, keyed by hashes.
// V8 stores each distinct string once: a value equal to some name shares its entry and gets the
// name's treatment, which is why names are hashed by default.
// The output is written to a temporary file beside it and renamed at the end; an output that is
// the input (after resolving links) is refused before anything is written.
import { createHmac, randomBytes } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HeapSnapshotError } from './errors.ts';
import { edgeCodes } from './graph.ts';
import { readHeapSnapshot } from './parser.ts';
import type { HeapSnapshot } from './types.ts';

export interface RedactOptions {
  /**
   * Keep constructor, function and property names as they are (default: hashed). Every string
   * value equal to one of them then stays too.
   */
  keepNames?: boolean;
  /**
   * Key of the name hashes. Default: 32 random bytes per run, never written anywhere. The same
   * salt gives the same hashes in two snapshots (to diff them after redaction); whoever knows it
   * can confirm a guessed name.
   */
  salt?: string;
}

export interface RedactResult {
  readonly strings: number;
  readonly valuesReplaced: number;
  readonly namesHashed: number;
  /** Whether the hashes used a salt given by the caller or one made for this run. */
  readonly salt: 'given' | 'random';
}

/** A string that holds data: replaced by a placeholder. */
const VALUE = 1;
/** A name someone chose: hashed unless keepNames. */
const NAME = 2;
/** A name V8 gave: kept. */
const V8_NAME = 4;

/** Node types whose name is a name someone chose (a class table key, a path label). */
const NAMED_NODES = new Set(['object', 'closure', 'native']);
/** Node types named by V8 itself (`system / Context`, `(GC roots)`), shown in paths. */
const V8_NAMED_NODES = new Set(['hidden', 'synthetic']);
// Every other node's name is shown nowhere (strings, RegExp sources, compiled code named after
// its function, symbols, numbers): all are treated as values.

/** Builtins and the property names every program has: never a secret, and paths stay readable. */
const WELL_KNOWN = new Set(
  (
    'Object Array Function Map Set WeakMap WeakSet WeakRef FinalizationRegistry Promise String Number Boolean Symbol BigInt Date RegExp ' +
    'Error TypeError RangeError SyntaxError ReferenceError EvalError URIError AggregateError ArrayBuffer SharedArrayBuffer DataView ' +
    'Int8Array Uint8Array Uint8ClampedArray Int16Array Uint16Array Int32Array Uint32Array Float32Array Float64Array BigInt64Array ' +
    'BigUint64Array Proxy Generator AsyncGenerator Arguments global globalThis Buffer EventEmitter Module ' +
    'prototype constructor __proto__ length name message stack cause'
  ).split(' '),
);

function keepAsIs(name: string): boolean {
  return name === '' || name.startsWith('(') || name.includes(' / ') || name.startsWith('system') || WELL_KNOWN.has(name);
}

function placeholder(len: number): string {
  if (len <= 0) return '';
  return len >= 10 ? '<redacted>'.padEnd(Math.min(len, 10), '*') : '*'.repeat(len);
}

/** VALUE / NAME / V8_NAME bits of every string, from the nodes and edges that use it. */
export function stringRoles(s: HeapSnapshot): Uint8Array {
  const roles = new Uint8Array(s.strings.length);
  const nodeRole = new Uint8Array(s.nodeTypes.length);
  s.nodeTypes.forEach((t, i) => (nodeRole[i] = NAMED_NODES.has(t) ? NAME : V8_NAMED_NODES.has(t) ? V8_NAME : VALUE));
  for (let o = 0; o < s.nodeCount; o++) roles[s.nodeName[o]!]! |= nodeRole[s.nodeType[o]!]!;
  const codes = edgeCodes(s);
  if (s.edgeName) {
    for (let e = 0; e < s.edgeCount; e++) {
      const t = s.edgeType[e]!;
      if (t === codes.element || t === codes.hidden) continue;
      roles[s.edgeName[e]!]! |= t === codes.internal || t === codes.weak ? V8_NAME : NAME;
    }
  }
  return roles;
}

/** Refuses an output that is the input, whatever the path or link that names it. */
function refuseSameFile(input: string, output: string): void {
  const same = (a: string, b: string): boolean => {
    try {
      const x = statSync(a);
      const y = statSync(b);
      return x.dev === y.dev && x.ino === y.ino;
    } catch {
      return false;
    }
  };
  const real = (p: string): string | null => {
    try {
      return realpathSync(p);
    } catch {
      return null; // a new output file, or an input the reader will name as missing
    }
  };
  const realInput = real(input);
  if (same(input, output) || (realInput !== null && real(output) === realInput)) {
    throw new HeapSnapshotError(output, 'is the input file; redact writes a new file (give another output path)');
  }
}

/** The new "strings" array, written through `put`. */
async function writeStrings(s: HeapSnapshot, roles: Uint8Array, opts: RedactOptions, salt: string | Buffer, put: (b: Uint8Array) => Promise<void>): Promise<{ valuesReplaced: number; namesHashed: number }> {
  let valuesReplaced = 0;
  let namesHashed = 0;
  const QUOTE = Buffer.from('"');
  await put(Buffer.from('['));
  for (let i = 0; i < s.strings.length; i++) {
    if (i > 0) await put(Buffer.from(i % 64 === 0 ? ',\n' : ','));
    const role = roles[i]!;
    // a name someone chose is hashed even where V8 uses the same text for its own
    const named = (role & NAME) !== 0;
    const keep = named ? opts.keepNames === true || keepAsIs(s.strings.get(i)) : (role & V8_NAME) !== 0;
    if (keep) {
      await put(QUOTE);
      await put(Buffer.from(s.strings.raw(i)));
      await put(QUOTE);
    } else if (role & NAME) {
      namesHashed++;
      await put(Buffer.from(`"h_${createHmac('sha256', salt).update(s.strings.get(i)).digest('hex').slice(0, 32)}"`));
    } else {
      // a value, or a string nothing refers to
      const len = s.strings.rawLength(i) === 0 ? 0 : s.strings.get(i).length;
      if (len > 0) valuesReplaced++;
      await put(Buffer.from(JSON.stringify(placeholder(len))));
    }
  }
  await put(Buffer.from(']'));
  return { valuesReplaced, namesHashed };
}

export async function redactSnapshot(input: string, output: string, opts: RedactOptions = {}): Promise<RedactResult> {
  refuseSameFile(input, output);
  const s = await readHeapSnapshot(input, { edgeNames: true });
  const roles = stringRoles(s);
  const salt = opts.salt ?? randomBytes(32);
  const temp = join(dirname(output), `.${basename(output)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const inFh = await open(input, 'r');
  let outFh;
  try {
    outFh = await open(temp, 'wx', 0o600);
  } catch (err) {
    await inFh.close();
    throw new HeapSnapshotError(output, `cannot write (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let done = false;
  try {
    const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
    const copy = async (from: number, to: number): Promise<void> => {
      for (let pos = from; pos < to; ) {
        const { bytesRead } = await inFh.read(buf, 0, Math.min(buf.length, to - pos), pos);
        if (bytesRead === 0) throw new HeapSnapshotError(input, 'file changed while redacting');
        await outFh.write(buf, 0, bytesRead);
        pos += bytesRead;
      }
    };
    await copy(0, s.stringsRange.start);
    const out = Buffer.allocUnsafe(4 * 1024 * 1024);
    let used = 0;
    const put = async (b: Uint8Array): Promise<void> => {
      if (used + b.length > out.length) {
        await outFh.write(out, 0, used);
        used = 0;
      }
      if (b.length > out.length) {
        await outFh.write(b);
        return;
      }
      out.set(b, used);
      used += b.length;
    };
    const counts = await writeStrings(s, roles, opts, salt, put);
    await outFh.write(out, 0, used);
    await copy(s.stringsRange.end, s.fileSize);
    await outFh.sync();
    await outFh.close();
    await inFh.close();
    await rename(temp, output);
    done = true;
    return { strings: s.strings.length, ...counts, salt: opts.salt === undefined ? 'random' : 'given' };
  } finally {
    if (!done) {
      await outFh.close().catch(() => {});
      await inFh.close().catch(() => {});
      await unlink(temp).catch(() => {});
    }
  }
}
