// grafana/dashboard-linter's rules, implemented over the generated dashboards/*.json:
//   template-datasource-rule, template-job-rule, template-instance-rule,
//   template-on-time-change-reload-rule, template-uneditable-rule, template-label-promql-rule,
//   panel-datasource-rule, panel-title-description-rule, panel-units-rule,
//   panel-no-targets-rule, target-promql-rule (structure), target-rate-interval-rule,
//   target-job-rule, target-instance-rule, target-counter-agg-rule.
// The PromQL checks use a small tokenizer that finds every vector selector, its matchers, its
// range and the function it sits in.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadDashboards, queryPanels } from './support/dashboards.ts';
import type { DashboardJson, Variable } from './support/dashboards.ts';

const DS_REFS = new Set(['${datasource}', '$datasource']);
// Grafana unit ids these dashboards may use (a subset of Grafana's catalogue).
const UNITS = new Set(['s', 'ms', 'µs', 'ns', 'reqps', 'rps', 'ops', 'percentunit', 'percent', 'bytes', 'decbytes', 'Bps', 'binBps', 'short', 'none', 'cps', 'wps']);
const AGGREGATIONS = new Set(['sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values']);
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2']);
const RANGE_FUNCS = new Set(['rate', 'irate', 'increase', 'deriv', 'delta', 'idelta', 'predict_linear', 'avg_over_time', 'max_over_time', 'min_over_time', 'sum_over_time', 'count_over_time', 'quantile_over_time', 'last_over_time', 'changes', 'resets']);
const COUNTER_FUNCS = new Set(['rate', 'irate', 'increase']);
// prom-client gauges whose names end in _total (the real linter needs the same exclusion in a
// .lint file): counts of what is alive now, not counters.
const GAUGES_NAMED_TOTAL = new Set(['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']);

export interface Selector {
  metric: string;
  matchers: Map<string, { op: string; value: string }>;
  range?: string;
  /** innermost function whose argument list holds the selector */
  func?: string;
}

/** Every vector selector in a PromQL expression (throws on unbalanced structure). */
export function selectors(expr: string): Selector[] {
  const out: Selector[] = [];
  const stack: string[] = [];
  let i = 0;
  let pendingFunc: string | undefined;
  const ws = () => { while (i < expr.length && /\s/.test(expr[i]!)) i++; };
  const ident = () => { const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i)); return m ? m[0] : ''; };
  const readString = (): string => {
    const q = expr[i]!;
    let s = '';
    i++;
    while (i < expr.length && expr[i] !== q) { if (expr[i] === '\\') { s += expr[i]! + expr[i + 1]!; i += 2; } else s += expr[i++]!; }
    if (expr[i] !== q) throw new Error(`unterminated string in ${expr}`);
    i++;
    return s;
  };
  const readMatchers = (): Map<string, { op: string; value: string }> => {
    const ms = new Map<string, { op: string; value: string }>();
    i++; // {
    for (;;) {
      ws();
      if (expr[i] === '}') { i++; return ms; }
      const name = ident();
      if (!name) throw new Error(`bad matcher at ${i} in ${expr}`);
      i += name.length;
      ws();
      const op = /^(=~|!~|!=|=)/.exec(expr.slice(i))?.[0];
      if (!op) throw new Error(`bad matcher op at ${i} in ${expr}`);
      i += op.length;
      ws();
      if (expr[i] !== '"' && expr[i] !== "'") throw new Error(`matcher value must be a string at ${i} in ${expr}`);
      ms.set(name, { op, value: readString() });
      ws();
      if (expr[i] === ',') i++;
    }
  };
  const readRange = (): string => {
    const end = expr.indexOf(']', i);
    if (end < 0) throw new Error(`unterminated range in ${expr}`);
    const r = expr.slice(i + 1, end);
    i = end + 1;
    return r;
  };
  while (i < expr.length) {
    ws();
    if (i >= expr.length) break;
    const c = expr[i]!;
    if (c === '(') { stack.push(pendingFunc ?? ''); pendingFunc = undefined; i++; continue; }
    if (c === ')') { if (stack.pop() === undefined) throw new Error(`unbalanced ) in ${expr}`); i++; continue; }
    if (c === '"' || c === "'") { readString(); continue; }
    if (c === '{') { out.push({ metric: '', matchers: readMatchers(), func: stack.at(-1) }); continue; }
    if (c === '[') { readRange(); continue; }
    if (/[0-9.]/.test(c)) { i += /^[0-9.eE+-]*[a-z]*/.exec(expr.slice(i))![0].length || 1; continue; }
    const name = ident();
    if (!name) { i++; continue; } // operators, commas
    i += name.length;
    if (KEYWORDS.has(name)) {
      ws();
      if (['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'].includes(name) && expr[i] === '(') {
        const end = expr.indexOf(')', i);
        if (end < 0) throw new Error(`unbalanced label list in ${expr}`);
        i = end + 1;
      }
      continue;
    }
    ws();
    if (AGGREGATIONS.has(name)) { pendingFunc = name; continue; }
    if (expr[i] === '(') { pendingFunc = name; continue; }
    const sel: Selector = { metric: name, matchers: new Map(), func: stack.at(-1) };
    if (expr[i] === '{') sel.matchers = readMatchers();
    ws();
    if (expr[i] === '[') sel.range = readRange();
    out.push(sel);
  }
  if (stack.length) throw new Error(`unbalanced ( in ${expr}`);
  return out;
}

function problemsOf(file: string, d: DashboardJson): string[] {
  const p: string[] = [];
  const vars = new Map<string, Variable>(d.templating.list.map((v) => [v.name, v]));
  // template-uneditable-rule
  if (d.editable !== false) p.push('dashboard is editable');
  // template-datasource-rule
  const ds = vars.get('datasource');
  if (!ds || ds.type !== 'datasource' || ds.query !== 'prometheus') p.push('no Prometheus datasource variable named "datasource"');
  // template-job-rule / template-instance-rule / on-time-change reload / label promql
  for (const name of ['job', 'instance']) {
    const v = vars.get(name);
    if (!v) { p.push(`no ${name} variable`); continue; }
    if (v.type !== 'query') p.push(`${name}: not a query variable`);
    if (!DS_REFS.has(v.datasource?.uid ?? '')) p.push(`${name}: datasource is not $datasource`);
    if (!v.multi || !v.includeAll) p.push(`${name}: must be multi-value with All`);
    if (v.refresh !== 2) p.push(`${name}: must refresh on time range change`);
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(v.definition ?? '');
    if (!m || m[2] !== name) p.push(`${name}: definition ${v.definition} is not label_values(..., ${name})`);
    else {
      try { selectors(m[1]!); } catch (e) { p.push(`${name}: ${String(e)}`); }
    }
    const q = (v.query as { query?: string } | undefined)?.query;
    if (q !== v.definition) p.push(`${name}: query and definition differ`);
  }
  if (vars.get('instance')?.definition && !/job=~"\$job"/.test(vars.get('instance')!.definition!)) p.push('instance variable is not filtered by $job');

  const ids = new Set<number>();
  for (const panel of queryPanels(d)) {
    const where = `${file} panel "${panel.title ?? panel.id}"`;
    if (ids.has(panel.id)) p.push(`${where}: duplicate id`);
    ids.add(panel.id);
    // panel-title-description-rule
    if (!panel.title?.trim()) p.push(`${where}: no title`);
    if (!panel.description?.trim()) p.push(`${where}: no description`);
    // panel-units-rule
    const unit = panel.fieldConfig?.defaults?.unit;
    if (!unit || !UNITS.has(unit)) p.push(`${where}: unit ${unit} is not a valid Grafana unit`);
    // panel-datasource-rule
    if (!DS_REFS.has(panel.datasource?.uid ?? '')) p.push(`${where}: datasource is not $datasource`);
    // panel-no-targets-rule
    const targets = panel.targets ?? [];
    if (targets.length === 0) p.push(`${where}: no targets`);
    const refIds = new Set<string>();
    for (const t of targets) {
      const tw = `${where} ${t.refId}`;
      if (refIds.has(t.refId)) p.push(`${tw}: duplicate refId`);
      refIds.add(t.refId);
      if (!DS_REFS.has(t.datasource?.uid ?? '')) p.push(`${tw}: target datasource is not $datasource`);
      let sels: Selector[];
      try { sels = selectors(t.expr); } catch (e) { p.push(`${tw}: ${String(e)}`); continue; }
      if (sels.length === 0) p.push(`${tw}: no selector`);
      for (const s of sels) {
        // target-job-rule / target-instance-rule
        for (const [label, v] of [['job', '$job'], ['instance', '$instance']] as const) {
          const m = s.matchers.get(label);
          if (!m || m.op !== '=~' || m.value !== v) p.push(`${tw}: ${s.metric} lacks ${label}=~"${v}"`);
        }
        // target-rate-interval-rule
        if (s.range !== undefined && s.range !== '$__rate_interval') p.push(`${tw}: ${s.func}(${s.metric}[${s.range}]) must use $__rate_interval`);
        if (s.range !== undefined && !RANGE_FUNCS.has(s.func ?? '')) p.push(`${tw}: range vector of ${s.metric} outside a range function`);
        // target-counter-agg-rule: counters only through rate/irate/increase (before any sum)
        if (/_(total|count|sum|bucket)$/.test(s.metric) && !GAUGES_NAMED_TOTAL.has(s.metric) && !(s.range !== undefined && COUNTER_FUNCS.has(s.func ?? ''))) {
          p.push(`${tw}: counter ${s.metric} must be wrapped in rate/irate/increase before aggregation (got ${s.func ?? 'none'})`);
        }
      }
    }
  }
  return p;
}

describe('PromQL selector scan (the linter\'s own check)', () => {
  test('finds selectors, matchers, ranges and enclosing functions', () => {
    const s = selectors('histogram_quantile(0.99, sum by (le, job) (rate(x_bucket{job=~"$job", instance=~"$instance"}[$__rate_interval]))) / on (job) group_left max by (job) (y{a="}"})');
    assert.equal(s.length, 2);
    assert.equal(s[0]!.metric, 'x_bucket');
    assert.equal(s[0]!.func, 'rate');
    assert.equal(s[0]!.range, '$__rate_interval');
    assert.equal(s[1]!.metric, 'y');
    assert.equal(s[1]!.func, 'max');
    assert.equal(s[1]!.matchers.get('a')?.value, '}');
  });
  test('flags what the rules forbid', () => {
    const d: DashboardJson = {
      uid: 'x', title: 'x', editable: true,
      templating: { list: [] },
      panels: [{ id: 1, type: 'timeseries', targets: [{ refId: 'A', expr: 'sum(x_total{job=~"$job"})' }, { refId: 'B', expr: 'rate(y_total{job=~"$job", instance=~"$instance"}[5m])' }] }],
    };
    const p = problemsOf('t.json', d).join('\n');
    for (const frag of ['editable', 'datasource variable', 'no title', 'no description', 'unit', 'lacks instance', 'x_total must be wrapped', 'must use $__rate_interval']) {
      assert.ok(p.includes(frag), `expected a problem about "${frag}" in:\n${p}`);
    }
  });
});

describe('dashboard-linter rules on the generated dashboards', () => {
  const all = loadDashboards();
  test('there are five dashboards with distinct uids', () => {
    assert.equal(all.size, 5);
    assert.equal(new Set([...all.values()].map((d) => d.uid)).size, 5);
  });
  for (const [file, d] of all) {
    test(file, () => {
      const p = problemsOf(file, d);
      assert.deepEqual(p, [], p.join('\n'));
    });
  }
});
