// Class-level comparison of two summaries (possibly from different processes): classes are
// matched by key; a key present on one side only is then matched by class name when exactly one
// unmatched key of that name exists on each side (code moved lines between deploys). What
// multiplied is set apart from what holds it (growth.ts).
import type { ClassStat, HeapSummary } from './classes.ts';
import { splitGrowth } from './growth.ts';
import type { HolderDelta } from './growth.ts';

export interface ClassDelta {
  readonly key: string;
  readonly name: string;
  /** Key in the base snapshot when matched by name after the location changed. */
  readonly baseKey?: string;
  /** What holds the class in the target snapshot (ClassStat.heldBy); empty when it is gone. */
  readonly heldBy: ClassStat['heldBy'];
  readonly status: 'new' | 'gone' | 'changed' | 'same';
  readonly count: { readonly base: number; readonly target: number; readonly delta: number };
  readonly self: { readonly base: number; readonly target: number; readonly delta: number };
  readonly retained: { readonly base: number; readonly target: number; readonly delta: number };
}

export interface HeapDiff {
  readonly base: string;
  readonly target: string;
  readonly totals: {
    readonly nodes: { readonly base: number; readonly target: number; readonly delta: number };
    readonly selfSize: { readonly base: number; readonly target: number; readonly delta: number };
  };
  /** Classes whose instances multiplied, by growth of retained size: what to look at first. */
  readonly multiplied: ClassDelta[];
  /** Classes that grew because they hold what multiplied, with the classes each holds. */
  readonly holders: HolderDelta[];
  /** All classes, by growth (Δretained, then Δself) descending. */
  readonly classes: ClassDelta[];
  readonly newClasses: string[];
}

const d = (base: number, target: number) => ({ base, target, delta: target - base });

export function diffSummaries(a: HeapSummary, b: HeapSummary): HeapDiff {
  const baseBy = new Map<string, ClassStat>(a.classes.map((c) => [c.key, c]));
  const targetBy = new Map<string, ClassStat>(b.classes.map((c) => [c.key, c]));
  const pairs: Array<[ClassStat | undefined, ClassStat | undefined]> = [];
  const onlyBase: ClassStat[] = [];
  const onlyTarget: ClassStat[] = [];
  for (const c of b.classes) {
    const m = baseBy.get(c.key);
    if (m) pairs.push([m, c]);
    else onlyTarget.push(c);
  }
  for (const c of a.classes) if (!targetBy.has(c.key)) onlyBase.push(c);
  // fall back to the class name for keys whose location changed
  const group = (xs: ClassStat[]) => {
    const m = new Map<string, ClassStat[]>();
    for (const x of xs) {
      const l = m.get(x.name);
      if (l) l.push(x);
      else m.set(x.name, [x]);
    }
    return m;
  };
  const gb = group(onlyBase);
  const gt = group(onlyTarget);
  const matchedBase = new Set<ClassStat>();
  for (const t of onlyTarget) {
    const bs = gb.get(t.name);
    const ts = gt.get(t.name);
    if (bs && ts && bs.length === 1 && ts.length === 1 && t.location && bs[0]!.location) {
      pairs.push([bs[0], t]);
      matchedBase.add(bs[0]!);
    } else pairs.push([undefined, t]);
  }
  for (const x of onlyBase) if (!matchedBase.has(x)) pairs.push([x, undefined]);

  const classes: ClassDelta[] = pairs.map(([x, y]) => {
    const ref = (y ?? x)!;
    const count = d(x?.count ?? 0, y?.count ?? 0);
    const self = d(x?.self ?? 0, y?.self ?? 0);
    const retained = d(x?.retained ?? 0, y?.retained ?? 0);
    const status = !x ? 'new' : !y ? 'gone' : count.delta === 0 && self.delta === 0 && retained.delta === 0 ? 'same' : 'changed';
    const delta: ClassDelta = { key: ref.key, name: ref.name, status, count, self, retained, heldBy: y?.heldBy ?? [] };
    return x && y && x.key !== y.key ? { ...delta, baseKey: x.key } : delta;
  });
  classes.sort((p, q) => q.retained.delta - p.retained.delta || q.self.delta - p.self.delta || q.count.delta - p.count.delta || (p.key < q.key ? -1 : 1));
  return {
    base: a.file,
    target: b.file,
    totals: { nodes: d(a.totals.nodes, b.totals.nodes), selfSize: d(a.totals.selfSize, b.totals.selfSize) },
    ...splitGrowth(classes, b),
    classes,
    newClasses: classes.filter((c) => c.status === 'new').map((c) => c.key),
  };
}
