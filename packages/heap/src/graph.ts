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

// Which edges retain for dominator purposes (written out inline in each loop below, for speed):
// DevTools' isEssentialEdge (never weak edges, shortcut edges only from the root, no self
// edges) and the page-ownership rule (an edge from a node that is not page owned into one that
// is does not count).

export interface DominatorOptions {
  ownership?: OwnershipRule;
}

/** Iterative DFS over essential edges from `start`, numbering what it reaches; returns the last number used. */
function numberFrom(s: HeapSnapshot, flags: Uint8Array, start: number, parentNum: number, count: number, num: Uint32Array, vertex: Uint32Array, parent: Uint32Array, stackNode: Uint32Array, stackEdge: Uint32Array): number {
  const { firstEdge, edgeType, edgeTo } = s;
  const { weak, shortcut } = edgeCodes(s);
  const root = s.rootOrdinal;
  num[start] = ++count;
  vertex[count] = start;
  parent[count] = parentNum;
  let top = 0;
  stackNode[0] = start;
  stackEdge[0] = firstEdge[start]!;
  while (top >= 0) {
    const v = stackNode[top]!;
    const end = firstEdge[v + 1]!;
    const fromRoot = v === root;
    // edges from a node that is not page owned into one that is do not retain
    const ownedBlocked = !fromRoot && flags[v] === 0;
    const nv = num[v]!;
    let e = stackEdge[top]!;
    let pushed = false;
    while (e < end) {
      const w = edgeTo[e]!;
      const t = edgeType[e]!;
      e++;
      if (num[w] !== 0 || t === weak || (t === shortcut && !fromRoot)) continue;
      if (ownedBlocked && flags[w] === 1) continue;
      num[w] = ++count;
      vertex[count] = w;
      parent[count] = nv;
      stackEdge[top] = e;
      top++;
      stackNode[top] = w;
      stackEdge[top] = firstEdge[w]!;
      pushed = true;
      break;
    }
    if (!pushed) top--;
  }
  return count;
}

/** Step 1: how many essential retainers each node has (by ordinal), and which have a strong one. */
function countRetainers(s: HeapSnapshot, flags: Uint8Array): { counts: Uint32Array; strong: Uint8Array; total: number } {
  const n = s.nodeCount;
  const root = s.rootOrdinal;
  const { firstEdge, edgeType, edgeTo } = s;
  const { weak, shortcut } = edgeCodes(s);
  const counts = new Uint32Array(n + 1);
  const strong = new Uint8Array(n);
  let total = 0;
  for (let v = 0; v < n; v++) {
    const fromRoot = v === root;
    const ownedBlocked = !fromRoot && flags[v] === 0;
    for (let e = firstEdge[v]!, end = firstEdge[v + 1]!; e < end; e++) {
      const t = edgeType[e]!;
      if (t === weak) continue;
      const w = edgeTo[e]!;
      if (t !== shortcut) strong[w] = 1;
      else if (!fromRoot) continue;
      if (v === w || (ownedBlocked && flags[w] === 1)) continue;
      counts[w]!++;
      total++;
    }
  }
  return { counts, strong, total };
}

/**
 * Step 3: the retainers in DFS space, contiguous by w. `ancestor` holds where each w's range
 * starts and, once filled, where it ends; the ends then move into `num` (free until the end,
 * where it is rebuilt from `vertex`), so no separate index array is needed: memory is the limit.
 * Returns the retainers; predEnd (= num) then ends w's range at predEnd[w - 1].
 */
function retainersByNumber(s: HeapSnapshot, flags: Uint8Array, counts: Uint32Array, total: number, num: Uint32Array, vertex: Uint32Array, ancestor: Uint32Array): Uint32Array {
  const n = s.nodeCount;
  const root = s.rootOrdinal;
  const { firstEdge, edgeType, edgeTo } = s;
  const { weak, shortcut } = edgeCodes(s);
  let acc = 0;
  for (let w = 1; w <= n; w++) {
    ancestor[w] = acc;
    acc += counts[vertex[w]!]!;
  }
  const pred = new Uint32Array(total);
  for (let v = 0; v < n; v++) {
    const fromRoot = v === root;
    const ownedBlocked = !fromRoot && flags[v] === 0;
    const nv = num[v]!;
    for (let e = firstEdge[v]!, end = firstEdge[v + 1]!; e < end; e++) {
      const t = edgeType[e]!;
      if (t === weak || (t === shortcut && !fromRoot)) continue;
      const w = edgeTo[e]!;
      if (v === w || (ownedBlocked && flags[w] === 1)) continue;
      pred[ancestor[num[w]!]!++] = nv;
    }
  }
  for (let w = 1; w <= n; w++) num[w - 1] = ancestor[w]!;
  return pred;
}

/**
 * Step 4: semidominators, in decreasing DFS order, with path-compressed eval; `ancestor` is the
 * link-eval forest and `label` its labels. The retainers of w are pred[predEnd[w - 2] ..
 * predEnd[w - 1] - 1] (w = 1 starts at 0).
 */
function semidominators(n: number, pred: Uint32Array, predEnd: Uint32Array, parent: Uint32Array, semi: Uint32Array, label: Uint32Array, ancestor: Uint32Array): void {
  for (let i = 1; i <= n; i++) {
    semi[i] = i;
    label[i] = i;
    ancestor[i] = 0;
  }
  let cstack = new Uint32Array(1024);
  for (let w = n; w >= 2; w--) {
    let sw = semi[w]!;
    // a child of the root (or a node hung under it) has the root, number 1, as semidominator
    if (parent[w] === 1) sw = 1;
    else {
      for (let r = predEnd[w - 2]!, rend = predEnd[w - 1]!; r < rend; r++) {
        const v = pred[r]!;
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
}

/**
 * Immediate dominators and retained sizes. Nodes not reachable from the root through retaining
 * edges are attached to the root: first those with only weak/shortcut retainers (and what they
 * reach), then any remaining cycles, as DevTools and memlab do.
 *
 * Everything after the DFS works in DFS-number space: the retainers of w are stored as the DFS
 * numbers of its retainers, contiguous by w, so the semidominator loop reads them in order and
 * never looks a number up.
 */
export function computeDominators(s: HeapSnapshot, opts: DominatorOptions = {}): DominatorTree {
  const n = s.nodeCount;
  const flags = markPageOwned(s, opts.ownership ?? 'devtools');
  const { counts, strong, total } = countRetainers(s, flags);

  // 2. DFS numbers 1..n: from the root, then from nodes with only weak retainers, then the rest.
  const num = new Uint32Array(n);
  const vertex = new Uint32Array(n + 1);
  const parent = new Uint32Array(n + 1);
  const semi = new Uint32Array(n + 1);
  const ancestor = new Uint32Array(n + 1);
  let count = numberFrom(s, flags, s.rootOrdinal, 0, 0, num, vertex, parent, semi, ancestor);
  if (count < n) {
    for (let o = 0; o < n; o++) if (num[o] === 0 && !strong[o]) count = numberFrom(s, flags, o, 1, count, num, vertex, parent, semi, ancestor);
    for (let o = 0; o < n; o++) {
      if (num[o] === 0) {
        num[o] = ++count;
        vertex[count] = o;
        parent[count] = 1;
      }
    }
  }

  const pred = retainersByNumber(s, flags, counts, total, num, vertex, ancestor);
  const label = counts; // counts are spent; its n + 1 slots become `label`
  semidominators(n, pred, num, parent, semi, label, ancestor);

  // 5. SEMI-NCA: idom(w) = nearest common ancestor of parent(w) and semi(w); ancestor[] becomes idom[].
  const idom = ancestor;
  idom[1] = 1;
  for (let w = 2; w <= n; w++) {
    let d = parent[w]!;
    const sw = semi[w]!;
    while (d > sw) d = idom[d]!;
    idom[w] = d;
  }

  // 6. Retained sizes, every node added to its dominator after its own descendants. They go in
  // the retainer array's memory when it is large enough (it is spent).
  for (let w = 1; w <= n; w++) num[vertex[w]!] = w;
  const retained = pred.byteLength >= n * 8 ? new Float64Array(pred.buffer, 0, n) : new Float64Array(n);
  const selfSize = s.selfSize;
  for (let o = 0; o < n; o++) retained[o] = selfSize[o]!;
  for (let w = n; w >= 2; w--) {
    const o = vertex[w]!;
    const d = vertex[idom[w]!]!;
    retained[d] = retained[d]! + retained[o]!;
  }
  const dominator = semi.subarray(0, n);
  for (let o = 0; o < n; o++) dominator[o] = vertex[idom[num[o]!]!]!;
  const tree = { dominator, retained, order: vertex.subarray(1, n + 1) };
  // spent arrays of at least n: what classifies and walks the tree next builds in them
  scratch.set(tree, [num, parent, ancestor]);
  return tree;
}

/** Arrays computeDominators no longer needs (peak memory is the limit, not time). */
const scratch = new WeakMap<DominatorTree, Uint32Array[]>();

/** One array of at least nodeCount entries that computeDominators has done with, or null; each is given once. */
export function takeSpare(tree: DominatorTree, length: number): Uint32Array | null {
  const list = scratch.get(tree);
  const at = list ? list.findIndex((a) => a.length >= length) : -1;
  return at < 0 ? null : list!.splice(at, 1)[0]!;
}

/**
 * What counts as a holder of other objects: an object, closure or native node, or a closure's
 * context (`system / Context`). Internal arrays and property stores between a holder and what it
 * holds are how it holds, not holders. One rule for `heldBy` (classes.ts) and leak holders.
 */
export interface HolderRule {
  /** 1 for node types that are holders. */
  readonly types: Uint8Array;
  readonly hidden: number;
  /** String index of 'system / Context', -1 when absent. */
  readonly context: number;
}

export function holderRule(s: HeapSnapshot): HolderRule {
  const types = new Uint8Array(s.nodeTypes.length);
  for (const t of ['object', 'closure', 'native']) if (s.nodeTypes.includes(t)) types[s.nodeTypes.indexOf(t)] = 1;
  return { types, hidden: s.nodeTypes.indexOf('hidden'), context: s.strings.indexOf('system / Context') };
}

export const isHolder = (s: HeapSnapshot, r: HolderRule, o: number): boolean => {
  const t = s.nodeType[o]!;
  return r.types[t] === 1 || (t === r.hidden && r.context >= 0 && s.nodeName[o] === r.context);
};

/** Children of every node in the dominator tree (CSR), in dfs order. */
export function dominatedChildren(tree: DominatorTree): { first: Uint32Array; child: Uint32Array } {
  const { dominator, order } = tree;
  const n = dominator.length;
  const first = takeSpare(tree, n + 1)?.fill(0) ?? new Uint32Array(n + 1);
  const root = order[0]!;
  for (let o = 0; o < n; o++) if (o !== root) first[dominator[o]!]!++;
  let acc = 0;
  for (let o = 0; o <= n; o++) {
    acc += first[o]!;
    first[o] = acc; // end of o's range; the fill below walks it back to the start
  }
  const child = takeSpare(tree, acc)?.subarray(0, acc) ?? new Uint32Array(acc);
  for (let i = n - 1; i >= 0; i--) {
    const o = order[i]!;
    if (o === root) continue;
    child[--first[dominator[o]!]!] = o;
  }
  return { first, child };
}
