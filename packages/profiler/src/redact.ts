// Streaming rewrite of a snapshot that removes string contents. Node names of non-string nodes
// (constructor, closure and system names) and edge names stay, so the class table and retainer
// paths read the same; the values of string nodes (string / concatenated / sliced) become
// placeholders no longer than the original. With `names: true`, user-chosen names (constructor,
// function and property names) become stable hashes too; V8's own names stay.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { HeapSnapshotError } from './errors.ts';
import { edgeCodes } from './graph.ts';
import { readHeapSnapshot } from './parser.ts';
import type { HeapSnapshot } from './types.ts';

export interface RedactOptions {
  /** Also replace user-chosen names by stable hashes. */
  names?: boolean;
  /** Salt mixed into name hashes (same salt => same hashes across snapshots). */
  salt?: string;
}

export interface RedactResult {
  readonly strings: number;
  readonly valuesReplaced: number;
  readonly namesHashed: number;
}

const BUILTIN_NAMES = new Set(
  (
    'Object Array Function Map Set WeakMap WeakSet WeakRef FinalizationRegistry Promise String Number Boolean Symbol BigInt Date RegExp ' +
    'Error TypeError RangeError SyntaxError ReferenceError EvalError URIError AggregateError ArrayBuffer SharedArrayBuffer DataView ' +
    'Int8Array Uint8Array Uint8ClampedArray Int16Array Uint16Array Int32Array Uint32Array Float32Array Float64Array BigInt64Array ' +
    'BigUint64Array Proxy Generator AsyncGenerator Arguments global globalThis Buffer EventEmitter Module'
  ).split(' '),
);

function keepAsIs(name: string): boolean {
  return name === '' || name.startsWith('(') || name.includes(' / ') || name.startsWith('system') || BUILTIN_NAMES.has(name);
}

function placeholder(len: number): string {
  if (len <= 0) return '';
  return len >= 10 ? '<redacted>'.padEnd(Math.min(len, 10), '*') : '*'.repeat(len);
}

/** Roles of strings: 1 = value of a string node, 2 = user-chosen name, 4 = other node name, 8 = V8 field name (internal/weak edge). */
export function stringRoles(s: HeapSnapshot): Uint8Array {
  const roles = new Uint8Array(s.strings.length);
  const valueTypes = new Uint8Array(s.nodeTypes.length);
  s.nodeTypes.forEach((t, i) => (valueTypes[i] = t === 'string' || t === 'concatenated string' || t === 'sliced string' ? 1 : 0));
  const userNameTypes = new Uint8Array(s.nodeTypes.length);
  s.nodeTypes.forEach((t, i) => (userNameTypes[i] = t === 'object' || t === 'closure' || t === 'native' || t === 'regexp' ? 1 : 0));
  for (let o = 0; o < s.nodeCount; o++) {
    const t = s.nodeType[o]!;
    roles[s.nodeName[o]!]! |= valueTypes[t] ? 1 : userNameTypes[t] ? 2 : 4;
  }
  const codes = edgeCodes(s);
  if (s.edgeName) {
    for (let e = 0; e < s.edgeCount; e++) {
      const t = s.edgeType[e]!;
      if (t === codes.element || t === codes.hidden) continue;
      const internal = t === codes.internal || t === codes.weak;
      roles[s.edgeName[e]!]! |= internal ? 8 : 2;
    }
  }
  return roles;
}

export async function redactSnapshot(input: string, output: string, opts: RedactOptions = {}): Promise<RedactResult> {
  const s = await readHeapSnapshot(input, { edgeNames: true });
  if (s.stringsRange.start < 0 || s.stringsRange.end < 0) throw new HeapSnapshotError(input, 'no "strings" array found');
  const roles = stringRoles(s);
  const salt = opts.salt ?? '';
  let valuesReplaced = 0;
  let namesHashed = 0;
  const inFh = await open(input, 'r');
  let outFh;
  try {
    outFh = await open(output, 'w', 0o600);
  } catch (err) {
    await inFh.close();
    throw new HeapSnapshotError(output, `cannot write (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
    const copy = async (from: number, to: number): Promise<void> => {
      let pos = from;
      while (pos < to) {
        const { bytesRead } = await inFh.read(buf, 0, Math.min(buf.length, to - pos), pos);
        if (bytesRead === 0) throw new HeapSnapshotError(input, 'file changed while redacting');
        await outFh.write(buf, 0, bytesRead);
        pos += bytesRead;
      }
    };
    await copy(0, s.stringsRange.start);
    // the new strings array
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
    const QUOTE = Buffer.from('"');
    await put(Buffer.from('['));
    for (let i = 0; i < s.strings.length; i++) {
      if (i > 0) await put(Buffer.from(i % 64 === 0 ? ',\n' : ','));
      const role = roles[i]!;
      if (role & 14) {
        if (opts.names && !(role & 8)) {
          const name = s.strings.get(i);
          if (!keepAsIs(name)) {
            namesHashed++;
            await put(Buffer.from(JSON.stringify(`h_${createHash('sha256').update(salt).update(name).digest('hex').slice(0, 10)}`)));
            continue;
          }
        }
        await put(QUOTE);
        await put(Buffer.from(s.strings.raw(i)));
        await put(QUOTE);
      } else {
        const len = s.strings.rawLength(i) === 0 ? 0 : s.strings.get(i).length;
        if (len > 0) valuesReplaced++;
        await put(Buffer.from(JSON.stringify(placeholder(len))));
      }
    }
    await put(Buffer.from(']'));
    await outFh.write(out, 0, used);
    await copy(s.stringsRange.end, s.fileSize);
  } finally {
    await inFh.close();
    await outFh.close();
  }
  return { strings: s.strings.length, valuesReplaced, namesHashed };
}
