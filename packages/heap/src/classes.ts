// Class keys and the class table. A node's class is what DevTools shows in its Summary view
// (constructor name for objects, `(closure)`, `(string)`, `(system)`, ...), refined by the
// allocation location V8 records for functions and for objects made by a user constructor
// (`Session @12:3`), so classes from two different processes can be matched by key.
import { computeDominators, dominatedChildren, holderRule, takeSpare } from './graph.ts';
import type { OwnershipRule } from './graph.ts';
import type { DominatorTree, HeapSnapshot } from './types.ts';

export interface SourceLocation {
  readonly scriptId: number;
  /** 1-based */
  readonly line: number;
  /** 1-based */
  readonly column: number;
}

export interface ClassInfo {
  /** Class key: DevTools class name plus ` @line:column` when V8 recorded a location. */
  readonly key: string;
  /** DevTools class name (`Session`, `(closure)`, `(string)`, ...). */
  readonly name: string;
  readonly location?: SourceLocation;
}

export interface ClassStat extends ClassInfo {
  /** Nodes of the class (DevTools counts only nodes with a self size, or native nodes). */
  count: number;
  /** Sum of self sizes, bytes. */
  self: number;
  /** Retained size of the class: sum over its instances not dominated by another instance. */
  retained: number;
  /**
   * What holds the class: the classes of the nearest object, closure or closure context that
   * dominates each of its outermost instances, the most retained bytes first (at most 3).
   */
  heldBy: Array<{ readonly key: string; readonly count: number; readonly retained: number }>;
}

export interface TopRetainer {
  readonly id: number;
  readonly key: string;
  readonly name: string;
  readonly type: string;
  readonly self: number;
  readonly retained: number;
}

export interface HeapTotals {
  readonly nodes: number;
  readonly edges: number;
  /** Sum of all self sizes, bytes. */
  readonly selfSize: number;
  /** Retained size of the root: what is reachable through retaining edges (plus orphans). */
  readonly reachableSize: number;
}

export interface HeapSummary {
  readonly file: string;
  readonly totals: HeapTotals;
  /** Every class, by retained size descending. */
  readonly classes: ClassStat[];
  /** The nodes with the largest retained sizes (synthetic roots excluded). */
  readonly topRetainers: TopRetainer[];
}

export type GroupBy = 'key' | 'name';

export interface ClassifyResult {
  readonly classOf: Uint32Array;
  readonly classes: ClassInfo[];
}

export function devtoolsClassName(type: string, name: string): string {
  switch (type) {
    case 'hidden':
      return '(system)';
    case 'object':
    case 'native':
      return name;
    case 'code':
      return '(compiled code)';
    default:
      return `(${type})`;
  }
}

/**
 * Assigns every node a class id. groupBy 'name' ignores locations (plain DevTools classes).
 * `into`: an array of at least nodeCount entries to build the result in (analyze passes one the
 * dominator computation has done with).
 */
export function classify(s: HeapSnapshot, groupBy: GroupBy = 'key', into?: Uint32Array): ClassifyResult {
  const n = s.nodeCount;
  const classOf = into && into.length >= n ? into.subarray(0, n) : new Uint32Array(n);
  const classes: ClassInfo[] = [];
  const byKey = new Map<string, number>();
  const intern = (key: string, name: string, location?: SourceLocation): number => {
    let id = byKey.get(key);
    if (id === undefined) {
      id = classes.length;
      classes.push(location ? { key, name, location } : { key, name });
      byKey.set(key, id);
    }
    return id;
  };
  const types = s.nodeTypes;
  const typeClass = new Int32Array(types.length).fill(-1);
  const objectLike = new Uint8Array(types.length);
  const closureType = types.indexOf('closure');
  for (let t = 0; t < types.length; t++) {
    const tn = types[t]!;
    if (tn === 'object' || tn === 'native') objectLike[t] = 1;
    else typeClass[t] = intern(devtoolsClassName(tn, ''), devtoolsClassName(tn, ''));
  }
  const byName = new Int32Array(s.strings.length).fill(-1);

  const { nodeType, nodeName, strings } = s;
  // (closure?, name) -> (line, column) -> class id, with numbers for keys: building the class
  // key string for every located node was the loop's main cost.
  const located = new Map<number, Map<number | string, number>>();
  const locatedClass = (t: number, nameIdx: number, script: number, line: number, col: number): number => {
    const outer = nameIdx * 2 + (t === closureType ? 1 : 0);
    let byPos = located.get(outer);
    if (!byPos) located.set(outer, (byPos = new Map()));
    // keys that stay small integers (no heap number per lookup): source code, then minified
    // code (a long first line); anything else by string
    const pos = line < 262_144 && col < 4096 ? line * 4096 + col : line < 1024 && col < 1_048_576 ? -1 - (col * 1024 + line) : `${line}:${col}`;
    let id = byPos.get(pos);
    if (id === undefined) {
      const location = { scriptId: script, line: line + 1, column: col + 1 };
      const name = t === closureType ? '(closure)' : strings.get(nameIdx);
      const key = t === closureType ? `(closure) ${strings.get(nameIdx) || '(anonymous)'} @${location.line}:${location.column}` : `${name} @${location.line}:${location.column}`;
      id = intern(key, name, location);
      byPos.set(pos, id);
    }
    return id;
  };
  // Objects and closures with an allocation location first, straight from the locations (in
  // whatever order V8 wrote them: no sort, no copy); then every node not classed yet.
  const UNSET = 0xffffffff;
  classOf.fill(UNSET);
  const locs = s.locations;
  if (groupBy === 'key') {
    for (let i = 0; i < locs.length; i += 4) {
      const o = locs[i]!;
      const t = nodeType[o]!;
      if ((objectLike[t] || t === closureType) && classOf[o] === UNSET) classOf[o] = locatedClass(t, nodeName[o]!, locs[i + 1]!, locs[i + 2]!, locs[i + 3]!);
    }
  }
  for (let o = 0; o < n; o++) {
    if (classOf[o] !== UNSET) continue;
    const t = nodeType[o]!;
    if (objectLike[t]) {
      const nameIdx = nodeName[o]!;
      let id = byName[nameIdx]!;
      if (id < 0) {
        const name = strings.get(nameIdx);
        id = intern(name, name);
        byName[nameIdx] = id;
      }
      classOf[o] = id;
    } else {
      classOf[o] = typeClass[t]!;
    }
  }
  return { classOf, classes };
}

export interface AnalyzeOptions {
  ownership?: OwnershipRule;
  groupBy?: GroupBy;
  /** How many top retainers to report. Default 20. */
  topRetainers?: number;
  /** Reuse an already computed dominator tree. */
  tree?: DominatorTree;
}

/** (class, holder class) -> count and retained of the class's outermost instances, most retained first per class. */
class HeldBy {
  readonly #k: number;
  readonly #slots = new Map<number, number>();
  #keys: number[] = [];
  #count = new Float64Array(1024);
  #retained = new Float64Array(1024);
  // Most instances of a class sit in the same kind of holder as the one before: a per-class
  // cache of the last pair keeps the Map out of the loop.
  readonly #lastHolder: Int32Array;
  readonly #lastSlot: Int32Array;

  constructor(k: number) {
    this.#k = k;
    this.#lastHolder = new Int32Array(k).fill(-1);
    this.#lastSlot = new Int32Array(k);
  }

  add(c: number, h: number, r: number): void {
    let slot: number;
    if (this.#lastHolder[c] === h) slot = this.#lastSlot[c]!;
    else {
      const key = c * this.#k + h;
      slot = this.#slots.get(key) ?? -1;
      if (slot < 0) {
        slot = this.#keys.length;
        this.#keys.push(key);
        this.#slots.set(key, slot);
        if (slot === this.#count.length) {
          const a = new Float64Array(slot * 2); a.set(this.#count); this.#count = a;
          const b = new Float64Array(slot * 2); b.set(this.#retained); this.#retained = b;
        }
      }
      this.#lastHolder[c] = h;
      this.#lastSlot[c] = slot;
    }
    this.#count[slot]!++;
    this.#retained[slot] = this.#retained[slot]! + r;
  }

  /** Per class, its holders (at most 3), the most retained bytes first: one context holding a leak outranks a thousand holding a little. */
  lists(classes: readonly ClassInfo[]): Map<number, ClassStat['heldBy']> {
    const out = new Map<number, ClassStat['heldBy']>();
    this.#keys.forEach((key, slot) => {
      const c = Math.floor(key / this.#k);
      let list = out.get(c);
      if (!list) out.set(c, (list = []));
      list.push({ key: classes[key % this.#k]!.key, count: this.#count[slot]!, retained: this.#retained[slot]! });
    });
    for (const [c, list] of out) out.set(c, list.sort((a, b) => b.retained - a.retained || b.count - a.count).slice(0, 3));
    return out;
  }
}

/**
 * Walks the dominator tree: an instance adds its retained size to its class unless an instance
 * of the same class dominates it (so nested instances are not counted twice). Each frame carries
 * the nearest holder above it (graph.ts holderRule), whose class holds the instance.
 */
function walkDominatorTree(s: HeapSnapshot, tree: DominatorTree, classOf: Uint32Array, k: number): { retainedBy: Float64Array; held: HeldBy } {
  const retainedBy = new Float64Array(k);
  const held = new HeldBy(k);
  const nativeType = s.nodeTypes.indexOf('native');
  const { selfSize, nodeType, nodeName } = s;
  const { first, child } = dominatedChildren(tree);
  const active = new Uint32Array(k);
  const { retained } = tree;
  const { types: holderType, hidden: hiddenType, context: contextName } = holderRule(s);
  let stackNode = new Uint32Array(4096);
  let stackCursor = new Uint32Array(4096);
  let stackActive = new Uint8Array(4096);
  let stackHolder = new Int32Array(4096);
  let top = 0;
  let o = tree.order[0]!;
  let above = -1;
  for (;;) {
    // enter o: its frame, and whether it is an outermost instance of its class
    if (top === stackNode.length) {
      const a = new Uint32Array(top * 2); a.set(stackNode); stackNode = a;
      const b = new Uint32Array(top * 2); b.set(stackCursor); stackCursor = b;
      const c = new Uint8Array(top * 2); c.set(stackActive); stackActive = c;
      const d = new Int32Array(top * 2); d.set(stackHolder); stackHolder = d;
    }
    const c = classOf[o]!;
    const t = nodeType[o]!;
    let act = 0;
    if (active[c] === 0 && (selfSize[o]! > 0 || t === nativeType)) {
      retainedBy[c] = retainedBy[c]! + retained[o]!;
      active[c]!++;
      act = 1;
      if (above >= 0) held.add(c, classOf[above]!, retained[o]!);
    }
    stackNode[top] = o;
    stackCursor[top] = first[o]!;
    stackActive[top] = act;
    stackHolder[top] = holderType[t] === 1 || (t === hiddenType && contextName >= 0 && nodeName[o] === contextName) ? o : above;
    top++;
    // next: the first unvisited child of the deepest frame that has one, leaving finished frames
    let next = -1;
    while (top > 0) {
      const i = top - 1;
      const v = stackNode[i]!;
      const cur = stackCursor[i]!;
      if (cur < first[v + 1]!) {
        stackCursor[i] = cur + 1;
        next = child[cur]!;
        above = stackHolder[i]!;
        break;
      }
      if (stackActive[i]) active[classOf[v]!]!--;
      top--;
    }
    if (next < 0) return { retainedBy, held };
    o = next;
  }
}

/** Class statistics. `counted` nodes: self size > 0 or native (DevTools' rule). */
export function classStats(s: HeapSnapshot, tree: DominatorTree, cls: ClassifyResult): ClassStat[] {
  const { classOf, classes } = cls;
  const k = classes.length;
  const count = new Float64Array(k);
  const self = new Float64Array(k);
  const nativeType = s.nodeTypes.indexOf('native');
  const { selfSize, nodeType } = s;
  for (let o = 0; o < s.nodeCount; o++) {
    if (!(selfSize[o]! > 0 || nodeType[o] === nativeType)) continue;
    const c = classOf[o]!;
    count[c]!++;
    self[c] = self[c]! + selfSize[o]!;
  }
  const { retainedBy, held } = walkDominatorTree(s, tree, classOf, k);
  const heldBy = held.lists(classes);
  const out: ClassStat[] = [];
  for (let c = 0; c < k; c++) {
    if (count[c] === 0) continue;
    out.push({ ...classes[c]!, count: count[c]!, self: self[c]!, retained: retainedBy[c]!, heldBy: heldBy.get(c) ?? [] });
  }
  out.sort((a, b) => b.retained - a.retained || b.self - a.self || (a.key < b.key ? -1 : 1));
  return out;
}

/** The `limit` nodes with the largest retained size, excluding synthetic nodes. */
export function topRetainers(s: HeapSnapshot, tree: DominatorTree, cls: ClassifyResult, limit: number): TopRetainer[] {
  const synthetic = s.nodeTypes.indexOf('synthetic');
  const { retained } = tree;
  // small binary min-heap of ordinals keyed by retained size
  const heap: number[] = [];
  const less = (a: number, b: number): boolean => retained[a]! < retained[b]!;
  const n = s.nodeCount;
  for (let o = 0; o < n; o++) {
    if (s.nodeType[o] === synthetic || o === s.rootOrdinal) continue;
    if (heap.length === limit) {
      if (limit === 0 || !less(heap[0]!, o)) continue;
      heap[0] = o;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    } else {
      heap.push(o);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!less(heap[i]!, heap[p]!)) break;
        [heap[i], heap[p]] = [heap[p]!, heap[i]!];
        i = p;
      }
    }
  }
  heap.sort((a, b) => retained[b]! - retained[a]!);
  return heap.map((o) => {
    const c = cls.classes[cls.classOf[o]!]!;
    return {
      id: s.nodeId[o]!,
      key: c.key,
      name: c.name,
      type: s.nodeTypes[s.nodeType[o]!]!,
      self: s.selfSize[o]!,
      retained: retained[o]!,
    };
  });
}

/** Totals, the class table and the largest retainers of one snapshot. */
export function analyze(s: HeapSnapshot, opts: AnalyzeOptions = {}): HeapSummary {
  const tree = opts.tree ?? computeDominators(s, { ownership: opts.ownership ?? 'devtools' });
  const cls = classify(s, opts.groupBy ?? 'key', takeSpare(tree, s.nodeCount) ?? undefined);
  return {
    file: s.file,
    totals: { nodes: s.nodeCount, edges: s.edgeCount, selfSize: s.totalSelfSize, reachableSize: tree.retained[s.rootOrdinal]! },
    classes: classStats(s, tree, cls),
    topRetainers: topRetainers(s, tree, cls, opts.topRetainers ?? 20),
  };
}
