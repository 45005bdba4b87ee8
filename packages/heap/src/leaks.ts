// memlab-style leak finding across three snapshots of ONE process: objects allocated after
// BASELINE (node id above its highest id; V8 ids grow monotonically within a process), present
// in TARGET and still alive in FINAL. In FINAL only the leaked objects not dominated by another
// leaked object (the leak roots) are reported: by class first (what multiplied), then by holder
// (the nearest object, closure or context that dominates them, with the path to it: the rule
// the class table's heldBy uses), then grouped by the shape
// of their shortest retainer path; each ranked by retained size.
import { classify } from './classes.ts';
import { computeDominators, holderRule, isHolder } from './graph.ts';
import type { OwnershipRule } from './graph.ts';
import { readHeapSnapshot } from './parser.ts';
import { nodeLabel, pathSignature, pathTo, renderChain, shortestPathTree } from './paths.ts';
import type { PathHop } from './paths.ts';
import type { DominatorTree, HeapSnapshot } from './types.ts';

export interface LeakGroup {
  /** Example chain (with the id of the largest member). */
  readonly chain: string;
  readonly hops: PathHop[];
  /** Leak roots in the group. */
  readonly count: number;
  /** Sum of their retained sizes in FINAL, bytes. */
  readonly retained: number;
  /** Classes of the leak roots, most frequent first. */
  readonly classes: Array<{ readonly key: string; readonly count: number }>;
  readonly exampleIds: number[];
}

/** Leak roots of one class: what multiplied. */
export interface LeakClass {
  readonly key: string;
  readonly count: number;
  /** Sum of the roots' retained sizes in FINAL, bytes. */
  readonly retained: number;
  /** The holders of these roots (LeakHolder.label), most roots first. */
  readonly heldBy: Array<{ readonly key: string; readonly count: number }>;
}

/** An object leak roots sit in: the nearest object, closure or context that dominates them. */
export interface LeakHolder {
  /** `Map @1234`: the holder's node label and id. */
  readonly label: string;
  readonly id: number;
  /** The path from the GC roots to the holder (it names the closure variable or property). */
  readonly chain: string;
  /** Leak roots it holds, and their retained size. */
  readonly count: number;
  readonly retained: number;
  /** Classes of the roots it holds, most first. */
  readonly holds: Array<{ readonly key: string; readonly count: number }>;
}

export interface LeakReport {
  readonly baseline: string;
  readonly target: string;
  readonly final: string;
  /** Objects allocated between BASELINE and TARGET still alive in FINAL. */
  readonly leakedObjects: number;
  readonly leakedRetained: number;
  /** What multiplied: leak roots by class, by retained size. */
  readonly classes: LeakClass[];
  /** What holds them, by retained size. */
  readonly holders: LeakHolder[];
  /** Leak roots grouped by the shape of their shortest path, by retained size. */
  readonly groups: LeakGroup[];
}

export interface LeakOptions {
  ownership?: OwnershipRule;
  /** Maximum groups to return. Default 20. */
  top?: number;
}

const CANDIDATE_TYPES = new Set(['object', 'closure', 'regexp', 'native', 'string', 'concatenated string', 'sliced string']);

type Input = string | HeapSnapshot;
const load = async (x: Input, edgeNames: boolean): Promise<HeapSnapshot> => (typeof x === 'string' ? readHeapSnapshot(x, { edgeNames }) : x);

/** Ids in TARGET above BASELINE's highest id (sorted): what was allocated in between. One snapshot in memory at a time. */
async function newIds(baseline: Input, target: Input): Promise<{ baseFile: string; targetFile: string; baseMax: number; ids: Uint32Array }> {
  let baseMax = 0;
  const b = await load(baseline, false);
  for (let o = 0; o < b.nodeCount; o++) if (b.nodeId[o]! > baseMax) baseMax = b.nodeId[o]!;
  const baseFile = b.file;
  const t = await load(target, false);
  let k = 0;
  const ids = new Uint32Array(t.nodeCount);
  for (let o = 0; o < t.nodeCount; o++) if (t.nodeId[o]! > baseMax) ids[k++] = t.nodeId[o]!;
  return { baseFile, targetFile: t.file, baseMax, ids: ids.slice(0, k).sort() };
}

/** The leak roots of FINAL: leaked objects that no other leaked object dominates (1), and how many objects leaked. */
function leakRoots(f: HeapSnapshot, tree: DominatorTree, baseMax: number, ids: Uint32Array): { roots: Uint8Array; leakedObjects: number } {
  const n = f.nodeCount;
  const candidateType = new Uint8Array(f.nodeTypes.length);
  f.nodeTypes.forEach((t, i) => (candidateType[i] = CANDIDATE_TYPES.has(t) ? 1 : 0));
  const has = (id: number): boolean => {
    let lo = 0;
    let hi = ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = ids[mid]!;
      if (v === id) return true;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  };
  const leaked = new Uint8Array(n);
  let leakedObjects = 0;
  for (let o = 0; o < n; o++) {
    const id = f.nodeId[o]!;
    if (id > baseMax && candidateType[f.nodeType[o]!] && f.selfSize[o]! > 0 && has(id)) {
      leaked[o] = 1;
      leakedObjects++;
    }
  }
  // under[o]: some proper dominator of o is leaked (order lists dominators first)
  const under = new Uint8Array(n);
  const { order, dominator } = tree;
  for (let i = 1; i < n; i++) {
    const o = order[i]!;
    const d = dominator[o]!;
    under[o] = leaked[d]! | under[d]!;
  }
  for (let o = 0; o < n; o++) leaked[o] = leaked[o]! & (under[o]! ^ 1);
  return { roots: leaked, leakedObjects };
}

type Counts = Map<string, number>;
const bump = (m: Counts, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
const byCount = (m: Counts) => [...m].sort((a, b) => b[1] - a[1]).map(([key, count]) => ({ key, count }));

export async function findLeaks(baseline: Input, target: Input, final: Input, opts: LeakOptions = {}): Promise<LeakReport> {
  const { baseFile, targetFile, baseMax, ids } = await newIds(baseline, target);
  const f = await load(final, true);
  const tree = computeDominators(f, { ownership: opts.ownership ?? 'devtools' });
  const cls = classify(f, 'key');
  const { roots, leakedObjects } = leakRoots(f, tree, baseMax, ids);
  const { dominator, retained } = tree;
  const spt = shortestPathTree(f);
  const rule = holderRule(f);
  const groups = new Map<string, { hops: PathHop[]; best: number; count: number; retained: number; classes: Counts; ids: number[] }>();
  const byClass = new Map<string, { count: number; retained: number; heldBy: Counts }>();
  const holders = new Map<number, { label: string; id: number; chain: string; count: number; retained: number; holds: Counts }>();
  let leakedRetained = 0;
  for (let o = 0; o < f.nodeCount; o++) {
    if (!roots[o]) continue;
    const r = retained[o]!;
    leakedRetained += r;
    const key = cls.classes[cls.classOf[o]!]!.key;
    let c = byClass.get(key);
    if (!c) byClass.set(key, (c = { count: 0, retained: 0, heldBy: new Map() }));
    c.count++;
    c.retained += r;
    // the holder: the nearest object, closure or context that dominates the root (the rule
    // heldBy uses), with the shortest path to it
    let hold = dominator[o]!;
    while (hold !== f.rootOrdinal && !isHolder(f, rule, hold)) hold = dominator[hold]!;
    if (hold !== f.rootOrdinal) {
      let h = holders.get(hold);
      if (!h) {
        const to = pathTo(f, spt, hold);
        h = { label: `${nodeLabel(f, hold)} @${f.nodeId[hold]}`, id: f.nodeId[hold]!, chain: to ? renderChain(to) : '(not reachable from the GC roots)', count: 0, retained: 0, holds: new Map() };
        holders.set(hold, h);
      }
      h.count++;
      h.retained += r;
      bump(h.holds, key);
      bump(c.heldBy, h.label);
    }
    const hops = pathTo(f, spt, o);
    if (!hops) continue;
    const sig = pathSignature(hops);
    let g = groups.get(sig);
    if (!g) groups.set(sig, (g = { hops, best: -1, count: 0, retained: 0, classes: new Map(), ids: [] }));
    g.count++;
    g.retained += r;
    if (r > g.best) {
      g.best = r;
      g.hops = hops;
    }
    bump(g.classes, key);
    if (g.ids.length < 5) g.ids.push(f.nodeId[o]!);
  }
  const top = opts.top ?? 20;
  return {
    baseline: baseFile,
    target: targetFile,
    final: f.file,
    leakedObjects,
    leakedRetained,
    classes: [...byClass].sort((a, b) => b[1].retained - a[1].retained || b[1].count - a[1].count).slice(0, top).map(([key, c]) => ({ key, count: c.count, retained: c.retained, heldBy: byCount(c.heldBy).slice(0, 3) })),
    holders: [...holders.values()].sort((a, b) => b.retained - a.retained || b.count - a.count).slice(0, top).map((h) => ({ ...h, holds: byCount(h.holds).slice(0, 3) })),
    groups: [...groups.values()]
      .sort((a, b) => b.retained - a.retained || b.count - a.count)
      .slice(0, top)
      .map((g) => ({ chain: renderChain(g.hops), hops: g.hops, count: g.count, retained: g.retained, classes: byCount(g.classes), exampleIds: g.ids })),
  };
}
