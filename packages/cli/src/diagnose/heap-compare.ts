// What grew in the heap: v8 statistics and the heap-after-GC trend of each side's newest bundle,
// the engine's class diff of two snapshots, and the sampling heap profile diff by allocation site.
import type { PprofProfile } from '@tailtrace/formats';
import { diffSummaries } from '@tailtrace/heap';
import type { ClassDelta, HeapSummary } from '@tailtrace/heap';
import { originOf, packageOf, serviceRoot } from './origin.ts';
import type { Origin } from './origin.ts';
import type { EvidenceBundle } from './read.ts';
import type { ClassGrowth, HeapSideStats, HeapTrend, ProfileDiff, SiteGrowth, SnapshotDiff } from './types.ts';

/** Least-squares line through (time, heap used after GC); null below 2 points or a zero time span. */
export function heapTrend(points: ReadonlyArray<{ atMs: number; usedBytes: number }>): HeapTrend | null {
  if (points.length < 2) return null;
  const ps = [...points].sort((a, b) => a.atMs - b.atMs);
  const n = ps.length;
  const mx = ps.reduce((s, p) => s + p.atMs, 0) / n;
  const my = ps.reduce((s, p) => s + p.usedBytes, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of ps) {
    sxx += (p.atMs - mx) ** 2;
    sxy += (p.atMs - mx) * (p.usedBytes - my);
  }
  if (sxx === 0) return null;
  return { points: n, spanMs: ps[n - 1]!.atMs - ps[0]!.atMs, firstBytes: ps[0]!.usedBytes, lastBytes: ps[n - 1]!.usedBytes, slopeBytesPerMin: (sxy / sxx) * 60_000 };
}

export function heapSideStats(b: EvidenceBundle | undefined): HeapSideStats | null {
  if (!b) return null;
  const { statistics: st, memoryUsage: mu, heapAfterGc } = b.heap;
  const fromWindow = b.runtime.window.heapUsedAfterGcBytes;
  const last = heapAfterGc.length ? [...heapAfterGc].sort((x, y) => x.atMs - y.atMs).at(-1)!.usedBytes : (fromWindow.at(-1) ?? null);
  return {
    dir: b.dir,
    usedHeapBytes: st['used_heap_size']!,
    heapLimitBytes: st['heap_size_limit'] ?? null,
    rssBytes: mu['rss'] ?? null,
    externalBytes: mu['external'] ?? st['external_memory'] ?? null,
    usedAfterGcBytes: last,
    trend: heapTrend(heapAfterGc),
  };
}

const delta = (base: number, target: number) => ({ base, target, delta: target - base });

/**
 * Engine diff of two analyzed snapshots: the classes whose instances multiplied, and apart from
 * them the holders with what they hold (the engine's splitGrowth, as `tailtrace heap diff`
 * shows it). Needs `cur` analyzed with topRetainers; the class table cannot show which
 * instances contain which, `tailtrace heap retainers` can.
 */
export function snapshotDiff(base: HeapSummary, cur: HeapSummary, top: number): SnapshotDiff {
  const d = diffSummaries(base, cur);
  const row = (c: ClassDelta): ClassGrowth => ({
    key: c.key,
    name: c.name,
    ...(c.baseKey ? { baseKey: c.baseKey } : {}),
    status: c.status,
    count: { ...c.count },
    self: { ...c.self },
    retained: { ...c.retained },
    heldBy: c.heldBy.map((h) => ({ ...h })),
  });
  return {
    baseline: d.base,
    current: d.target,
    totals: { nodes: { ...d.totals.nodes }, selfSize: { ...d.totals.selfSize } },
    classes: d.multiplied.slice(0, top).map(row),
    holders: d.holders.map((h) => ({ ...row(h), holds: [...h.holds] })),
  };
}

interface Site {
  functionName: string;
  file: string;
  line: number;
  origin: Origin;
  calledBy: 'tailtrace' | 'opentelemetry' | null;
  via: Set<string>;
  bytes: number;
  objects: number;
  stack: string[];
  stackBytes: number;
}

const MAX_FRAMES = 8;
const cleanFile = (f: string): string => f.replace(/^file:\/\//, '');

/**
 * Whose code allocated: the site's file, and for the service's or a dependency's code called
 * back by instrumentation (a span processor, an exporter), the instrumentation that called it:
 * the nearest caller in another file.
 */
function originAt(frames: ReadonlyArray<{ file: string }>, at: number): { origin: Origin; calledBy: 'tailtrace' | 'opentelemetry' | null } {
  const file = frames[at]?.file ?? '';
  const origin = originOf(file);
  if (origin !== 'service' && origin !== 'dependency') return { origin, calledBy: null };
  const caller = frames.slice(at + 1).find((f) => f.file !== '' && f.file !== file);
  const by = caller ? originOf(caller.file) : null;
  return { origin, calledBy: by === 'tailtrace' || by === 'opentelemetry' ? by : null };
}

/** In-use bytes and objects per allocation site of a sampling heap profile. */
export function profileSites(p: PprofProfile): Map<string, Site> {
  const spaceIdx = p.sampleTypes.findIndex((t) => t.type === 'inuse_space');
  const objIdx = p.sampleTypes.findIndex((t) => t.type === 'inuse_objects');
  const fns = new Map(p.functions.map((f) => [f.id, f]));
  const locs = new Map(p.locations.map((l) => [l.id, l]));
  const frames = (locId: number): Array<{ name: string; file: string; line: number }> => {
    const l = locs.get(locId);
    if (!l) return [{ name: `(location ${locId})`, file: '', line: 0 }];
    if (l.lines.length === 0) return [{ name: `0x${l.address.toString(16)}`, file: '', line: 0 }];
    return l.lines.map((ln) => {
      const f = fns.get(ln.functionId);
      return { name: f?.name || '(anonymous)', file: cleanFile(f?.filename ?? ''), line: ln.line };
    });
  };
  const label = (f: { name: string; file: string; line: number }) => (f.file ? `${f.name} ${f.file}:${f.line}` : f.name);
  const out = new Map<string, Site>();
  for (const s of p.samples) {
    const bytes = spaceIdx >= 0 ? (s.values[spaceIdx] ?? 0) : 0;
    const objects = objIdx >= 0 ? (s.values[objIdx] ?? 0) : 0;
    if (bytes === 0 && objects === 0) continue;
    const all = s.locationIds.flatMap(frames);
    // the site is the first frame with a source file: a builtin leaf (String.prototype.repeat,
    // JSON.parse, Buffer.alloc) allocates on behalf of the code that called it
    const at = Math.max(0, all.findIndex((f) => f.file !== ''));
    const frame = all[at] ?? { name: '(no stack)', file: '', line: 0 };
    const key = label(frame);
    let site = out.get(key);
    if (!site) out.set(key, (site = { functionName: frame.name, file: frame.file, line: frame.line, ...originAt(all, at), via: new Set(), bytes: 0, objects: 0, stack: [], stackBytes: -1 }));
    for (const f of all.slice(0, at)) site.via.add(f.name);
    site.bytes += bytes;
    site.objects += objects;
    if (bytes > site.stackBytes) {
      site.stackBytes = bytes;
      site.stack = all.slice(0, MAX_FRAMES).map(label);
    }
  }
  return out;
}

/** Sites whose sampled in-use bytes grew from `base` (null: nothing, all current is growth) to `cur`. */
export function profileDiff(base: PprofProfile | null, cur: PprofProfile, top: number, files: { baseline: string | null; current: string }): ProfileDiff {
  const b = base ? profileSites(base) : new Map<string, Site>();
  const c = profileSites(cur);
  const sum = (m: Map<string, Site>, f: (s: Site) => number) => [...m.values()].reduce((s, x) => s + f(x), 0);
  const sites: SiteGrowth[] = [];
  for (const [key, s] of c) {
    const o = b.get(key);
    const g: SiteGrowth = {
      site: key,
      functionName: s.functionName,
      file: s.file,
      line: s.line,
      origin: s.origin,
      package: packageOf(s.file),
      calledBy: s.calledBy,
      via: [...s.via].sort(),
      inuseBytes: delta(o?.bytes ?? 0, s.bytes),
      inuseObjects: delta(o?.objects ?? 0, s.objects),
      stack: s.stack,
    };
    if (g.inuseBytes.delta > 0) sites.push(g);
  }
  sites.sort((x, y) => y.inuseBytes.delta - x.inuseBytes.delta || y.inuseObjects.delta - x.inuseObjects.delta || (x.site < y.site ? -1 : 1));
  return {
    baseline: files.baseline,
    current: files.current,
    serviceRoot: serviceRoot(cur.functions.map((f) => cleanFile(f.filename))),
    totals: { inuseBytes: delta(sum(b, (s) => s.bytes), sum(c, (s) => s.bytes)), inuseObjects: delta(sum(b, (s) => s.objects), sum(c, (s) => s.objects)) },
    sites: sites.slice(0, top),
  };
}
