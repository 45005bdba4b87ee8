// Plain-text report for a terminal: verdict first, then the tables behind it.
import { holdersTable, multipliedTable, table } from '../table.ts';
import { fmtChange, fmtMs, fmtRatio, formatBytes, num, pLabel, signedBytes, signedNum } from './format.ts';
import { quantile } from './latency.ts';
import { relativeTo } from './origin.ts';
import { originTag } from './suspects.ts';
import type { Change, DiagnoseReport, LatencySide, OperationComparison, SideInfo, SiteGrowth } from './types.ts';

export const isoTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function sideLine(s: SideInfo): string {
  const first = s.bundles[0];
  if (!first) return '(no bundles)';
  const services = [...new Set(s.bundles.map((b) => b.service))].join(', ');
  const procs = [...new Set(s.bundles.map((b) => `${b.host}:${b.pid}`))];
  const where = s.bundles.length === 1 ? first.dir : `${s.bundles.length} bundles (${first.dir} … ${s.bundles.at(-1)!.dir})`;
  const span = s.span ? `${isoTime(s.span.startMs)} – ${isoTime(s.span.endMs)}` : '';
  const triggers = [...new Set(s.bundles.map((b) => b.trigger))].join(', ');
  return `${where}: ${services} on ${procs.length === 1 ? procs[0] : `${procs.length} processes`}, ${span}, ${num(s.windows)} HDR windows, trigger ${triggers}`;
}

const STATUS: Record<OperationComparison['status'], string> = {
  regressed: 'REGRESSED',
  improved: 'improved',
  unchanged: 'ok',
  insufficient: 'few samples',
  new: 'new',
  gone: 'gone',
};

function pair(b: LatencySide | null, c: LatencySide | null, p: number): string {
  const f = (s: LatencySide | null) => (s ? fmtMs(quantile(s.ms, p)) : '—');
  return `${f(b)} → ${f(c)}`;
}

/** A site as the reports show it: its path relative to the service's root, whose code it is, what builtins it went through. */
export const siteLabel = (s: SiteGrowth, rel: (t: string) => string = (t) => t): string => `${rel(s.site)}${originTag(s)}${s.via.length ? ` (via ${s.via.join(', ')})` : ''}`;

/** Paths of the service's files relative to its root (the JSON report keeps them whole). */
export const relativePaths = (r: DiagnoseReport): ((t: string) => string) => relativeTo(r.heap.profile?.serviceRoot ?? null);

export function changeCell(c: Change): string[] {
  const fmt = (v: number | null): string => {
    if (v === null) return '—';
    switch (c.unit) {
      case 'ms':
        return fmtMs(v);
      case 'ms/min':
        return `${fmtMs(v)}/min`;
      case 'count/min':
        return `${v.toFixed(1)}/min`;
      case 'bytes':
        return formatBytes(v);
      case 'share':
      case 'ratio':
        return `${(100 * v).toFixed(1)}%`;
    }
  };
  const ch = c.baseline === null || c.current === null ? '' : c.unit === 'share' ? `${((c.current - c.baseline) * 100 >= 0 ? '+' : '')}${((c.current - c.baseline) * 100).toFixed(1)} pt` : fmtChange(c.baseline, c.current);
  return [c.metric, fmt(c.baseline), fmt(c.current), ch];
}

export function renderDiagnoseText(r: DiagnoseReport): string {
  const o = r.options;
  const rel = relativePaths(r);
  const P = pLabel(o.percentile);
  const trigger = r.current.bundles.at(-1);
  let out = `tailtrace diagnose\n  baseline: ${sideLine(r.baseline)}\n  current:  ${sideLine(r.current)}\n${trigger ? `  trigger:  ${trigger.reason}${trigger.blip ? `\n            later judged a blip by the service: ${trigger.blip}` : ''}\n` : ''}\n`;
  out += `Verdict\n${r.verdict.map((l) => `  ${rel(l)}`).join('\n')}\n`;

  out += `\nLatency per operation (merged HDR windows; regressed = ${P} ≥ ${o.threshold}x and ≥ +${o.minDeltaMs} ms, heavier tail at p < ${o.alpha}, n ≥ ${o.minSamples} on both sides)\n`;
  if (r.operations.length === 0) out += '  no operations recorded\n';
  else {
    out += table(
      ['Operation', 'Kind', 'Status', 'n base', 'n cur', 'P50', 'P90', 'P99', 'P99.9', `${P} ratio`],
      r.operations.map((x) => [
        x.operation,
        x.kind,
        STATUS[x.status],
        x.baseline ? num(x.baseline.count) : '—',
        x.current ? num(x.current.count) : '—',
        pair(x.baseline, x.current, 50),
        pair(x.baseline, x.current, 90),
        pair(x.baseline, x.current, 99),
        pair(x.baseline, x.current, 99.9),
        x.ratio ? fmtRatio(quantile(x.ratio, o.percentile)) : '—',
      ]),
    );
    for (const x of r.operations.filter((y) => y.status === 'regressed' || y.status === 'improved')) out += `  ${x.operation}: ${x.why}\n`;
  }

  out += '\nRuntime (per minute of window time; baseline → current)\n';
  if (!r.runtime.baseline || !r.runtime.current) out += '  runtime stats missing on one side\n';
  else out += table(['Metric', 'Baseline', 'Current', 'Change'], r.runtime.changes.map(changeCell));

  const h = r.heap;
  out += '\nHeap\n';
  const hs = (f: (s: NonNullable<typeof h.current>) => number | null): [number | null, number | null] => [h.baseline ? f(h.baseline) : null, h.current ? f(h.current) : null];
  const rows: Array<[string, [number | null, number | null]]> = [
    ['Heap used after GC', hs((s) => s.usedAfterGcBytes)],
    ['Heap used (at bundle time)', hs((s) => s.usedHeapBytes)],
    ['Heap limit', hs((s) => s.heapLimitBytes)],
    ['RSS', hs((s) => s.rssBytes)],
    ['External', hs((s) => s.externalBytes)],
  ];
  out += table(
    ['Metric', 'Baseline', 'Current', 'Change'],
    [
      ...rows.map(([m, [b, c]]) => [m, b === null ? '—' : formatBytes(b), c === null ? '—' : formatBytes(c), b === null || c === null ? '' : fmtChange(b, c)]),
      ['Heap after GC trend', h.baseline?.trend ? `${signedBytes(h.baseline.trend.slopeBytesPerMin)}/min` : '—', h.current?.trend ? `${signedBytes(h.current.trend.slopeBytesPerMin)}/min` : '—', ''],
    ],
  );
  if (h.snapshot) {
    const s = h.snapshot;
    out += `\nWhat multiplied: classes by growth of retained size (snapshot diff ${s.baseline} → ${s.current}; heap ${signedBytes(s.totals.selfSize.delta)}, ${signedNum(s.totals.nodes.delta)} nodes)\n`;
    out += s.classes.length ? multipliedTable(s.classes) : '  no class grew\n';
    if (s.holders.length) out += `\nHolders (grew because they hold what multiplied)\n${holdersTable(s.holders)}`;
  }
  if (h.profile) {
    const p = h.profile;
    out += `\nAllocation sites by growth of sampled in-use bytes (${p.baseline ?? 'no baseline profile'} → ${p.current}; total ${formatBytes(p.totals.inuseBytes.base)} → ${formatBytes(p.totals.inuseBytes.target)})\n`;
    out += p.sites.length
      ? table(
          ['Site', 'ΔIn use', 'In use', 'ΔObjects'],
          p.sites.map((s) => [siteLabel(s, rel), signedBytes(s.inuseBytes.delta), formatBytes(s.inuseBytes.target), signedNum(s.inuseObjects.delta)]),
        )
      : '  no allocation site grew\n';
  }
  for (const n of h.notes) out += `  note: ${n}\n`;

  out += '\nSuspects (code first, then runtime symptoms; by the share of the current value the change explains)\n';
  if (r.suspects.length === 0) out += '  none: no heap class, allocation site, GC, heap or event-loop change passed its threshold\n';
  for (const s of r.suspects) out += `  ${s.rank}. ${rel(s.title)}  [${s.kind}, score ${s.score.toFixed(2)}]\n${s.evidence.map((e) => `     - ${rel(e)}\n`).join('')}`;

  out += '\nSlow traces (current side; regressed operations first)\n';
  out += r.slowTraces.length
    ? table(
        ['Operation', 'Duration', 'Trace ID', 'At'],
        r.slowTraces.map((t) => [`${t.regressed ? '* ' : ''}${t.operation}`, fmtMs(t.durationMs), t.url ?? t.traceId, isoTime(t.atMs)]),
      )
    : '  none recorded (only sampled requests carry a trace ID)\n';
  return out;
}
