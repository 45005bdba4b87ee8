// What grew between two snapshots, split the way a reader needs it: the classes whose instances
// multiplied (the leak), and apart from them the holders, which grew only because they hold what
// multiplied (the global object, the Map or Array a leak sits in, the closure context of a
// module-level variable). Listing both by retained growth puts the holders first; this is the one
// place that tells them apart (`heap diff`, `heap leaks` and `tailtrace diagnose` use it).
import type { HeapSummary } from './classes.ts';
import type { ClassDelta } from './diff.ts';

/** Engine groups and the global object: not classes anyone wrote. */
export const isGenericClass = (name: string): boolean => name.startsWith('(') || name.startsWith('system / ') || name === 'global' || name === 'Window';

export interface HolderDelta extends ClassDelta {
  /** Keys of the classes that grew which this class holds (its instances are their nearest holder). */
  readonly holds: string[];
}

export interface Growth {
  /** Classes whose instances multiplied, by growth of retained size. */
  readonly multiplied: ClassDelta[];
  /** Classes that grew because they hold what multiplied, largest growth first. */
  readonly holders: HolderDelta[];
}

/**
 * Top retainers the target must be analyzed with for splitGrowth to see containers: enough to
 * reach past the chain of roots (global, native contexts, module records) to them.
 */
export const GROWTH_TOP_RETAINERS = 500;

/** Holders listed: the containers worth naming are few. */
const HOLDERS = 5;

/**
 * A class is a holder when its count did not grow, when one of its instances retains at least
 * half its growth (a container the growth sits in: a module-level variable's context, the one
 * Array a leak is pushed onto; needs `cur` analyzed with topRetainers), or when a named class
 * with at least 10x as many new instances grew by a similar retained size (between half and 1.1x
 * of the class's own growth: a holder retains at least what it holds).
 * `cur` must come from analyze() with topRetainers >= GROWTH_TOP_RETAINERS.
 */
export function splitGrowth(classes: readonly ClassDelta[], cur: HeapSummary): Growth {
  const grown = classes.filter((c) => c.retained.delta > 0 || (c.retained.delta === 0 && c.count.delta > 0));
  const named = grown.filter((c) => !isGenericClass(c.name) && c.count.delta > 0);
  const concentrated = (c: ClassDelta): boolean => cur.topRetainers.some((r) => r.key === c.key && r.retained >= c.retained.delta / 2);
  const holder = (c: ClassDelta): boolean =>
    c.count.delta <= 0 ||
    concentrated(c) ||
    named.some((x) => x !== c && x.count.delta >= 10 * Math.max(c.count.delta, 1) && x.retained.delta >= c.retained.delta / 2 && x.retained.delta <= c.retained.delta * 1.1);
  const multiplied = grown.filter((c) => !holder(c));
  // only holders of a size that can be holding the growth: small ones are noise
  const floor = (multiplied[0]?.retained.delta ?? 0) / 2;
  const listed = grown.filter((c) => holder(c) && c.retained.delta >= floor).slice(0, HOLDERS);
  const heldBy = new Map(cur.classes.map((c) => [c.key, c.heldBy]));
  const shown = new Set([...multiplied, ...listed].map((c) => c.key));
  const holders = listed.map((h) => ({
    ...h,
    holds: [...shown].filter((key) => key !== h.key && (heldBy.get(key) ?? []).some((x) => x.key === h.key)),
  }));
  return { multiplied, holders };
}
