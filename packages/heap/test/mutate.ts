// Seeded mutations of a file's bytes for the fuzz tests: what a disk, a truncated copy, another
// tool or an attacker can do to a snapshot or a bundle file. Every mutation is a pure function of
// (input, seed), so a failing case is replayed from its seed.

/** mulberry32: small, seeded, good enough to pick positions. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Numbers a hostile file would put where a count or an index belongs. */
const NASTY = ['0', '1', '-1', '-0', '255', '256', '65536', '4294967295', '4294967296', '9007199254740993', '1e12', '1.5', '1e400', '', '99999999999999999999999', '7', '6', '3'];
const BYTES = [0x2d, 0x2c, 0x5d, 0x5b, 0x22, 0x2e, 0x65, 0x7b, 0x7d, 0x5c, 0x30, 0x39, 0x0a, 0x20, 0x00, 0xff];

type Mutation = (b: Buffer, r: () => number) => Buffer;
const at = (b: Buffer, r: () => number): number => Math.floor(r() * b.length);

/** Where the numbers are: [start, end) of each run of digits (with a leading '-'). */
function numberAt(b: Buffer, r: () => number): [number, number] | null {
  for (let tries = 0; tries < 20; tries++) {
    let i = at(b, r);
    if (!(b[i]! >= 0x30 && b[i]! <= 0x39)) continue;
    while (i > 0 && b[i - 1]! >= 0x30 && b[i - 1]! <= 0x39) i--;
    let j = i;
    while (j < b.length && b[j]! >= 0x30 && b[j]! <= 0x39) j++;
    return [i, j];
  }
  return null;
}

const MUTATIONS: Mutation[] = [
  // one byte becomes one a parser cares about
  (b, r) => {
    const c = Buffer.from(b);
    c[at(b, r)] = BYTES[Math.floor(r() * BYTES.length)]!;
    return c;
  },
  // a number becomes a nasty one
  (b, r) => {
    const n = numberAt(b, r);
    if (!n) return b;
    return Buffer.concat([b.subarray(0, n[0]), Buffer.from(NASTY[Math.floor(r() * NASTY.length)]!), b.subarray(n[1])]);
  },
  // a number moves by a little (off-by-one indexes and counts)
  (b, r) => {
    const n = numberAt(b, r);
    if (!n) return b;
    const v = Number(b.subarray(n[0], n[1]).toString()) + Math.floor(r() * 13) - 6;
    return Buffer.concat([b.subarray(0, n[0]), Buffer.from(String(v)), b.subarray(n[1])]);
  },
  // a range goes missing
  (b, r) => {
    const i = at(b, r);
    return Buffer.concat([b.subarray(0, i), b.subarray(Math.min(b.length, i + 1 + Math.floor(r() * 64)))]);
  },
  // a range is written twice
  (b, r) => {
    const i = at(b, r);
    const j = Math.min(b.length, i + 1 + Math.floor(r() * 64));
    return Buffer.concat([b.subarray(0, j), b.subarray(i, j), b.subarray(j)]);
  },
  // the file is cut short
  (b, r) => b.subarray(0, at(b, r)),
  // random bytes are inserted
  (b, r) => {
    const i = at(b, r);
    const junk = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 16) }, () => Math.floor(r() * 256)));
    return Buffer.concat([b.subarray(0, i), junk, b.subarray(i)]);
  },
  // two numbers swap
  (b, r) => {
    const x = numberAt(b, r);
    const y = numberAt(b, r);
    if (!x || !y || x[1] > y[0]) return b;
    return Buffer.concat([b.subarray(0, x[0]), b.subarray(y[0], y[1]), b.subarray(x[1], y[0]), b.subarray(x[0], x[1]), b.subarray(y[1])]);
  },
  // a header field V8 may not write, with a nasty value (snapshots and JSON files alike)
  (b, r) => {
    const i = b.indexOf('{', 1);
    if (i < 0) return b;
    const field = ['root_index', 'node_count', 'edge_count', 'version', 'format'][Math.floor(r() * 5)]!;
    return Buffer.concat([b.subarray(0, i + 1), Buffer.from(`"${field}":${NASTY[Math.floor(r() * NASTY.length)] || '0'},`), b.subarray(i + 1)]);
  },
];

/** One to three mutations of `input`, chosen by `seed`. */
export function mutate(input: Buffer, seed: number): Buffer {
  const r = prng(seed);
  let b = input;
  const n = 1 + Math.floor(r() * 3);
  for (let k = 0; k < n && b.length > 0; k++) b = MUTATIONS[Math.floor(r() * MUTATIONS.length)]!(b, r);
  return b;
}
