// Class keys and the class table. A node's class is what DevTools shows in its Summary view
// (constructor name for objects, `(closure)`, `(string)`, `(system)`, ...), refined by the
// allocation location V8 records for functions and for objects made by a user constructor
// (`Session @12:3`), so classes from two different processes can be matched by key.
import { computeDominators, dominatedChildren } from './graph.ts';
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

/** Assigns every node a class id. groupBy 'name' ignores locations (plain DevTools classes). */
export function classify(s: HeapSnapshot, groupBy: GroupBy = 'key'): ClassifyResult {
  const n = s.nodeCount;
  const classOf = new Uint32Array(n);
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

  // locations, sorted by node ordinal (V8 writes them in node order; sort if not)
  let locs = s.locations;
  const lc = locs.length / 4;
  let sorted = true;
  for (let i = 1; i < lc; i++) if (locs[i * 4]! < locs[(i - 1) * 4]!) { sorted = false; break; }
  if (!sorted) {
    const idx = Array.from({ length: lc }, (_, i) => i).sort((a, b) => locs[a * 4]! - locs[b * 4]!);
    const l2 = new Uint32Array(locs.length);
    idx.forEach((from, to) => l2.set(locs.subarray(from * 4, from * 4 + 4), to * 4));
    locs = l2;
  }
  const useLoc = groupBy === 'key' && lc > 0;
  let li = 0;
  const { nodeType, nodeName, strings } = s;
  let lastKey = '';
  let lastId = -1;
  for (let o = 0; o < n; o++) {
    const t = nodeType[o]!;
    let hasLoc = false;
    if (useLoc) {
      while (li < lc && locs[li * 4]! < o) li++;
      hasLoc = li < lc && locs[li * 4] === o;
    }
    if (hasLoc && (objectLike[t] || t === closureType)) {
      const nameIdx = nodeName[o]!;
      const line = locs[li * 4 + 2]!;
      const col = locs[li * 4 + 3]!;
      const k = `${t}:${nameIdx}:${line}:${col}`;
      if (k === lastKey) {
        classOf[o] = lastId;
        continue;
      }
      const location = { scriptId: locs[li * 4 + 1]!, line: line + 1, column: col + 1 };
      let name: string;
      let key: string;
      if (t === closureType) {
        name = '(closure)';
        key = `(closure) ${strings.get(nameIdx) || '(anonymous)'} @${location.line}:${location.column}`;
      } else {
        name = strings.get(nameIdx);
        key = `${name} @${location.line}:${location.column}`;
      }
      lastKey = k;
      lastId = intern(key, name, location);
      classOf[o] = lastId;
      continue;
    }
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

/** Class statistics. `counted` nodes: self size > 0 or native (DevTools' rule). */
export function classStats(s: HeapSnapshot, tree: DominatorTree, cls: ClassifyResult): ClassStat[] {
  const { classOf, classes } = cls;
  const k = classes.length;
  const count = new Float64Array(k);
  const self = new Float64Array(k);
  const retainedBy = new Float64Array(k);
  const nativeType = s.nodeTypes.indexOf('native');
  const { selfSize, nodeType } = s;
  const n = s.nodeCount;
  const counted = (o: number): boolean => selfSize[o]! > 0 || nodeType[o] === nativeType;
  for (let o = 0; o < n; o++) {
    if (!counted(o)) continue;
    const c = classOf[o]!;
    count[c]!++;
    self[c] = self[c]! + selfSize[o]!;
  }
  // Walk the dominator tree; an instance adds its retained size unless an instance of the same
  // class dominates it (so nested instances are not counted twice).
  const { first, child } = dominatedChildren(tree);
  const active = new Uint32Array(k);
  const { retained } = tree;
  let stackNode = new Uint32Array(4096);
  let stackCursor = new Uint32Array(4096);
  let stackActive = new Uint8Array(4096);
  let top = 0;
  const push = (o: number): void => {
    if (top === stackNode.length) {
      const a = new Uint32Array(top * 2); a.set(stackNode); stackNode = a;
      const b = new Uint32Array(top * 2); b.set(stackCursor); stackCursor = b;
      const c = new Uint8Array(top * 2); c.set(stackActive); stackActive = c;
    }
    const c = classOf[o]!;
    let act = 0;
    if (active[c] === 0 && counted(o)) {
      retainedBy[c] = retainedBy[c]! + retained[o]!;
      active[c]!++;
      act = 1;
    }
    stackNode[top] = o;
    stackCursor[top] = first[o]!;
    stackActive[top] = act;
    top++;
  };
  push(tree.order[0]!);
  while (top > 0) {
    const i = top - 1;
    const o = stackNode[i]!;
    const cur = stackCursor[i]!;
    if (cur < first[o + 1]!) {
      stackCursor[i] = cur + 1;
      push(child[cur]!);
    } else {
      if (stackActive[i]) active[classOf[o]!]!--;
      top--;
    }
  }
  const out: ClassStat[] = [];
  for (let c = 0; c < k; c++) {
    if (count[c] === 0) continue;
    out.push({ ...classes[c]!, count: count[c]!, self: self[c]!, retained: retainedBy[c]! });
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
  const cls = classify(s, opts.groupBy ?? 'key');
  let selfTotal = 0;
  for (let o = 0; o < s.nodeCount; o++) selfTotal += s.selfSize[o]!;
  return {
    file: s.file,
    totals: { nodes: s.nodeCount, edges: s.edgeCount, selfSize: selfTotal, reachableSize: tree.retained[s.rootOrdinal]! },
    classes: classStats(s, tree, cls),
    topRetainers: topRetainers(s, tree, cls, opts.topRetainers ?? 20),
  };
}
