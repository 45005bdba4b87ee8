// Graph algorithms on the columnar snapshot: which edges retain (the rules Chrome DevTools
// applies), the retainer index (reverse edges, CSR), the dominator tree (Lengauer-Tarjan
// semidominators + the SEMI-NCA idom pass, all iterative) and retained sizes.
import type { DominatorTree, HeapSnapshot } from './types.ts';

/**
 * Which nodes count as "page owned" (DevTools' pageObject flag). Edges from a node that is not
 * page owned into a page-owned node are ignored for dominators, so objects that some internal
 * root also points at (the debugger, caches of the runtime) are still attributed to the
 * application's own objects.
 *  - 'devtools': page owned = reachable from the root's shortcut edges (the global object(s))
 *    and the "(Document DOM trees)" root, as Chrome DevTools does.
 *  - 'memlab': page owned = reachable from the root's non-shortcut edges, as memlab 2.x does
 *    (in practice nearly every node, so the rule rarely bites).
 */
export type OwnershipRule = 'devtools' | 'memlab';

export interface EdgeCodes {
  readonly weak: number;
  readonly shortcut: number;
  readonly element: number;
  readonly hidden: number;
  readonly internal: number;
  readonly property: number;
  readonly context: number;
}

export function edgeCodes(s: HeapSnapshot): EdgeCodes {
  const i = (n: string): number => s.edgeTypes.indexOf(n);
  return {
    weak: i('weak'),
    shortcut: i('shortcut'),
    element: i('element'),
    hidden: i('hidden'),
    internal: i('internal'),
    property: i('property'),
    context: i('context'),
  };
}

/** True when edges of this type carry a numeric index rather than a string-table name. */
export function edgeHasIndexName(s: HeapSnapshot, type: number): boolean {
  const n = s.edgeTypes[type];
  return n === 'element' || n === 'hidden';
}

function isDomTreesRoot(s: HeapSnapshot, o: number): boolean {
  return s.nodeTypes[s.nodeType[o]!] === 'synthetic' && s.strings.get(s.nodeName[o]!) === '(Document DOM trees)';
}

/** Marks page-owned nodes (1) per the ownership rule. */
export function markPageOwned(s: HeapSnapshot, rule: OwnershipRule = 'devtools'): Uint8Array {
  const n = s.nodeCount;
  const flags = new Uint8Array(n);
  const { firstEdge, edgeType, edgeTo } = s;
  const { weak, shortcut, element } = edgeCodes(s);
  const root = s.rootOrdinal;
  const stack = new Uint32Array(n);
  let top = 0;
  for (let e = firstEdge[root]!, end = firstEdge[root + 1]!; e < end; e++) {
    const t = edgeType[e]!;
    const w = edgeTo[e]!;
    let seed: boolean;
    if (rule === 'devtools') seed = t === shortcut || (t === element && isDomTreesRoot(s, w));
    else seed = t !== shortcut && !(t === element && isDomTreesRoot(s, w));
    if (seed && !flags[w]) {
      flags[w] = 1;
      stack[top++] = w;
    }
  }
  while (top > 0) {
    const v = stack[--top]!;
    for (let e = firstEdge[v]!, end = firstEdge[v + 1]!; e < end; e++) {
      const w = edgeTo[e]!;
      if (flags[w] || edgeType[e] === weak) continue;
      flags[w] = 1;
      stack[top++] = w;
    }
  }
  return flags;
}

/** Reverse edges in CSR layout: retainers of node o are retainerNode[firstRetainer[o] .. firstRetainer[o+1]-1]. */
export interface RetainerIndex {
  readonly firstRetainer: Uint32Array;
  readonly retainerNode: Uint32Array;
  /** 1 when the node has a retainer other than weak or shortcut edges. */
  readonly strongRetained: Uint8Array;
}

/**
 * Builds the retainer index restricted to the edges that retain for dominator purposes
 * (DevTools' isEssentialEdge plus the page-ownership rule; self edges dropped).
 */
export function buildEssentialRetainers(s: HeapSnapshot, flags: Uint8Array): RetainerIndex {
  const n = s.nodeCount;
  const { firstEdge, edgeType, edgeTo } = s;
  const { weak, shortcut } = edgeCodes(s);
  const root = s.rootOrdinal;
  const firstRetainer = new Uint32Array(n + 1);
  const strongRetained = new Uint8Array(n);
  let total = 0;
  for (let v = 0; v < n; v++) {
    const fv = flags[v]!;
    for (let e = firstEdge[v]!, end = firstEdge[v + 1]!; e < end; e++) {
      const t = edgeType[e]!;
      const w = edgeTo[e]!;
      if (t === weak) continue;
      if (t !== shortcut) strongRetained[w] = 1;
      else if (v !== root) continue;
      if (v === w) continue;
      if (v !== root && flags[w]! && !fv) continue;
      firstRetainer[w]!++;
      total++;
    }
  }
  // prefix sums: firstRetainer[w] becomes the end of w's slot range, filled backwards
  let acc = 0;
  for (let w = 0; w < n; w++) {
    acc += firstRetainer[w]!;
    firstRetainer[w] = acc;
  }
  firstRetainer[n] = acc;
  const retainerNode = new Uint32Array(total);
  for (let v = n - 1; v >= 0; v--) {
    const fv = flags[v]!;
    for (let e = firstEdge[v + 1]! - 1, begin = firstEdge[v]!; e >= begin; e--) {
      const t = edgeType[e]!;
      const w = edgeTo[e]!;
      if (t === weak) continue;
      if (t === shortcut && v !== root) continue;
      if (v === w) continue;
      if (v !== root && flags[w]! && !fv) continue;
      retainerNode[--firstRetainer[w]!] = v;
    }
  }
  return { firstRetainer, retainerNode, strongRetained };
}

export interface DominatorOptions {
  ownership?: OwnershipRule;
}

/**
 * Immediate dominators and retained sizes. Nodes not reachable from the root through retaining
 * edges are attached to the root: first those with only weak/shortcut retainers (and what they
 * reach), then any remaining cycles, as DevTools and memlab do.
 */
export function computeDominators(s: HeapSnapshot, opts: DominatorOptions = {}): DominatorTree {
  const n = s.nodeCount;
  const root = s.rootOrdinal;
  const flags = markPageOwned(s, opts.ownership ?? 'devtools');
  let ret: RetainerIndex | null = buildEssentialRetainers(s, flags);
  const { firstEdge, edgeType, edgeTo, selfSize } = s;
  const { weak, shortcut } = edgeCodes(s);

  // dfs-number space: 1..n (0 = none)
  const num = new Uint32Array(n);
  const vertex = new Uint32Array(n + 1);
  const parent = new Uint32Array(n + 1);
  const semi = new Uint32Array(n + 1);
  const label = new Uint32Array(n + 1);
  const ancestor = new Uint32Array(n + 1);
  let count = 0;

  // Iterative DFS over essential edges; label/ancestor double as the explicit stack.
  const stackNode = label;
  const stackEdge = ancestor;
  const dfs = (start: number, parentNum: number): void => {
    num[start] = ++count;
    vertex[count] = start;
    parent[count] = parentNum;
    let top = 0;
    stackNode[0] = start;
    stackEdge[0] = firstEdge[start]!;
    while (top >= 0) {
      const v = stackNode[top]!;
      const end = firstEdge[v + 1]!;
      let e = stackEdge[top]!;
      let pushed = false;
      const fv = flags[v]!;
      while (e < end) {
        const t = edgeType[e]!;
        const w = edgeTo[e]!;
        e++;
        if (num[w] !== 0 || t === weak || (t === shortcut && v !== root)) continue;
        if (v !== root && flags[w]! && !fv) continue;
        num[w] = ++count;
        vertex[count] = w;
        parent[count] = num[v]!;
        stackEdge[top] = e;
        top++;
        stackNode[top] = w;
        stackEdge[top] = firstEdge[w]!;
        pushed = true;
        break;
      }
      if (!pushed) top--;
    }
  };
  dfs(root, 0);
  if (count < n) {
    const strong = ret.strongRetained;
    for (let o = 0; o < n; o++) if (num[o] === 0 && !strong[o]) dfs(o, 1);
    for (let o = 0; o < n; o++) {
      if (num[o] === 0) {
        num[o] = ++count;
        vertex[count] = o;
        parent[count] = 1;
      }
    }
  }

  // Semidominators, in decreasing dfs order, with path-compressed eval.
  for (let i = 1; i <= n; i++) {
    semi[i] = i;
    label[i] = i;
    ancestor[i] = 0;
  }
  const { firstRetainer, retainerNode } = ret;
  let cstack = new Uint32Array(1024);
  for (let w = n; w >= 2; w--) {
    let sw = semi[w]!;
    if (parent[w] === 1) {
      sw = 1;
    } else {
      const o = vertex[w]!;
      for (let r = firstRetainer[o]!, rend = firstRetainer[o + 1]!; r < rend; r++) {
        const v = num[retainerNode[r]!]!;
        let u = v;
        if (ancestor[v] !== 0) {
          // compress(v)
          let x = v;
          let sp = 0;
          while (ancestor[ancestor[x]!] !== 0) {
            if (sp === cstack.length) {
              const b = new Uint32Array(cstack.length * 2);
              b.set(cstack);
              cstack = b;
            }
            cstack[sp++] = x;
            x = ancestor[x]!;
          }
          while (sp > 0) {
            const y = cstack[--sp]!;
            const ay = ancestor[y]!;
            if (semi[label[ay]!]! < semi[label[y]!]!) label[y] = label[ay]!;
            ancestor[y] = ancestor[ay]!;
          }
          u = label[v]!;
        }
        const su = semi[u]!;
        if (su < sw) sw = su;
      }
    }
    semi[w] = sw;
    ancestor[w] = parent[w]!;
  }
  ret = null;

  // SEMI-NCA: idom(w) = nearest common ancestor of parent(w) and semi(w); ancestor[] becomes idom[].
  const idom = ancestor;
  idom[1] = 1;
  for (let w = 2; w <= n; w++) {
    let d = parent[w]!;
    const sw = semi[w]!;
    while (d > sw) d = idom[d]!;
    idom[w] = d;
  }

  const retained = new Float64Array(n);
  for (let o = 0; o < n; o++) retained[o] = selfSize[o]!;
  for (let w = n; w >= 2; w--) {
    const o = vertex[w]!;
    const d = vertex[idom[w]!]!;
    retained[d] = retained[d]! + retained[o]!;
  }
  const dominator = semi.subarray(0, n);
  for (let o = 0; o < n; o++) dominator[o] = vertex[idom[num[o]!]!]!;
  return { dominator, retained, order: vertex.subarray(1, n + 1) };
}

/** Children of every node in the dominator tree (CSR), in dfs order. */
export function dominatedChildren(tree: DominatorTree): { first: Uint32Array; child: Uint32Array } {
  const { dominator, order } = tree;
  const n = dominator.length;
  const first = new Uint32Array(n + 1);
  const root = order[0]!;
  for (let o = 0; o < n; o++) if (o !== root) first[dominator[o]!]!++;
  let acc = 0;
  for (let o = 0; o < n; o++) {
    const c = first[o]!;
    first[o] = acc;
    acc += c;
  }
  first[n] = acc;
  const fill = new Uint32Array(first.subarray(0, n));
  const child = new Uint32Array(acc);
  for (let i = 0; i < n; i++) {
    const o = order[i]!;
    if (o === root) continue;
    const d = dominator[o]!;
    child[fill[d]!++] = o;
  }
  return { first, child };
}
