// Self-contained HTML reports (no external resources): a bar chart of retained size and a
// sortable table. Rows are rendered server-side; a few lines of inline script sort them.
import type { HeapSummary } from './classes.ts';
import type { ClassDelta, HeapDiff } from './diff.ts';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function formatBytes(n: number): string {
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${sign}${u === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

const STYLE = `
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330;background:#fbfbfd}
h1{font-size:20px;margin:0 0 4px}.sub{color:#5b6475;margin:0 0 16px}
.cards{display:flex;gap:12px;margin:0 0 20px;flex-wrap:wrap}.card{background:#fff;border:1px solid #e2e5ec;border-radius:8px;padding:10px 14px}
.card b{display:block;font-size:18px}.card span{color:#5b6475;font-size:12px}
svg text{font-size:12px;fill:#1d2330}.bar{fill:#4c78d8}.neg{fill:#3aa76d}
table{border-collapse:collapse;background:#fff;border:1px solid #e2e5ec;width:100%;margin-top:16px}
th,td{padding:5px 10px;border-bottom:1px solid #eef0f4;text-align:right;white-space:nowrap}
th{cursor:pointer;background:#f3f5f9;position:sticky;top:0;user-select:none}th:first-child,td:first-child{text-align:left;white-space:normal}
tr:hover td{background:#f7f9fd}td.new{color:#b4400c;font-weight:600}.up{color:#b4400c}.down{color:#2d8a57}
`;

const SCRIPT = `
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
    var tb=t.tBodies[0],rows=Array.prototype.slice.call(tb.rows),asc=th.dataset.dir!=='asc';
    t.querySelectorAll('th').forEach(function(h){delete h.dataset.dir;});th.dataset.dir=asc?'asc':'desc';
    rows.sort(function(a,b){var x=a.cells[i].dataset.v,y=b.cells[i].dataset.v;
      var nx=parseFloat(x),ny=parseFloat(y);var r=(isNaN(nx)||isNaN(ny))?String(x).localeCompare(String(y)):nx-ny;return asc?r:-r;});
    rows.forEach(function(r){tb.appendChild(r);});
  });});
});`;

function barChart(items: Array<{ label: string; value: number }>, title: string): string {
  const rows = items.slice(0, 25);
  const max = Math.max(1, ...rows.map((r) => Math.abs(r.value)));
  const labelW = 330;
  const barW = 560;
  const h = 22;
  const height = rows.length * h + 30;
  const bars = rows
    .map((r, i) => {
      const w = Math.max(1, (Math.abs(r.value) / max) * barW);
      const y = 24 + i * h;
      const label = r.label.length > 48 ? `${r.label.slice(0, 47)}…` : r.label;
      return `<text x="${labelW - 8}" y="${y + 14}" text-anchor="end">${esc(label)}</text><rect class="${r.value < 0 ? 'neg' : 'bar'}" x="${labelW}" y="${y + 2}" width="${w.toFixed(1)}" height="${h - 6}" rx="2"><title>${esc(r.label)}: ${formatBytes(r.value)}</title></rect><text x="${labelW + w + 6}" y="${y + 14}">${formatBytes(r.value)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + barW + 110}" height="${height}" role="img" aria-label="${esc(title)}"><text x="0" y="14" style="font-weight:600">${esc(title)}</text>${bars}</svg>`;
}

function page(title: string, sub: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head><body><h1>${esc(title)}</h1><p class="sub">${esc(sub)}</p>${body}<script>${SCRIPT}</script></body></html>\n`;
}

const td = (v: number | string, text?: string, cls?: string): string =>
  `<td data-v="${esc(String(v))}"${cls ? ` class="${cls}"` : ''}>${esc(text ?? String(v))}</td>`;

export function renderSummaryHtml(s: HeapSummary, top = 200): string {
  const t = s.totals;
  const cards = `<div class="cards"><div class="card"><b>${t.nodes.toLocaleString('en-US')}</b><span>nodes</span></div><div class="card"><b>${t.edges.toLocaleString('en-US')}</b><span>edges</span></div><div class="card"><b>${formatBytes(t.selfSize)}</b><span>total self size</span></div><div class="card"><b>${s.classes.length.toLocaleString('en-US')}</b><span>classes</span></div></div>`;
  const chart = barChart(s.classes.map((c) => ({ label: c.key, value: c.retained })), 'Retained size by class');
  const rows = s.classes
    .slice(0, top)
    .map((c) => `<tr>${td(c.key)}${td(c.count, c.count.toLocaleString('en-US'))}${td(c.self, formatBytes(c.self))}${td(c.retained, formatBytes(c.retained))}</tr>`)
    .join('');
  const table = `<table class="sortable" id="classes"><thead><tr><th>Class</th><th>Count</th><th>Self size</th><th>Retained size</th></tr></thead><tbody>${rows}</tbody></table>`;
  const ret = s.topRetainers
    .map((r) => `<tr>${td(`${r.key} @${r.id}`)}${td(r.type)}${td(r.self, formatBytes(r.self))}${td(r.retained, formatBytes(r.retained))}</tr>`)
    .join('');
  const retTable = `<h2>Largest retainers</h2><table class="sortable" id="retainers"><thead><tr><th>Object</th><th>Type</th><th>Self size</th><th>Retained size</th></tr></thead><tbody>${ret}</tbody></table>`;
  return page(`Heap summary: ${s.file}`, `tailtrace heap summary; top ${Math.min(top, s.classes.length)} of ${s.classes.length} classes`, cards + chart + table + retTable);
}

export function renderDiffHtml(d: HeapDiff, top = 200): string {
  const cards = `<div class="cards"><div class="card"><b>${formatBytes(d.totals.selfSize.delta)}</b><span>Δ total self size</span></div><div class="card"><b>${d.totals.nodes.delta.toLocaleString('en-US')}</b><span>Δ nodes</span></div><div class="card"><b>${d.multiplied.length}</b><span>classes multiplied</span></div><div class="card"><b>${d.newClasses.length}</b><span>new classes</span></div></div>`;
  const chart = barChart(d.multiplied.map((c) => ({ label: c.key, value: c.retained.delta })), 'What multiplied: growth of retained size by class');
  const sign = (n: number): string => (n > 0 ? 'up' : n < 0 ? 'down' : '');
  const row = (c: ClassDelta, last: string): string =>
    `<tr>${td(c.key, c.key + (c.status === 'new' ? ' (new)' : c.status === 'gone' ? ' (gone)' : ''), c.status === 'new' ? 'new' : undefined)}${td(c.count.delta, (c.count.delta > 0 ? '+' : '') + c.count.delta.toLocaleString('en-US'), sign(c.count.delta))}${td(c.self.delta, formatBytes(c.self.delta), sign(c.self.delta))}${td(c.retained.delta, formatBytes(c.retained.delta), sign(c.retained.delta))}${td(c.retained.target, formatBytes(c.retained.target))}${td(last)}</tr>`;
  const head = (last: string): string => `<thead><tr><th>Class</th><th>Δ count</th><th>Δ self</th><th>Δ retained</th><th>Retained (target)</th><th>${last}</th></tr></thead>`;
  const heldBy = (c: ClassDelta): string => c.heldBy.map((h) => `${h.key} (${h.count})`).join(', ');
  const multiplied = `<h2>What multiplied</h2><table class="sortable" id="multiplied">${head('Held by')}<tbody>${d.multiplied.slice(0, top).map((c) => row(c, heldBy(c))).join('')}</tbody></table>`;
  const holders = d.holders.length
    ? `<h2>Holders: grew because they hold what multiplied</h2><table class="sortable" id="holders">${head('Holds')}<tbody>${d.holders.map((c) => row(c, c.holds.join(', '))).join('')}</tbody></table>`
    : '';
  const all = `<h2>Every class by growth</h2><table class="sortable" id="classes">${head('Held by')}<tbody>${d.classes.slice(0, top).map((c) => row(c, heldBy(c))).join('')}</tbody></table>`;
  return page(`Heap diff: ${d.base} → ${d.target}`, 'tailtrace heap diff; what multiplied first, then what holds it', cards + chart + multiplied + holders + all);
}
