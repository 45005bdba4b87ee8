// Self-contained HTML report (no external resources, no network): the verdict, percentile curves
// of both sides overlaid on the HdrHistogram percentile axis, growth bars for heap classes and
// allocation sites, the runtime table, suspects and slow traces. Every string from a bundle is
// escaped: operation names and class names come from the service.
import { fmtMs, fmtRatio, formatBytes, num, pLabel, signedBytes, signedNum } from './format.ts';
import { quantile } from './latency.ts';
import { changeCell, isoTime, relativePaths, sideLine, siteLabel } from './text.ts';
import type { DiagnoseReport, OperationComparison } from './types.ts';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330;background:#fbfbfd;max-width:1200px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}.sub{color:#5b6475;margin:0 0 4px}
.verdict{background:#fff4ec;border:1px solid #f1c5a5;border-left:5px solid #d9640f;border-radius:8px;padding:10px 16px;margin:16px 0}
.verdict p{margin:4px 0;font-size:15px}.verdict.ok{background:#eef8f1;border-color:#b5dcc3;border-left-color:#2d8a57}
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{background:#fff;border:1px solid #e2e5ec;border-radius:8px;padding:8px}
svg text{font-size:11px;fill:#1d2330}svg .title{font-size:13px;font-weight:600}svg .axis{stroke:#9aa3b2;stroke-width:1}svg .grid{stroke:#eef0f4;stroke-width:1}
.curve-baseline{fill:none;stroke:#4c78d8;stroke-width:2}.curve-current{fill:none;stroke:#d9640f;stroke-width:2}
.bar{fill:#d9640f}.neg{fill:#3aa76d}.holder{fill:#b9c0cc}
table{border-collapse:collapse;background:#fff;border:1px solid #e2e5ec;width:100%;margin-top:8px}
th,td{padding:5px 10px;border-bottom:1px solid #eef0f4;text-align:right;white-space:nowrap}
th{background:#f3f5f9}th:first-child,td:first-child{text-align:left;white-space:normal}
td.pair{white-space:normal}td.wrap{white-space:normal;text-align:left;min-width:220px}td.regressed{color:#b4400c;font-weight:600}td.improved{color:#2d8a57}.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
ol.suspects li{margin:0 0 10px}ol.suspects ul{margin:4px 0 0;color:#3b4354}.note{color:#5b6475;font-size:13px}
`;

/** Tick step giving about 5 ticks up to `max`: 1, 2 or 5 times a power of ten. */
function niceStep(max: number): number {
  const raw = Math.max(max, 1e-9) / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

const X_TICKS: Array<[number, string]> = [
  [0, '0%'],
  [1, '90%'],
  [2, '99%'],
  [3, '99.9%'],
  [4, '99.99%'],
];

/** x on the HdrHistogram percentile axis: log10(1 / (1 - q)). */
const xOf = (percentile: number): number => Math.log10(100 / Math.max(100 - percentile, 1e-6));

function curveChart(op: OperationComparison, P: number): string {
  const c = op.curve!;
  const W = 560;
  const H = 280;
  const L = 58;
  const R = 30;
  const T = 30;
  const B = 40;
  const all = [...c.baseline, ...c.current].map(([, v]) => v);
  const step = niceStep(Math.max(...all, 0.001));
  const yMax = Math.ceil(Math.max(...all, 0.001) / step) * step;
  const px = (x: number) => L + (x / 4) * (W - L - R);
  const py = (v: number) => T + (1 - v / yMax) * (H - T - B);
  const grid: string[] = [];
  for (const [x, label] of X_TICKS) {
    grid.push(`<line class="grid" x1="${px(x)}" y1="${T}" x2="${px(x)}" y2="${H - B}"/><text x="${px(x)}" y="${H - B + 16}" text-anchor="middle">${label}</text>`);
  }
  for (let v = 0; v <= yMax + step / 2; v += step) {
    grid.push(`<line class="grid" x1="${L}" y1="${py(v).toFixed(1)}" x2="${W - R}" y2="${py(v).toFixed(1)}"/><text x="${L - 6}" y="${(py(v) + 4).toFixed(1)}" text-anchor="end">${esc(fmtMs(v))}</text>`);
  }
  const line = (pts: Array<[number, number]>, cls: string, label: string) =>
    pts.length ? `<polyline class="${cls}" points="${pts.map(([p, v]) => `${px(xOf(p)).toFixed(1)},${py(v).toFixed(1)}`).join(' ')}"><title>${esc(label)}</title></polyline>` : '';
  const head = op.baseline && op.current ? `${pLabel(P)} ${fmtMs(quantile(op.baseline.ms, P))} → ${fmtMs(quantile(op.current.ms, P))}` : op.status;
  const title = `${op.operation} — ${head}`;
  // top left: percentile curves rise to the right, so that corner is empty
  const lx = L + 12;
  const legend = `<rect x="${lx}" y="${T + 6}" width="14" height="3" fill="#4c78d8"/><text x="${lx + 20}" y="${T + 11}">baseline n=${op.baseline ? num(op.baseline.count) : 0}</text><rect x="${lx}" y="${T + 22}" width="14" height="3" fill="#d9640f"/><text x="${lx + 20}" y="${T + 27}">current n=${op.current ? num(op.current.count) : 0}</text>`;
  return `<div class="chart"><svg xmlns="http://www.w3.org/2000/svg" class="percentile-curves" width="${W}" height="${H}" role="img" aria-label="${esc(`Latency by percentile: ${op.operation}`)}"><text class="title" x="${L}" y="18">${esc(title.length > 70 ? `${title.slice(0, 69)}…` : title)}</text>${grid.join('')}<line class="axis" x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/><line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/>${line(c.baseline, 'curve-baseline', `baseline ${op.operation}`)}${line(c.current, 'curve-current', `current ${op.operation}`)}${legend}<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle" class="note">percentile</text></svg></div>`;
}

function growthBars(items: Array<{ label: string; value: number; text: string; muted?: boolean }>, title: string, cls: string): string {
  const rows = items.slice(0, 20);
  if (rows.length === 0) return '';
  const max = Math.max(1, ...rows.map((r) => Math.abs(r.value)));
  const labelW = 360;
  const barW = 480;
  const h = 22;
  const bars = rows
    .map((r, i) => {
      const w = Math.max(1, (Math.abs(r.value) / max) * barW);
      const y = 24 + i * h;
      const label = r.label.length > 52 ? `${r.label.slice(0, 51)}…` : r.label;
      return `<text x="${labelW - 8}" y="${y + 14}" text-anchor="end">${esc(label)}</text><rect class="${r.muted ? 'holder' : r.value < 0 ? 'neg' : 'bar'}" x="${labelW}" y="${y + 2}" width="${w.toFixed(1)}" height="${h - 6}" rx="2"><title>${esc(`${r.label}: ${r.text}`)}</title></rect><text x="${labelW + w + 6}" y="${y + 14}">${esc(r.text)}</text>`;
    })
    .join('');
  return `<div class="chart"><svg xmlns="http://www.w3.org/2000/svg" class="${cls}" width="${labelW + barW + 170}" height="${rows.length * h + 30}" role="img" aria-label="${esc(title)}"><text class="title" x="0" y="14">${esc(title)}</text>${bars}</svg></div>`;
}

const td = (text: string, cls?: string): string => `<td${cls ? ` class="${cls}"` : ''}>${esc(text)}</td>`;
const tableHtml = (id: string, head: string[], rows: string[][], cellCls?: (r: number, c: number) => string | undefined): string =>
  `<table id="${id}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r, i) => `<tr>${r.map((c, j) => td(c, cellCls?.(i, j))).join('')}</tr>`).join('')}</tbody></table>`;

export function renderDiagnoseHtml(r: DiagnoseReport): string {
  const o = r.options;
  const rel = relativePaths(r);
  const P = o.percentile;
  const parts: string[] = [];
  const trigger = r.current.bundles.at(-1);
  parts.push(`<p class="sub">baseline: ${esc(sideLine(r.baseline))}</p><p class="sub">current: ${esc(sideLine(r.current))}</p>${trigger ? `<p class="sub">trigger: ${esc(trigger.reason)}${trigger.blip ? ` (later judged a blip by the service: ${esc(trigger.blip)})` : ''}</p>` : ''}`);
  parts.push(`<div class="verdict${r.regressed === 0 ? ' ok' : ''}" id="verdict">${r.verdict.map((l) => `<p>${esc(l)}</p>`).join('')}</div>`);

  const plotted = r.operations.filter((x) => x.curve);
  parts.push(`<h2>Latency by percentile</h2><p class="note">Merged HDR windows of each side; x axis 1/(1 − percentile) on a log scale as HdrHistogram plots it. Regressed = ${esc(pLabel(P))} ≥ ${o.threshold}x and ≥ +${o.minDeltaMs} ms, with n ≥ ${o.minSamples} on both sides and a heavier tail than chance allows (Fisher exact test on the requests above the pooled ${esc(pLabel(P))}, p < ${o.alpha}).</p>`);
  parts.push(plotted.length ? `<div class="charts">${plotted.map((x) => curveChart(x, P)).join('')}</div>` : '<p class="note">no operations recorded</p>');
  const statusCol = 2;
  parts.push(
    tableHtml(
      'operations',
      ['Operation', 'Kind', 'Status', 'n base', 'n cur', 'P50', 'P90', 'P99', 'P99.9', `${pLabel(P)} ratio`, 'Why'],
      r.operations.map((x) => {
        // the unit stays with its number; the pair may break after the arrow
        const f = (v: number) => fmtMs(v).replace(' ', '\u00a0');
        const q = (p: number) => `${x.baseline ? f(quantile(x.baseline.ms, p)) : '—'} →\u00a0${x.current ? f(quantile(x.current.ms, p)) : '—'}`;
        return [x.operation, x.kind, x.status, x.baseline ? num(x.baseline.count) : '—', x.current ? num(x.current.count) : '—', q(50), q(90), q(99), q(99.9), x.ratio ? fmtRatio(quantile(x.ratio, P)) : '—', x.why];
      }),
      (i, j) => (j === statusCol ? r.operations[i]!.status : j === 10 ? 'wrap' : j >= 5 && j <= 8 ? 'pair' : undefined),
    ),
  );

  parts.push('<h2>Suspects</h2>');
  parts.push(
    r.suspects.length
      ? `<ol class="suspects" id="suspects">${r.suspects.map((s) => `<li><b>${esc(rel(s.title))}</b> <span class="note">${esc(s.kind)}, score ${s.score.toFixed(2)}</span><ul>${s.evidence.map((e) => `<li>${esc(rel(e))}</li>`).join('')}</ul></li>`).join('')}</ol>`
      : '<p class="note" id="suspects">none: no change passed its threshold</p>',
  );

  const h = r.heap;
  parts.push('<h2>Heap</h2>');
  const bars: string[] = [];
  if (h.snapshot) bars.push(growthBars([
          ...h.snapshot.classes.map((c) => ({ label: c.key, value: c.retained.delta, text: `${signedBytes(c.retained.delta)} (${signedNum(c.count.delta)})` })),
          ...h.snapshot.holders.map((c) => ({ label: `${c.key} (holder)`, value: c.retained.delta, text: `${signedBytes(c.retained.delta)} (${signedNum(c.count.delta)})`, muted: true })),
        ], 'Growth of retained size by class (snapshot diff; grey: holders of what grew)', 'growth-classes'));
  if (h.profile) bars.push(growthBars(h.profile.sites.map((s) => ({ label: siteLabel(s, rel), value: s.inuseBytes.delta, text: signedBytes(s.inuseBytes.delta) })), 'Growth of sampled in-use bytes by allocation site (heap profile)', 'growth-sites'));
  if (bars.some((b) => b)) parts.push(`<div class="charts">${bars.join('')}</div>`);
  if (h.snapshot) {
    parts.push(
      tableHtml(
        'classes',
        ['Class', 'Δ count', 'Δ self', 'Δ retained', 'Retained (current)', 'Held by / holds'],
        [
          ...h.snapshot.classes.map((c) => [c.key + (c.status === 'new' ? ' (new)' : ''), signedNum(c.count.delta), signedBytes(c.self.delta), signedBytes(c.retained.delta), formatBytes(c.retained.target), c.heldBy.map((x) => `${x.key} (${x.count})`).join(', ')]),
          ...h.snapshot.holders.map((c) => [`${c.key} (holder)`, signedNum(c.count.delta), signedBytes(c.self.delta), signedBytes(c.retained.delta), formatBytes(c.retained.target), c.holds.length ? `holds ${c.holds.join(', ')}` : '']),
        ],
      ),
    );
  }
  if (h.profile) {
    parts.push(
      tableHtml(
        'sites',
        ['Allocation site', 'Δ in use', 'In use (current)', 'Δ objects', 'Stack'],
        h.profile.sites.map((s) => [siteLabel(s, rel), signedBytes(s.inuseBytes.delta), formatBytes(s.inuseBytes.target), signedNum(s.inuseObjects.delta), rel(s.stack.slice(0, 4).join(' ← '))]),
        (_, j) => (j === 4 ? 'wrap' : undefined),
      ),
    );
  }
  const hrow = (m: string, f: (s: NonNullable<typeof h.current>) => number | null): string[] => {
    const b = h.baseline ? f(h.baseline) : null;
    const c = h.current ? f(h.current) : null;
    return [m, b === null ? '—' : formatBytes(b), c === null ? '—' : formatBytes(c), b === null || c === null ? '' : signedBytes(c - b)];
  };
  parts.push(
    tableHtml('heap-stats', ['Metric', 'Baseline', 'Current', 'Change'], [
      hrow('Heap used after GC', (s) => s.usedAfterGcBytes),
      hrow('Heap used (at bundle time)', (s) => s.usedHeapBytes),
      hrow('Heap limit', (s) => s.heapLimitBytes),
      hrow('RSS', (s) => s.rssBytes),
      hrow('External', (s) => s.externalBytes),
    ]),
  );
  for (const n of h.notes) parts.push(`<p class="note">${esc(n)}</p>`);

  parts.push('<h2>Runtime</h2>');
  parts.push(r.runtime.baseline && r.runtime.current ? tableHtml('runtime', ['Metric', 'Baseline', 'Current', 'Change'], r.runtime.changes.map(changeCell)) : '<p class="note">runtime stats missing on one side</p>');

  parts.push('<h2>Slow traces</h2><p class="note">Current side, regressed operations first: open them in Tempo or Jaeger.</p>');
  parts.push(
    r.slowTraces.length
      ? `<table id="traces"><thead><tr><th>Operation</th><th>Duration</th><th>Trace ID</th><th>At</th></tr></thead><tbody>${r.slowTraces
          .map(
            (t) =>
              `<tr>${td(t.operation, t.regressed ? 'regressed' : undefined)}${td(fmtMs(t.durationMs))}<td class="mono">${t.url ? `<a href="${esc(t.url)}">${esc(t.traceId)}</a>` : esc(t.traceId)}</td>${td(isoTime(t.atMs))}</tr>`,
          )
          .join('')}</tbody></table>`
      : '<p class="note">none recorded</p>',
  );
  const title = 'tailtrace diagnose';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head><body><h1>${esc(title)}</h1>${parts.join('')}</body></html>\n`;
}
