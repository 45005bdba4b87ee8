// The generated Prometheus rules (dashboards/rules/tailtrace.rules.yml) against promtool, the
// checker and unit-test runner that ships with Prometheus (Debian's package):
//   - `promtool check rules` accepts the committed file (and rejects a broken one);
//   - `promtool test rules`: for every alert, synthetic series that must make it fire (with the
//     labels that route it) and series that must leave it quiet, on the production rules;
//   - every alert carries summary, description, runbook and dashboard annotations, the runbook
//     names a panel that exists and a `tailtrace diagnose` command (or says why it does not apply).
// The unit tests load the production groups with the annotations left out: promtool compares
// annotations as expanded text, so `{{ $value | humanize... }}` would make each case restate the
// exact float Prometheus computes. The templates themselves are checked by `check rules` (it
// expands them) and rendered for real by the live test (test/alerts-live.test.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { renderRuleFile } from '../dashboards/src/rule-file.ts';
import type { AlertRule, RuleGroup } from '../dashboards/src/rule-file.ts';
import { isAlert } from '../dashboards/src/rule-file.ts';
import { ruleGroups } from '../dashboards/src/rules.ts';
import { PRODUCTION } from '../dashboards/src/rule-params.ts';
import { repoRoot, tempDir } from './support/collector.ts';
import { loadDashboards, queryPanels } from './support/dashboards.ts';

const RULES = join(repoRoot, 'dashboards', 'rules', 'tailtrace.rules.yml');

function promtool(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

// ---- synthetic series ----

type Labels = Record<string, string>;
const sel = (name: string, l: Labels) => `${name}{${Object.entries(l).map(([k, v]) => `${k}="${v}"`).join(', ')}}`;

/** A counter growing by `inc` per minute over consecutive segments, in promtool's notation. */
function counter(...segments: { inc: number; minutes: number }[]): string {
  let last = 0;
  return segments.map((s, i) => {
    const start = i === 0 ? 0 : last + s.inc;
    const steps = i === 0 ? s.minutes : s.minutes - 1;
    last = start + s.inc * steps;
    return `${start}+${s.inc}x${steps}`;
  }).join(' ');
}
const constant = (v: number, minutes: number) => `${v}x${minutes}`;

interface Series { series: string; values: string }

/**
 * A classic histogram (cumulative buckets + _count) whose requests per minute fall into the
 * bucket with upper bound `le`, over segments (one per latency phase).
 */
function histogram(metric: string, labels: Labels, les: string[], phases: { perMinute: number; le: string; minutes: number }[]): Series[] {
  const out: Series[] = [];
  for (const le of [...les, '+Inf']) {
    const segs = phases.map((p) => ({ inc: le === '+Inf' || Number(le) >= Number(p.le) ? p.perMinute : 0, minutes: p.minutes }));
    out.push({ series: sel(`${metric}_bucket`, { ...labels, le }), values: counter(...segs) });
  }
  out.push({ series: sel(`${metric}_count`, labels), values: counter(...phases.map((p) => ({ inc: p.perMinute, minutes: p.minutes }))) });
  return out;
}

const SHOP = { job: 'shop', instance: 'shop-0:9464' };
/** One route / method of the service: what the alerts judged per service (over instances) carry. */
const ROUTE_OF_JOB = { job: 'shop', http_request_method: 'GET', http_route: '/api/orders/:id' };
const METHOD_OF_JOB = { job: 'shop', rpc_service: 'orders.OrderService', rpc_method: 'Get' };
const ROUTE = { ...ROUTE_OF_JOB, instance: SHOP.instance };
const METHOD = { ...METHOD_OF_JOB, instance: SHOP.instance };
const HTTP_LES = ['0.01', '0.025', '0.1', '0.25', '0.5', '1'];
const COLLECTOR = { job: 'otelcol', instance: 'otelcol-0:8888' };

const httpHist = (phases: { perMinute: number; le: string; minutes: number }[]) =>
  histogram('http_server_request_duration_seconds', { ...ROUTE, http_response_status_code: '200' }, HTTP_LES, phases);
const rpcHist = (phases: { perMinute: number; le: string; minutes: number }[]) =>
  histogram('rpc_server_duration_seconds', { ...METHOD, rpc_grpc_status_code: '0' }, HTTP_LES, phases);
const httpCount = (status: string, perMinute: number, minutes: number): Series =>
  ({ series: sel('http_server_request_duration_seconds_count', { ...ROUTE, http_response_status_code: status }), values: counter({ inc: perMinute, minutes }) });
const rpcCount = (code: string, perMinute: number, minutes: number): Series =>
  ({ series: sel('rpc_server_duration_seconds_count', { ...METHOD, rpc_grpc_status_code: code }), values: counter({ inc: perMinute, minutes }) });

interface Case {
  alert: string;
  name: string;
  series: Series[];
  /** Minutes at which the alert is checked. */
  at: number[];
  /** The labels of the firing alert (without alertname), or null: nothing fires. */
  fires: Labels | null;
  /** Recorded values checked on the way. */
  exprs?: { expr: string; at: number; samples: { labels: string; value: number }[] }[];
}

const routing = (job: string, severity: string) => ({ severity, service: job });
const DAY = 1440;

const CASES: Case[] = [
  // Latency over budget (0.5 s HTTP, 0.25 s gRPC by default), sustained 10m, enough traffic.
  {
    alert: 'TailtraceHttpP99OverBudget', name: 'every request between 0.5 and 1 s', at: [25],
    series: httpHist([{ perMinute: 600, le: '1', minutes: 30 }]),
    fires: { ...ROUTE_OF_JOB, ...routing('shop', 'warning') },
    exprs: [{ expr: 'job_instance_route:http_server_p99_budget_seconds', at: 25, samples: [{ labels: sel('job_instance_route:http_server_p99_budget_seconds', ROUTE), value: 0.5 }] }],
  },
  { alert: 'TailtraceHttpP99OverBudget', name: 'every request under 0.25 s', at: [25], series: httpHist([{ perMinute: 600, le: '0.25', minutes: 30 }]), fires: null },
  { alert: 'TailtraceHttpP99OverBudget', name: 'slow but 0.1 requests per second (a P99 of noise)', at: [25], series: httpHist([{ perMinute: 6, le: '1', minutes: 30 }]), fires: null },
  {
    alert: 'TailtraceRpcP99OverBudget', name: 'every call between 0.25 and 0.5 s', at: [25],
    series: rpcHist([{ perMinute: 600, le: '0.5', minutes: 30 }]), fires: { ...METHOD_OF_JOB, ...routing('shop', 'warning') },
  },
  { alert: 'TailtraceRpcP99OverBudget', name: 'every call under 0.1 s', at: [25], series: rpcHist([{ perMinute: 600, le: '0.1', minutes: 30 }]), fires: null },

  // Regression against the same time a day ago (2x and +50 ms, 15m), under budget throughout.
  {
    alert: 'TailtraceHttpP99Regressed', name: '25 ms yesterday, 250 ms today', at: [DAY + 30],
    series: httpHist([{ perMinute: 600, le: '0.025', minutes: DAY }, { perMinute: 600, le: '0.25', minutes: 40 }]),
    fires: { ...ROUTE_OF_JOB, ...routing('shop', 'warning') },
  },
  {
    alert: 'TailtraceHttpP99Regressed', name: '250 ms yesterday and today', at: [DAY + 30],
    series: httpHist([{ perMinute: 600, le: '0.25', minutes: DAY + 40 }]), fires: null,
  },
  {
    alert: 'TailtraceRpcP99Regressed', name: '10 ms yesterday, 100 ms today', at: [DAY + 30],
    series: rpcHist([{ perMinute: 600, le: '0.01', minutes: DAY }, { perMinute: 600, le: '0.1', minutes: 40 }]),
    fires: { ...METHOD_OF_JOB, ...routing('shop', 'warning') },
  },
  {
    alert: 'TailtraceRpcP99Regressed', name: '10 ms yesterday, 20 ms today (2x but only +10 ms)', at: [DAY + 30],
    series: rpcHist([{ perMinute: 600, le: '0.01', minutes: DAY }, { perMinute: 600, le: '0.025', minutes: 40 }]), fires: null,
  },

  // Error budget (99.9%): page at 14.4x over 1h and 5m; ticket at 3x over 1d and 2h.
  {
    alert: 'TailtraceHttpErrorBudgetBurn', name: '10% of requests answered 500 for an hour', at: [65],
    series: [httpCount('200', 540, 70), httpCount('500', 60, 70)],
    fires: { ...ROUTE_OF_JOB, ...routing('shop', 'critical') },
    exprs: [{ expr: 'job_route:http_server_request_error_ratio:rate5m', at: 65, samples: [{ labels: sel('job_route:http_server_request_error_ratio:rate5m', ROUTE_OF_JOB), value: 0.1 }] }],
  },
  { alert: 'TailtraceHttpErrorBudgetBurn', name: '0.05% failing (within the budget)', at: [65], series: [httpCount('200', 9995, 70), httpCount('500', 5, 70)], fires: null },
  { alert: 'TailtraceHttpErrorBudgetBurn', name: 'all failing, but 60 requests an hour', at: [65], series: [httpCount('500', 1, 70)], fires: null },
  {
    alert: 'TailtraceHttpErrorBudgetBurnSlow', name: '0.5% failing for 3 hours', at: [170],
    series: [httpCount('200', 995, 180), httpCount('0', 5, 180)],
    fires: { ...ROUTE_OF_JOB, ...routing('shop', 'warning') },
  },
  { alert: 'TailtraceHttpErrorBudgetBurnSlow', name: '0.05% failing for 3 hours', at: [170], series: [httpCount('200', 9995, 180), httpCount('503', 5, 180)], fires: null },
  {
    alert: 'TailtraceRpcErrorBudgetBurn', name: '10% UNAVAILABLE for an hour', at: [65],
    series: [rpcCount('0', 540, 70), rpcCount('14', 60, 70)],
    fires: { ...METHOD_OF_JOB, ...routing('shop', 'critical') },
  },
  { alert: 'TailtraceRpcErrorBudgetBurn', name: '10% NOT_FOUND (the caller\'s mistake)', at: [65], series: [rpcCount('0', 540, 70), rpcCount('5', 60, 70)], fires: null },
  {
    alert: 'TailtraceRpcErrorBudgetBurnSlow', name: '0.5% DEADLINE_EXCEEDED for 3 hours', at: [170],
    series: [rpcCount('0', 995, 180), rpcCount('4', 5, 180)],
    fires: { ...METHOD_OF_JOB, ...routing('shop', 'warning') },
  },
  { alert: 'TailtraceRpcErrorBudgetBurnSlow', name: '0.05% INTERNAL for 3 hours', at: [170], series: [rpcCount('0', 9995, 180), rpcCount('13', 5, 180)], fires: null },

  // Runtime.
  {
    alert: 'TailtraceSpansDropped', name: '60 of 660 spans a minute dropped', at: [25],
    series: [
      { series: sel('tailtrace_spans_exported_total', SHOP), values: counter({ inc: 600, minutes: 30 }) },
      { series: sel('tailtrace_spans_dropped_total', { ...SHOP, reason: 'queue_full' }), values: counter({ inc: 60, minutes: 30 }) },
      { series: sel('tailtrace_spans_dropped_total', { ...SHOP, reason: 'export_failed' }), values: constant(0, 30) },
    ],
    fires: { ...SHOP, ...routing('shop', 'warning') },
  },
  {
    alert: 'TailtraceSpansDropped', name: 'nothing dropped', at: [25],
    series: [
      { series: sel('tailtrace_spans_exported_total', SHOP), values: counter({ inc: 600, minutes: 30 }) },
      { series: sel('tailtrace_spans_dropped_total', { ...SHOP, reason: 'queue_full' }), values: constant(0, 30) },
    ],
    fires: null,
  },
  {
    alert: 'TailtraceHeapGrowing', name: 'heap after GC +2 MB a minute for two hours', at: [120],
    series: [
      { series: sel('nodejs_heap_size_used_bytes', SHOP), values: `100000000+2000000x130` },
      { series: sel('process_start_time_seconds', SHOP), values: constant(0, 130) },
    ],
    fires: { ...SHOP, ...routing('shop', 'warning') },
  },
  {
    alert: 'TailtraceHeapGrowing', name: 'a GC sawtooth of 100 MB that always comes back', at: [120],
    series: [
      { series: sel('nodejs_heap_size_used_bytes', SHOP), values: Array.from({ length: 131 }, (_, i) => (i % 3 === 2 ? 100_000_000 : 100_000_000 + (i % 3 + 1) * 50_000_000)).join(' ') },
      { series: sel('process_start_time_seconds', SHOP), values: constant(0, 130) },
    ],
    fires: null,
  },
  {
    alert: 'TailtraceHeapGrowing', name: 'growing, but in a process up for 30 minutes (start-up)', at: [120],
    series: [
      { series: sel('nodejs_heap_size_used_bytes', SHOP), values: `100000000+2000000x130` },
      { series: sel('process_start_time_seconds', SHOP), values: constant(90 * 60, 130) },
    ],
    fires: null,
  },
  {
    alert: 'TailtraceEvidenceCaptured', name: 'a heap_growth trigger that was no blip', at: [20],
    series: [
      { series: sel('tailtrace_evidence_triggers_total', { ...SHOP, trigger: 'heap_growth' }), values: `${constant(0, 10)} ${constant(1, 19)}` },
      { series: sel('tailtrace_evidence_triggers_total', { ...SHOP, trigger: 'signal' }), values: `${constant(0, 10)} ${constant(1, 19)}` },
      { series: sel('tailtrace_evidence_blips_total', { ...SHOP, trigger: 'heap_growth' }), values: constant(0, 30) },
    ],
    fires: { ...SHOP, trigger: 'heap_growth', ...routing('shop', 'info') },
  },
  {
    alert: 'TailtraceEvidenceCaptured', name: 'a p99_regression trigger judged a blip a minute later; a signal capture', at: [12, 13, 17, 20, 25],
    series: [
      { series: sel('tailtrace_evidence_triggers_total', { ...SHOP, trigger: 'p99_regression' }), values: `${constant(0, 10)} ${constant(1, 19)}` },
      { series: sel('tailtrace_evidence_blips_total', { ...SHOP, trigger: 'p99_regression' }), values: `${constant(0, 11)} ${constant(1, 18)}` },
      { series: sel('tailtrace_evidence_triggers_total', { ...SHOP, trigger: 'signal' }), values: `${constant(0, 10)} ${constant(1, 19)}` },
    ],
    fires: null,
  },

  // The Collector.
  {
    alert: 'OtelcolReceiverRefusingData', name: 'the memory limiter refuses 9% of spans', at: [15],
    series: [
      { series: sel('otelcol_receiver_accepted_spans_total', { ...COLLECTOR, receiver: 'otlp', transport: 'grpc' }), values: counter({ inc: 600, minutes: 20 }) },
      { series: sel('otelcol_receiver_refused_spans_total', { ...COLLECTOR, receiver: 'otlp', transport: 'grpc' }), values: counter({ inc: 60, minutes: 20 }) },
    ],
    fires: { ...COLLECTOR, receiver: 'otlp', ...routing('otelcol', 'warning') },
  },
  {
    alert: 'OtelcolReceiverRefusingData', name: 'nothing refused (no refused series at all)', at: [15],
    series: [{ series: sel('otelcol_receiver_accepted_spans_total', { ...COLLECTOR, receiver: 'otlp', transport: 'grpc' }), values: counter({ inc: 600, minutes: 20 }) }],
    fires: null,
  },
  {
    alert: 'OtelcolExporterDroppingData', name: '1% of spans fail to export', at: [15],
    series: [
      { series: sel('otelcol_exporter_sent_spans_total', { ...COLLECTOR, exporter: 'otlp_grpc/tempo' }), values: counter({ inc: 600, minutes: 20 }) },
      { series: sel('otelcol_exporter_send_failed_spans_total', { ...COLLECTOR, exporter: 'otlp_grpc/tempo' }), values: counter({ inc: 6, minutes: 20 }) },
    ],
    fires: { ...COLLECTOR, exporter: 'otlp_grpc/tempo', ...routing('otelcol', 'warning') },
  },
  {
    alert: 'OtelcolExporterDroppingData', name: 'metric points and spans all sent', at: [15],
    series: [
      { series: sel('otelcol_exporter_sent_spans_total', { ...COLLECTOR, exporter: 'otlp_grpc/tempo' }), values: counter({ inc: 600, minutes: 20 }) },
      { series: sel('otelcol_exporter_send_failed_spans_total', { ...COLLECTOR, exporter: 'otlp_grpc/tempo' }), values: constant(0, 20) },
      { series: sel('otelcol_exporter_sent_metric_points_total', { ...COLLECTOR, exporter: 'prometheus_remote_write' }), values: counter({ inc: 100, minutes: 20 }) },
    ],
    fires: null,
  },
  {
    alert: 'OtelcolExporterQueueNearlyFull', name: 'queue 95% full for 10 minutes', at: [15],
    series: [
      { series: sel('otelcol_exporter_queue_size', { ...COLLECTOR, exporter: 'otlp_grpc/tempo', data_type: 'traces' }), values: constant(1900, 20) },
      { series: sel('otelcol_exporter_queue_capacity', { ...COLLECTOR, exporter: 'otlp_grpc/tempo', data_type: 'traces' }), values: constant(2000, 20) },
    ],
    fires: { ...COLLECTOR, exporter: 'otlp_grpc/tempo', ...routing('otelcol', 'warning') },
    exprs: [{ expr: 'job_instance_exporter:otelcol_exporter_queue_fill:ratio', at: 15, samples: [{ labels: sel('job_instance_exporter:otelcol_exporter_queue_fill:ratio', { ...COLLECTOR, exporter: 'otlp_grpc/tempo' }), value: 0.95 }] }],
  },
  {
    alert: 'OtelcolExporterQueueNearlyFull', name: 'queue 5% full', at: [15],
    series: [
      { series: sel('otelcol_exporter_queue_size', { ...COLLECTOR, exporter: 'otlp_grpc/tempo', data_type: 'traces' }), values: constant(100, 20) },
      { series: sel('otelcol_exporter_queue_capacity', { ...COLLECTOR, exporter: 'otlp_grpc/tempo', data_type: 'traces' }), values: constant(2000, 20) },
    ],
    fires: null,
  },
];

function promtoolTests(cases: Case[], evaluationInterval = '1m'): unknown {
  return {
    rule_files: ['rules.yml'],
    evaluation_interval: evaluationInterval,
    tests: cases.map((c) => ({
      name: `${c.alert}: ${c.name}`,
      interval: '1m',
      input_series: c.series,
      alert_rule_test: c.at.map((m) => ({
        eval_time: `${m}m`,
        alertname: c.alert,
        exp_alerts: c.fires ? [{ exp_labels: c.fires }] : [],
      })),
      promql_expr_test: (c.exprs ?? []).map((e) => ({ expr: e.expr, eval_time: `${e.at}m`, exp_samples: e.samples })),
    })),
  };
}

/** The production groups without annotations (see the header). */
function withoutAnnotations(groups: RuleGroup[]): RuleGroup[] {
  return groups.map((g) => ({ ...g, rules: g.rules.map((r) => (isAlert(r) ? { ...r, annotations: {} } : r)) }));
}

const alerts = (): AlertRule[] => ruleGroups(PRODUCTION).flatMap((g) => g.rules.filter(isAlert));

describe('promtool', () => {
  test('check rules accepts the committed rule file', () => {
    const r = promtool(['check', 'rules', RULES]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS: \d+ rules found/);
  });

  test('check rules rejects a broken one (the check is real)', () => {
    const t = tempDir('tailtrace-rules-');
    try {
      const bad = join(t.dir, 'bad.yml');
      writeFileSync(bad, readFileSync(RULES, 'utf8').replace('for: 10m', 'for: ten minutes'));
      assert.notEqual(promtool(['check', 'rules', bad]).status, 0);
      writeFileSync(bad, readFileSync(RULES, 'utf8').replace('{{ $labels.job }}', '{{ $labels.job '));
      assert.notEqual(promtool(['check', 'rules', bad]).status, 0, 'a broken annotation template');
    } finally {
      t.cleanup();
    }
  });

  test('every alert has a firing and a quiet case', () => {
    const names = alerts().map((a) => a.alert);
    for (const n of names) {
      assert.ok(CASES.some((c) => c.alert === n && c.fires), `${n}: no case in which it fires`);
      assert.ok(CASES.some((c) => c.alert === n && !c.fires), `${n}: no case in which it stays quiet`);
    }
    assert.deepEqual([...new Set(CASES.map((c) => c.alert))].sort(), [...names].sort(), 'cases for alerts that do not exist');
  });

  test('test rules: every case fires, or stays quiet, as written', () => {
    const t = tempDir('tailtrace-rules-');
    try {
      writeFileSync(join(t.dir, 'rules.yml'), renderRuleFile('unit-test copy: the production rules without annotations', withoutAnnotations(ruleGroups(PRODUCTION))));
      // Cases a day long are evaluated every 5 minutes (every rule, at every step: the cost).
      const long = (c: Case) => Math.max(...c.at) > 6 * 60;
      writeFileSync(join(t.dir, 'tests.yml'), JSON.stringify(promtoolTests(CASES.filter((c) => !long(c))), null, 1));
      writeFileSync(join(t.dir, 'day-long-tests.yml'), JSON.stringify(promtoolTests(CASES.filter(long), '5m'), null, 1));
      const r = promtool(['test', 'rules', join(t.dir, 'tests.yml'), join(t.dir, 'day-long-tests.yml')]);
      assert.equal(r.status, 0, r.out);
    } finally {
      t.cleanup();
    }
  });

  test('test rules fails when a case is wrong (the runner is real)', () => {
    const t = tempDir('tailtrace-rules-');
    try {
      writeFileSync(join(t.dir, 'rules.yml'), renderRuleFile('unit-test copy', withoutAnnotations(ruleGroups(PRODUCTION))));
      const quiet = CASES.find((c) => c.alert === 'TailtraceHttpP99OverBudget' && !c.fires)!;
      const wrong = { ...quiet, fires: { ...ROUTE, ...routing('shop', 'warning') } };
      writeFileSync(join(t.dir, 'tests.yml'), JSON.stringify(promtoolTests([wrong])));
      assert.notEqual(promtool(['test', 'rules', join(t.dir, 'tests.yml')]).status, 0);
    } finally {
      t.cleanup();
    }
  });
});

describe('what an alert tells the person paged', () => {
  const boards = loadDashboards();
  const panels = new Map<string, string[]>();
  for (const d of boards.values()) panels.set(d.uid, queryPanels(d).map((p) => `${p.id}:${p.title}`));

  for (const a of alerts()) {
    test(a.alert, () => {
      assert.ok(a.labels.severity && ['critical', 'warning', 'info'].includes(a.labels.severity), 'severity');
      assert.equal(a.labels.service, '{{ $labels.job }}');
      for (const k of ['summary', 'description', 'runbook', 'dashboard']) assert.ok(a.annotations[k]?.trim(), `annotation ${k}`);
      const m = /^\/d\/([\w-]+)\?viewPanel=(\d+)&var-job=\{\{ \$labels\.job \}\}$/.exec(a.annotations.dashboard!);
      assert.ok(m, a.annotations.dashboard);
      const panel = panels.get(m[1]!)?.find((p) => p.startsWith(`${m[2]}:`));
      assert.ok(panel, `${a.annotations.dashboard} is no panel of the committed dashboards`);
      assert.ok(a.annotations.runbook!.includes(`panel "${panel.slice(panel.indexOf(':') + 1)}"`), 'the runbook names the panel');
      assert.ok(/tailtrace diagnose "\$\(ls -d \$DIR\/\*-baseline-\*/.test(a.annotations.runbook!) || (a.alert.startsWith('Otelcol') && a.annotations.runbook!.includes('tailtrace diagnose does not apply')), 'the runbook gives the diagnose command');
    });
  }

});
