// Ranked suspects, each with the numbers behind it and the file they came from.
//
// Ranking rule (deterministic; no weights to tune):
// 1. A change becomes a suspect only when it is big enough to matter (the constants below).
// 2. Its score is the share of the current value that the change explains, (current - baseline)
//    / current, in 0..1: a class retaining 1 MiB -> 91 MiB of a 136 MiB heap scores 0.66; GC
//    pauses 1.2 -> 4.1 s/min score 0.71.
// 3. Things code can be changed at rank first: heap classes (exact, from snapshots), then
//    allocation sites (sampled estimates) in the service's code and its dependencies; then
//    runtime symptoms (GC, heap trend, event-loop delay and utilization), which are usually how
//    a leak or hot code shows up, by score; last, allocation sites inside tailtrace,
//    OpenTelemetry or the Node runtime (or code they call back), labelled as such.
//    Ties: the kind order below, then the title.
// 4. Heap classes: only classes whose instance count grew (holders - the global object, the Map
//    a leak sits in - are named as evidence instead); a generic group ((string), (array), ...)
//    that grew less than a named class above it is listed as that class's contents; an
//    allocation site whose stack names a suspect class is evidence for that class.
import { join } from 'node:path';
import { fmtChange, fmtMs, formatBytes, num, signedBytes, signedNum } from './format.ts';
import { isGenericClass } from '@tailtrace/heap';
import type { EvidenceBundle } from './read.ts';
import { isInstrumentation } from './origin.ts';
import type { HeapComparison, RuntimeComparison, SiteGrowth, Suspect, SuspectKind } from './types.ts';

const MiB = 1024 * 1024;
/** A class or site must grow by this much and make up this share of the current heap/profile. */
const MIN_GROWTH_BYTES = MiB;
const MIN_GROWTH_SHARE = 0.02;
const MAX_PER_HEAP_KIND = 3;
/** GC pause time per minute: ratio and absolute floor. */
const GC_RATIO = 1.5;
const GC_MIN_DELTA_MS_PER_MIN = 100;
/** Event-loop delay p99: ratio and floor. */
const EL_RATIO = 1.5;
const EL_MIN_DELTA_MS = 5;
/** Event-loop utilization: saturated at, and rise by. */
const ELU_SATURATED = 0.9;
const ELU_MIN_RISE = 0.1;
/** Heap after GC: growth share and floor. */
const HEAP_MIN_SHARE = 0.1;

const ORDER: readonly SuspectKind[] = ['heap_class', 'allocation_site', 'gc', 'heap_trend', 'event_loop', 'event_loop_utilization'];
const share = (base: number, cur: number): number => (cur > 0 ? Math.min(1, Math.max(0, (cur - base) / cur)) : 0);

function filesOf(bundles: readonly EvidenceBundle[], pick: (b: EvidenceBundle) => string): string {
  if (bundles.length === 0) return '(none)';
  const last = join(bundles.at(-1)!.dir, pick(bundles.at(-1)!));
  return bundles.length === 1 ? last : `${last} and ${bundles.length - 1} more`;
}

/** 0: the service's code, 1: a dependency, 2: tailtrace, OpenTelemetry, Node, or code they call back. */
export const siteRank = (s: SiteGrowth): number => (isInstrumentation(s.origin) || s.calledBy !== null ? 2 : s.origin === 'dependency' ? 1 : 0);

const ORIGIN_NAMES = { tailtrace: 'tailtrace', opentelemetry: 'OpenTelemetry', node: 'Node.js runtime' } as const;

/** ` [OpenTelemetry]`, ` [dependency @grpc/grpc-js]`, ` [called by tailtrace]`; nothing for the service's own code. */
export function originTag(s: SiteGrowth): string {
  if (s.origin === 'tailtrace' || s.origin === 'opentelemetry' || s.origin === 'node') return ` [${ORIGIN_NAMES[s.origin]}]`;
  const via = s.calledBy ? `called by ${ORIGIN_NAMES[s.calledBy]}` : '';
  if (s.origin === 'dependency') return ` [dependency${s.package ? ` ${s.package}` : ''}${via ? `, ${via}` : ''}]`;
  return via ? ` [${via}]` : '';
}

export function rankSuspects(
  heap: HeapComparison,
  runtime: RuntimeComparison,
  sides: { baseline: readonly EvidenceBundle[]; current: readonly EvidenceBundle[] },
): Suspect[] {
  const out: Array<Omit<Suspect, 'rank'>> = [];
  const grownSites = heap.profile?.sites ?? [];

  // a site that corroborates a class is evidence for the class, not a second suspect
  const folded = new Set<string>();
  const snap = heap.snapshot;
  if (snap) {
    const total = snap.totals.selfSize.target;
    const holders = snap.holders.filter((x) => !isGenericClass(x.name)).slice(0, 2);
    const grown = snap.classes.filter((x) => x.retained.delta >= MIN_GROWTH_BYTES && x.retained.delta / Math.max(total, 1) >= MIN_GROWTH_SHARE);
    const listed: typeof grown = [];
    for (const c of grown) {
      if (listed.length === MAX_PER_HEAP_KIND) break;
      // a generic group that grew less than a named class above it is most likely that class's contents
      const owner = isGenericClass(c.name) ? listed.find((x) => !isGenericClass(x.name) && x.retained.delta >= c.retained.delta) : undefined;
      if (owner) {
        out.find((x) => x.title.startsWith(`${owner.name} grew`))?.evidence.push(`${c.name} grew with it: ${signedNum(c.count.delta)} objects, ${signedBytes(c.retained.delta)} retained (most likely its contents)`);
        continue;
      }
      listed.push(c);
      const evidence = [
        `${c.key}: ${signedNum(c.count.delta)} objects (${num(c.count.base)} → ${num(c.count.target)}), retained ${formatBytes(c.retained.base)} → ${formatBytes(c.retained.target)} (${signedBytes(c.retained.delta)}), ${((100 * c.retained.target) / Math.max(total, 1)).toFixed(0)}% of the current heap (snapshot diff ${snap.baseline} → ${snap.current})`,
      ];
      if (holders.length) {
        evidence.push(
          `held by ${holders.map((h) => `${h.key} (${signedBytes(h.retained.delta)} retained, ${h.count.delta === 0 ? 'count unchanged' : `${signedNum(h.count.delta)} objects`})`).join(', ')}; the path: tailtrace heap retainers ${snap.current} --class ${c.name}`,
        );
      }
      const word = new RegExp(`(^|[^\\w$])${c.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w$])`);
      const site = grownSites.find((x) => !folded.has(x.site) && x.stack.some((f) => word.test(f)));
      if (site) {
        folded.add(site.site);
        evidence.push(`the sampling heap profile agrees: allocation site ${site.site} grew ${signedBytes(site.inuseBytes.delta)} in use, stack ${site.stack.slice(0, 4).join(' ← ')} (${heap.profile!.current})`);
      }
      out.push({ kind: 'heap_class', title: `${c.name} grew ${signedBytes(c.retained.delta)} retained (${signedNum(c.count.delta)} objects)`, score: c.retained.delta / Math.max(total, 1), evidence });
    }
  }

  const prof = heap.profile;
  if (prof) {
    const total = prof.totals.inuseBytes.target;
    // the service's own code first, then its dependencies, then what instrumentation allocated
    const sites = prof.sites
      .filter((x) => !folded.has(x.site) && x.inuseBytes.delta >= MIN_GROWTH_BYTES && x.inuseBytes.delta / Math.max(total, 1) >= MIN_GROWTH_SHARE)
      .sort((x, y) => siteRank(x) - siteRank(y));
    for (const s of sites.slice(0, MAX_PER_HEAP_KIND)) {
      out.push({
        kind: 'allocation_site',
        origin: siteRank(s) === 2 ? 'instrumentation' : s.origin === 'dependency' ? 'dependency' : 'service',
        title: `allocation site ${s.site}${originTag(s)} grew ${signedBytes(s.inuseBytes.delta)} in use`,
        score: s.inuseBytes.delta / Math.max(total, 1),
        evidence: [
          `sampled in-use ${formatBytes(s.inuseBytes.base)} → ${formatBytes(s.inuseBytes.target)}, objects ${num(s.inuseObjects.base)} → ${num(s.inuseObjects.target)} (${prof.baseline ?? 'no baseline profile'} → ${prof.current})`,
          `stack: ${s.stack.join(' ← ')}`,
        ],
      });
    }
  }

  const b = runtime.baseline;
  const c = runtime.current;
  const runtimeFiles = `${filesOf(sides.baseline, (x) => x.manifest.files.runtime)} → ${filesOf(sides.current, (x) => x.manifest.files.runtime)}`;
  const hb = heap.baseline?.usedAfterGcBytes ?? null;
  const hc = heap.current?.usedAfterGcBytes ?? null;
  const heapGrew = hb !== null && hc !== null && hc - hb >= MIN_GROWTH_BYTES && (hc - hb) / hc >= HEAP_MIN_SHARE;

  if (b && c) {
    const gb = b.gc.pauseMsPerMinute;
    const gcur = c.gc.pauseMsPerMinute;
    if (gcur >= gb * GC_RATIO && gcur - gb >= GC_MIN_DELTA_MS_PER_MIN) {
      const kinds = (['major', 'minor', 'incremental', 'weakcb'] as const)
        .map((k) => ({ k, d: c.gc.byKind[k].pauseMsPerMinute - b.gc.byKind[k].pauseMsPerMinute }))
        .sort((x, y) => y.d - x.d);
      const evidence = [
        `GC pause time ${fmtMs(gb)}/min → ${fmtMs(gcur)}/min (${fmtChange(gb, gcur)}), ${(100 * c.gc.pauseShare).toFixed(1)}% of wall time; ${c.gc.countPerMinute.toFixed(1)} GCs/min (was ${b.gc.countPerMinute.toFixed(1)}); max pause ${fmtMs(b.gc.maxPauseMs)} → ${fmtMs(c.gc.maxPauseMs)} (${runtimeFiles})`,
        `most of the growth is ${kinds[0]!.k} GC: ${fmtMs(b.gc.byKind[kinds[0]!.k].pauseMsPerMinute)}/min → ${fmtMs(c.gc.byKind[kinds[0]!.k].pauseMsPerMinute)}/min`,
      ];
      if (heapGrew) evidence.push(`heap used after GC grew ${formatBytes(hb!)} → ${formatBytes(hc!)}: more live objects to mark on every major GC`);
      out.push({ kind: 'gc', title: `GC pause time ${fmtChange(gb, gcur)} (${fmtMs(gcur)} per minute)`, score: share(gb, gcur), evidence });
    }
  }

  if (heapGrew) {
    const evidence = [`heap used after the last major GC ${formatBytes(hb!)} → ${formatBytes(hc!)} (heap.json: ${heap.baseline!.dir} → ${heap.current!.dir})`];
    const t = heap.current!.trend;
    if (t) evidence.push(`current process trend: ${signedBytes(t.slopeBytesPerMin)}/min over ${(t.spanMs / 60_000).toFixed(1)} min (${t.points} major GCs)`);
    out.push({ kind: 'heap_trend', title: `heap after GC grew ${signedBytes(hc! - hb!)} (${formatBytes(hb!)} → ${formatBytes(hc!)})`, score: share(hb!, hc!), evidence });
  } else {
    const t = heap.current?.trend;
    if (t && t.lastBytes - t.firstBytes >= MIN_GROWTH_BYTES && (t.lastBytes - t.firstBytes) / t.lastBytes >= HEAP_MIN_SHARE && t.slopeBytesPerMin > 0) {
      out.push({
        kind: 'heap_trend',
        title: `heap after GC rising ${signedBytes(t.slopeBytesPerMin)}/min`,
        score: share(t.firstBytes, t.lastBytes),
        evidence: [`${formatBytes(t.firstBytes)} → ${formatBytes(t.lastBytes)} over ${(t.spanMs / 60_000).toFixed(1)} min, ${t.points} major GCs (heap.json: ${heap.current!.dir})`],
      });
    }
  }

  if (b && c) {
    const eb = b.eventLoop.p99Ms;
    const ec = c.eventLoop.p99Ms;
    if (ec >= eb * EL_RATIO && ec - eb >= EL_MIN_DELTA_MS) {
      const evidence = [`event-loop delay p99 ${fmtMs(eb)} → ${fmtMs(ec)}, max ${fmtMs(b.eventLoop.maxMs)} → ${fmtMs(c.eventLoop.maxMs)} (${runtimeFiles})`];
      if (c.gc.maxPauseMs >= ec) evidence.push(`the longest GC pause (${fmtMs(c.gc.maxPauseMs)}) is longer than the p99 delay: GC pauses alone can explain it`);
      out.push({ kind: 'event_loop', title: `event-loop delay p99 ${fmtMs(eb)} → ${fmtMs(ec)}`, score: share(eb, ec), evidence });
    }
    const ub = b.eventLoop.utilization;
    const uc = c.eventLoop.utilization;
    if (uc >= ELU_SATURATED && uc - ub >= ELU_MIN_RISE) {
      out.push({
        kind: 'event_loop_utilization',
        title: `event loop saturated: utilization ${(100 * ub).toFixed(0)}% → ${(100 * uc).toFixed(0)}%`,
        score: share(ub, uc),
        evidence: [`event-loop utilization ${ub.toFixed(2)} → ${uc.toFixed(2)}: requests queue behind JavaScript on the main thread (${runtimeFiles})`],
      });
    }
  }

  // the service's sites, then its dependencies', then runtime symptoms, then sites inside instrumentation and the runtime
  const SITE_GROUP = { service: 1, dependency: 2, instrumentation: 4 } as const;
  const group = (x: Omit<Suspect, 'rank'>): number => (x.kind === 'heap_class' ? 0 : x.kind === 'allocation_site' ? SITE_GROUP[x.origin ?? 'service'] : 3);
  out.sort(
    (x, y) =>
      group(x) - group(y) ||
      y.score - x.score ||
      ORDER.indexOf(x.kind) - ORDER.indexOf(y.kind) ||
      (x.title < y.title ? -1 : x.title > y.title ? 1 : 0),
  );
  return out.map((s, i) => ({ rank: i + 1, ...s, score: Number(s.score.toFixed(3)) }));
}
