// memlab-style leak finding across three snapshots of ONE process: objects allocated after
// BASELINE (node id above its highest id; V8 ids grow monotonically within a process), present
// in TARGET and still alive in FINAL. In FINAL only the leaked objects not dominated by another
// leaked object are reported, grouped by the shape of their shortest retainer path, ranked by
// retained size.
import { classify } from './classes.ts';
import { computeDominators } from './graph.ts';
import type { OwnershipRule } from './graph.ts';
import { readHeapSnapshot } from './parser.ts';
import { pathSignature, pathTo, renderChain, shortestPathTree } from './paths.ts';
import type { PathHop } from './paths.ts';
import type { HeapSnapshot } from './types.ts';

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

export interface LeakReport {
  readonly baseline: string;
  readonly target: string;
  readonly final: string;
  /** Objects allocated between BASELINE and TARGET still alive in FINAL. */
  readonly leakedObjects: number;
  readonly leakedRetained: number;
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

export async function findLeaks(baseline: Input, target: Input, final: Input, opts: LeakOptions = {}): Promise<LeakReport> {
  // one snapshot in memory at a time for the first two
  let baseMax = 0;
  let baseFile: string;
  {
    const b = await load(baseline, false);
    baseFile = b.file;
    for (let o = 0; o < b.nodeCount; o++) if (b.nodeId[o]! > baseMax) baseMax = b.nodeId[o]!;
  }
  let targetIds: Uint32Array;
  let targetFile: string;
  {
    const t = await load(target, false);
    targetFile = t.file;
    let k = 0;
    const ids = new Uint32Array(t.nodeCount);
    for (let o = 0; o < t.nodeCount; o++) if (t.nodeId[o]! > baseMax) ids[k++] = t.nodeId[o]!;
    targetIds = ids.slice(0, k).sort();
  }
  const f = await load(final, true);
  const tree = computeDominators(f, { ownership: opts.ownership ?? 'devtools' });
  const cls = classify(f, 'key');
  const n = f.nodeCount;
  const candidateType = new Uint8Array(f.nodeTypes.length);
  f.nodeTypes.forEach((t, i) => (candidateType[i] = CANDIDATE_TYPES.has(t) ? 1 : 0));
  const has = (id: number): boolean => {
    let lo = 0;
    let hi = targetIds.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = targetIds[mid]!;
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
  const { order, dominator, retained } = tree;
  for (let i = 1; i < n; i++) {
    const o = order[i]!;
    const d = dominator[o]!;
    under[o] = leaked[d]! | under[d]!;
  }
  const spt = shortestPathTree(f);
  const groups = new Map<string, { hops: PathHop[]; best: number; count: number; retained: number; classes: Map<string, number>; ids: number[] }>();
  let leakedRetained = 0;
  for (let o = 0; o < n; o++) {
    if (!leaked[o] || under[o]) continue;
    leakedRetained += retained[o]!;
    const hops = pathTo(f, spt, o);
    if (!hops) continue;
    const sig = pathSignature(hops);
    let g = groups.get(sig);
    if (!g) {
      g = { hops, best: -1, count: 0, retained: 0, classes: new Map(), ids: [] };
      groups.set(sig, g);
    }
    g.count++;
    g.retained += retained[o]!;
    if (retained[o]! > g.best) {
      g.best = retained[o]!;
      g.hops = hops;
    }
    const key = cls.classes[cls.classOf[o]!]!.key;
    g.classes.set(key, (g.classes.get(key) ?? 0) + 1);
    if (g.ids.length < 5) g.ids.push(f.nodeId[o]!);
  }
  const out: LeakGroup[] = [...groups.values()]
    .sort((a, b) => b.retained - a.retained || b.count - a.count)
    .slice(0, opts.top ?? 20)
    .map((g) => ({
      chain: renderChain(g.hops),
      hops: g.hops,
      count: g.count,
      retained: g.retained,
      classes: [...g.classes].sort((a, b) => b[1] - a[1]).map(([key, count]) => ({ key, count })),
      exampleIds: g.ids,
    }));
  return { baseline: baseFile, target: targetFile, final: f.file, leakedObjects, leakedRetained, groups: out };
}
