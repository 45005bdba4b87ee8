// Shortest retainer paths from the GC roots: a BFS over retaining edges (weak edges, non-root
// shortcuts and the edges DevTools skips for distances are ignored), user roots (the global
// object) first, so paths go through application objects when they can.
import { classify } from './classes.ts';
import { edgeCodes, edgeHasIndexName } from './graph.ts';
import { HeapSnapshotError } from './errors.ts';
import type { HeapSnapshot } from './types.ts';

export interface ShortestPathTree {
  /** Edge index of the BFS tree edge into each node, -1 for roots and unreachable nodes. */
  readonly parentEdge: Int32Array;
  /** Source node of parentEdge. */
  readonly parentNode: Uint32Array;
}

export interface PathHop {
  readonly id: number;
  readonly node: string;
  /** Label of the edge leaving this node towards the next hop (`.cache`, `[3]`, `{table}`). */
  readonly edge?: string;
}

export interface RetainerPath {
  /** Readable chain: `(GC roots) -> global .cache -> Map {table} -> (system) [3] -> Session @123`. */
  readonly chain: string;
  readonly hops: PathHop[];
  /** Instances whose shortest path has this shape (class queries), 1 for id queries. */
  readonly count: number;
  /** Sum of their retained sizes when known, else 0. */
  readonly retained: number;
}

/** Whether a BFS may follow edge e out of node v. */
function makeEdgeFilter(s: HeapSnapshot): (v: number, e: number) => boolean {
  const { weak, shortcut, hidden, internal, element } = edgeCodes(s);
  const names = s.edgeName;
  const root = s.rootOrdinal;
  const find = (str: string): number => s.strings.indexOf(str);
  const sloppy = names ? find('sloppy_function_map') : -1;
  const codeName = names ? find('code') : -1;
  const nativeContext = find('system / NativeContext');
  const mapDescriptors = find('(map descriptors)');
  const { edgeType, edgeTo, nodeName } = s;
  return (v: number, e: number): boolean => {
    const t = edgeType[e]!;
    if (t === weak) return false;
    if (t === shortcut && v !== root) return false;
    if (names) {
      const nm = names[e]!;
      if (t === hidden && nm === sloppy && nodeName[v] === nativeContext) return false;
      if (t === internal && nm === codeName) return false;
      if (t === element && nodeName[v] === mapDescriptors && mapDescriptors >= 0) {
        if (nm >= 2 && nm % 3 === 1) return false;
      }
    }
    return edgeTo[e] !== v;
  };
}

/** BFS tree of shortest retaining paths from the root (user roots first). */
export function shortestPathTree(s: HeapSnapshot): ShortestPathTree {
  const n = s.nodeCount;
  const parentEdge = new Int32Array(n).fill(-1);
  const parentNode = new Uint32Array(n);
  const seen = new Uint8Array(n);
  const queue = new Uint32Array(n);
  const ok = makeEdgeFilter(s);
  const { firstEdge, edgeTo } = s;
  const root = s.rootOrdinal;
  const synthetic = s.nodeTypes.indexOf('synthetic');
  let qh = 0;
  let qt = 0;
  seen[root] = 1;
  // user roots first (non-synthetic children of the root: the global object(s))
  for (const userPass of [true, false]) {
    for (let e = firstEdge[root]!, end = firstEdge[root + 1]!; e < end; e++) {
      const w = edgeTo[e]!;
      if (seen[w] || (s.nodeType[w] !== synthetic) !== userPass || !ok(root, e)) continue;
      seen[w] = 1;
      parentEdge[w] = e;
      parentNode[w] = root;
      queue[qt++] = w;
    }
    while (qh < qt) {
      const v = queue[qh++]!;
      for (let e = firstEdge[v]!, end = firstEdge[v + 1]!; e < end; e++) {
        const w = edgeTo[e]!;
        if (seen[w] || !ok(v, e)) continue;
        seen[w] = 1;
        parentEdge[w] = e;
        parentNode[w] = v;
        queue[qt++] = w;
      }
    }
  }
  return { parentEdge, parentNode };
}

export function nodeLabel(s: HeapSnapshot, o: number): string {
  const type = s.nodeTypes[s.nodeType[o]!]!;
  const name = s.strings.get(s.nodeName[o]!);
  switch (type) {
    case 'object':
    case 'native':
    case 'synthetic':
      return name;
    case 'closure':
      return `${name || '(anonymous)'}()`;
    case 'hidden':
      return name || '(system)';
    case 'code':
      return '(compiled code)';
    default:
      return `(${type})`;
  }
}

export function edgeLabel(s: HeapSnapshot, e: number): string {
  const t = s.edgeType[e]!;
  const tn = s.edgeTypes[t];
  const raw = s.edgeName ? s.edgeName[e]! : 0;
  if (edgeHasIndexName(s, t)) return tn === 'hidden' ? `{${raw}}` : `[${raw}]`;
  const name = s.edgeName ? s.strings.get(raw) : '?';
  switch (tn) {
    case 'context':
      return `->${name}`;
    case 'internal':
      return `{${name}}`;
    case 'weak':
      return `[[${name}]]`;
    default:
      return /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
  }
}

/** Hops from the root to node o along the BFS tree, or null when o is not reachable. */
export function pathTo(s: HeapSnapshot, tree: ShortestPathTree, o: number): PathHop[] | null {
  const rev: number[] = [];
  let v = o;
  let guard = 0;
  while (v !== s.rootOrdinal) {
    const e = tree.parentEdge[v]!;
    if (e < 0) return null;
    rev.push(e);
    v = tree.parentNode[v]!;
    if (++guard > s.nodeCount) return null;
  }
  return hopsFromEdges(s, rev.reverse(), o);
}

function hopsFromEdges(s: HeapSnapshot, edges: number[], last: number): PathHop[] {
  const hops: PathHop[] = [];
  let v = s.rootOrdinal;
  for (const e of edges) {
    if (v !== s.rootOrdinal) hops.push({ id: s.nodeId[v]!, node: nodeLabel(s, v), edge: edgeLabel(s, e) });
    v = s.edgeTo[e]!;
  }
  hops.push({ id: s.nodeId[last]!, node: nodeLabel(s, last) });
  return hops;
}

/** `(GC roots) -> global .cache -> Map {table} -> ... -> Session @123` */
export function renderChain(hops: readonly PathHop[], withId = true): string {
  const parts = ['(GC roots)'];
  hops.forEach((h, i) => {
    if (i === 0 && h.node === '(GC roots)') return;
    const last = i === hops.length - 1;
    parts.push(`${h.node}${h.edge ? ` ${h.edge}` : ''}${last && withId ? ` @${h.id}` : ''}`);
  });
  return parts.join(' -> ');
}

/** Path shape for grouping: element indexes are erased (`[17]` -> `[]`), ids dropped. */
export function pathSignature(hops: readonly PathHop[]): string {
  return renderChain(
    hops.map((h) => (h.edge ? { ...h, edge: h.edge.replace(/^\[\d+\]$/, '[]').replace(/^\{\d+\}$/, '{}') } : h)),
    false,
  );
}

export type PathTarget = { readonly id: number } | { readonly className: string };

/**
 * Up to k retainer paths. For `{id}`: the shortest path, then shortest paths through the node's
 * other retainers. For `{className}` (class key or DevTools class name): the shortest path of
 * every instance, grouped by shape, the k most common shapes.
 */
export function retainerPaths(s: HeapSnapshot, target: PathTarget, k = 3, retained?: Float64Array): RetainerPath[] {
  if (!s.edgeName) throw new HeapSnapshotError(s.file, 'loaded without edge names; retainer paths need them');
  const tree = shortestPathTree(s);
  if ('id' in target) {
    let o = -1;
    for (let i = 0; i < s.nodeCount; i++) if (s.nodeId[i] === target.id) { o = i; break; }
    if (o < 0) throw new HeapSnapshotError(s.file, `no node with id @${target.id}`);
    const out: RetainerPath[] = [];
    const seen = new Set<string>();
    const add = (hops: PathHop[] | null) => {
      if (!hops) return;
      const chain = renderChain(hops);
      if (seen.has(chain)) return;
      seen.add(chain);
      out.push({ chain, hops, count: 1, retained: retained ? retained[o]! : 0 });
    };
    add(pathTo(s, tree, o));
    // other retainers of o, each with its own shortest path
    const ok = makeEdgeFilter(s);
    const alts: Array<{ hops: PathHop[] }> = [];
    for (let v = 0; v < s.nodeCount; v++) {
      for (let e = s.firstEdge[v]!, end = s.firstEdge[v + 1]!; e < end; e++) {
        if (s.edgeTo[e] !== o || !ok(v, e) || tree.parentEdge[o] === e) continue;
        const head = v === s.rootOrdinal ? [] : pathTo(s, tree, v);
        if (!head) continue;
        const tail = head.length > 0 ? [...head.slice(0, -1), { ...head[head.length - 1]!, edge: edgeLabel(s, e) }] : [];
        alts.push({ hops: [...tail, { id: s.nodeId[o]!, node: nodeLabel(s, o) }] });
      }
    }
    alts.sort((a, b) => a.hops.length - b.hops.length);
    for (const a of alts) {
      if (out.length >= k) break;
      add(a.hops);
    }
    return out.slice(0, k);
  }
  const cls = classify(s, 'key');
  const wanted = new Uint8Array(cls.classes.length);
  let any = false;
  cls.classes.forEach((c, i) => {
    if (c.key === target.className || c.name === target.className) {
      wanted[i] = 1;
      any = true;
    }
  });
  if (!any) throw new HeapSnapshotError(s.file, `no class named "${target.className}"`);
  const groups = new Map<string, { hops: PathHop[]; count: number; retained: number }>();
  for (let o = 0; o < s.nodeCount; o++) {
    if (!wanted[cls.classOf[o]!]) continue;
    const hops = pathTo(s, tree, o);
    if (!hops) continue;
    const sig = pathSignature(hops);
    const g = groups.get(sig);
    const r = retained ? retained[o]! : 0;
    if (g) {
      g.count++;
      g.retained += r;
    } else groups.set(sig, { hops, count: 1, retained: r });
  }
  return [...groups.values()]
    .sort((a, b) => b.count - a.count || b.retained - a.retained)
    .slice(0, k)
    .map((g) => ({ chain: renderChain(g.hops), hops: g.hops, count: g.count, retained: g.retained }));
}
