// Generates small heap snapshots of known shape in child processes (never committed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

/** What tinySnapshot writes; override any part to make a hostile file. */
export interface TinyParts {
  snapshot: Record<string, unknown>;
  nodes: number[];
  edges: number[];
  strings: string[];
  locations: number[];
}

const NODE_TYPES = ['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic', 'concatenated string', 'sliced string', 'symbol', 'bigint', 'object shape'];
const EDGE_TYPES = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'];

/**
 * A five-node snapshot in V8's exact layout (node_fields, types, field order of Node 24):
 * root -> shortcut global, root -> element (GC roots), global .cache -> Session @5,
 * Session .token -> "secret". Parts can be replaced, and `edit` rewrites the final text.
 */
export function tinyParts(): TinyParts {
  // strings: 0 '', 1 global, 2 (GC roots), 3 Session, 4 secret, 5 cache, 6 token
  const nodes = [
    9, 0, 1, 0, 2, 0, // root: synthetic '' , 2 edges
    3, 1, 3, 100, 1, 0, // global: object 'global', 1 edge
    9, 2, 5, 0, 0, 0, // (GC roots)
    3, 3, 7, 56, 1, 0, // Session
    2, 4, 9, 32, 0, 0, // 'secret'
  ];
  const edges = [
    5, 1, 6, // root -shortcut 'global'-> global
    1, 1, 12, // root -element [1]-> (GC roots)
    2, 5, 18, // global .cache -> Session
    2, 6, 24, // Session .token -> 'secret'
  ];
  return {
    snapshot: {
      meta: {
        node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'detachedness'],
        node_types: [NODE_TYPES, 'string', 'number', 'number', 'number', 'number'],
        edge_fields: ['type', 'name_or_index', 'to_node'],
        edge_types: [EDGE_TYPES, 'string_or_number', 'node'],
        location_fields: ['object_index', 'script_id', 'line', 'column'],
      },
      node_count: nodes.length / 6,
      edge_count: edges.length / 3,
      trace_function_count: 0,
    },
    nodes,
    edges,
    strings: ['', 'global', '(GC roots)', 'Session', 'secret', 'cache', 'token'],
    locations: [18, 1, 2, 3],
  };
}

/** The JSON text of a snapshot, sections in V8's order. */
export function snapshotText(p: TinyParts): string {
  return `{"snapshot":${JSON.stringify(p.snapshot)},\n"nodes":[${p.nodes.join(',')}],\n"edges":[${p.edges.join(',')}],\n"trace_function_infos":[],\n"trace_tree":[],\n"samples":[],\n"locations":[${p.locations.join(',')}],\n"strings":[${p.strings.map((x) => JSON.stringify(x)).join(',\n')}]}\n`;
}

/** Writes tinyParts() changed by `change` (and the text by `edit`) to tmp/NAME.heapsnapshot. */
export function tinySnapshot(name: string, change: (p: TinyParts) => void = () => {}, edit: (text: string) => string = (t) => t): string {
  const p = tinyParts();
  change(p);
  const file = join(tmp, `${name}.heapsnapshot`);
  writeFileSync(file, edit(snapshotText(p)));
  return file;
}

interface SnapshotJson {
  snapshot: { meta: { node_fields: string[]; edge_fields: string[]; edge_types: [string[], ...unknown[]]; location_fields: string[] } } & Record<string, unknown>;
  nodes: number[];
  edges: number[];
  locations: number[];
  strings: string[];
}

/**
 * A real snapshot cut down to about `keep` nodes: the objects named `wanted` and their shortest
 * paths from the root, then the first nodes reached breadth-first from the root (the global
 * object's side first), in their original order. Edges to nodes dropped go; strings are
 * renumbered to those still used. V8's own layout, types and names, small enough to be mutated
 * and read thousands of times.
 */
export function trimSnapshot(file: string, name: string, keep: number, wanted: readonly string[] = ['Session']): string {
  const j = JSON.parse(readFileSync(file, 'utf8')) as SnapshotJson;
  const m = j.snapshot.meta;
  const nf = m.node_fields.length;
  const ef = m.edge_fields.length;
  const n = j.nodes.length / nf;
  const [nName, nEdges] = [m.node_fields.indexOf('name'), m.node_fields.indexOf('edge_count')];
  const [eType, eName, eTo] = [m.edge_fields.indexOf('type'), m.edge_fields.indexOf('name_or_index'), m.edge_fields.indexOf('to_node')];
  const shortcut = m.edge_types[0].indexOf('shortcut');
  const indexNamed = new Set(['element', 'hidden'].map((t) => m.edge_types[0].indexOf(t)));
  const first = new Uint32Array(n + 1);
  for (let o = 0; o < n; o++) first[o + 1] = first[o]! + j.nodes[o * nf + nEdges]!;
  // breadth-first over every node, the root's shortcuts (the global objects) first
  const parent = new Int32Array(n).fill(-1);
  const order = [0];
  parent[0] = 0;
  for (const pass of [true, false]) {
    for (let e = first[0]!; e < first[1]!; e++) {
      const w = j.edges[e * ef + eTo]! / nf;
      if ((j.edges[e * ef + eType] === shortcut) === pass && parent[w] === -1) {
        parent[w] = 0;
        order.push(w);
      }
    }
  }
  for (let q = 1; q < order.length; q++) {
    const v = order[q]!;
    for (let e = first[v]!; e < first[v + 1]!; e++) {
      const w = j.edges[e * ef + eTo]! / nf;
      if (parent[w] === -1) {
        parent[w] = v;
        order.push(w);
      }
    }
  }
  const kept = new Int32Array(n).fill(-1);
  let size = 0;
  const take = (o: number): void => {
    for (let v = o; kept[v] === -1; v = parent[v]!) {
      kept[v] = 0;
      size++;
      if (v === 0) break;
    }
  };
  const names = new Set(wanted);
  for (let o = 0; o < n; o++) if (parent[o] !== -1 && names.has(j.strings[j.nodes[o * nf + nName]!]!)) take(o);
  for (let q = 0; q < order.length && size < keep; q++) take(order[q]!);
  let next = 0;
  for (let o = 0; o < n; o++) if (kept[o] === 0) kept[o] = next++;
  const strings: string[] = [];
  const renumber = new Map<number, number>();
  const str = (i: number): number => {
    let k = renumber.get(i);
    if (k === undefined) {
      k = strings.length;
      strings.push(j.strings[i]!);
      renumber.set(i, k);
    }
    return k;
  };
  const nodes: number[] = [];
  const edges: number[] = [];
  for (let o = 0; o < n; o++) {
    if (kept[o] === -1) continue;
    const rec = j.nodes.slice(o * nf, o * nf + nf);
    let count = 0;
    for (let e = first[o]!; e < first[o + 1]!; e++) {
      const edge = j.edges.slice(e * ef, e * ef + ef);
      const to = kept[edge[eTo]! / nf]!;
      if (to < 0) continue;
      edge[eTo] = to * nf;
      if (!indexNamed.has(edge[eType]!)) edge[eName] = str(edge[eName]!);
      edges.push(...edge);
      count++;
    }
    rec[nName] = str(rec[nName]!);
    rec[nEdges] = count;
    nodes.push(...rec);
  }
  const lf = m.location_fields.length;
  const locations: number[] = [];
  for (let k = 0; k < j.locations.length; k += lf) {
    const to = kept[j.locations[k]! / nf]!;
    if (to >= 0) locations.push(to * nf, ...j.locations.slice(k + 1, k + lf));
  }
  const snapshot = { ...j.snapshot, node_count: nodes.length / nf, edge_count: edges.length / ef };
  const out = join(tmp, `${name}.heapsnapshot`);
  writeFileSync(out, `{"snapshot":${JSON.stringify(snapshot)},\n"nodes":[${nodes.join(',')}],\n"edges":[${edges.join(',')}],\n"trace_function_infos":[],\n"trace_tree":[],\n"samples":[],\n"locations":[${locations.join(',')}],\n"strings":[${strings.map((x) => JSON.stringify(x)).join(',\n')}]}\n`);
  return out;
}

/**
 * Snapshots of processes leaking one class through a closure (the array lives only in the
 * closure's context): `closureLeakSnapshot('a', 100)` and `('b', 2000)` differ by what
 * multiplied, while global, the context, the array and every container on the way grow too.
 */
export function closureLeakSnapshot(name: string, n: number): string {
  return run(
    name,
    `class OrderSession { constructor(i) { this.id = i; this.items = [i, i + 1, i + 2]; this.note = 'order-' + i + '-'.repeat(200); } }
const track = (() => { const sessions = []; return (s) => sessions.push(s); })();
globalThis.track = track;
for (let i = 0; i < ${n}; i++) track(new OrderSession(i));
gc();
v8.writeHeapSnapshot('${name}.heapsnapshot');`,
  );
}

/** One process, three snapshots: the closure leak grows by 500 OrderSession between 1 and 2. */
export function closureLeakSnapshots(): [string, string, string] {
  run(
    'closure-leak',
    `class OrderSession { constructor(i) { this.id = i; this.items = [i, i + 1, i + 2]; this.note = 'order-' + i + '-'.repeat(200); } }
const track = (() => { const sessions = []; return (s) => sessions.push(s); })();
globalThis.track = track;
for (let i = 0; i < 50; i++) track(new OrderSession(i));
gc();
v8.writeHeapSnapshot('closure-leak-1.heapsnapshot');
for (let i = 50; i < 550; i++) track(new OrderSession(i));
gc();
v8.writeHeapSnapshot('closure-leak-2.heapsnapshot');
gc();
v8.writeHeapSnapshot('closure-leak-3.heapsnapshot');`,
  );
  return [join(tmp, 'closure-leak-1.heapsnapshot'), join(tmp, 'closure-leak-2.heapsnapshot'), join(tmp, 'closure-leak-3.heapsnapshot')];
}
