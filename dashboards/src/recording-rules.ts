// Recording rules: what a dashboard panel and an alert compute alike is computed once, here,
// and both read the recorded series. Names follow Prometheus' level:metric:operations.
//   tailtrace.red      per job and instance (so the dashboards' $job / $instance filters apply):
//                      request and error rates, latency bucket rates, P99 budgets
//   tailtrace.slo      per job and route / method (what the alerts judge): P99, error ratios
//                      over the burn-rate windows
//   tailtrace.runtime  heap trough and its slope, span drop share, evidence captured
//   tailtrace.otelcol  the Collector's refused / dropped shares and queue fill
import type { RecordingRule, RuleGroup } from './rule-file.ts';
import { scaled } from './rule-params.ts';
import type { Budget, RuleParams } from './rule-params.ts';

export const HTTP = 'http_server_request_duration_seconds';
export const RPC = 'rpc_server_duration_seconds';
export const HTTP_BY = 'job, http_request_method, http_route';
export const RPC_BY = 'job, rpc_service, rpc_method';
/** A failed HTTP request: a 5xx answer, or none at all (0). */
export const HTTP_ERROR = 'http_response_status_code=~"5..|0"';
/**
 * A failed gRPC call, as the OpenTelemetry semantic conventions define a server-side error:
 * UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS. Client mistakes
 * (NOT_FOUND, INVALID_ARGUMENT, ...) do not spend the service's error budget.
 */
export const RPC_ERROR = 'rpc_grpc_status_code=~"2|4|12|13|14|15"';
/** Triggers that fire on their own (signal and endpoint captures are someone asking). */
export const AUTOMATIC_TRIGGERS = 'trigger=~"p99_regression|heap_growth|heap_limit"';
/** The SRE workbook's windows: (long, short) pairs at 14.4x, 6x (page), 3x, 1x (ticket). */
export const BURN_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'];

/** The recorded series' names under `p` (their windows are in their names). */
export function recorded(p: RuleParams) {
  const w = scaled(p, p.rateWindow);
  const trough = scaled(p, p.heap.troughWindow);
  return {
    httpRequests: `job_instance_route:http_server_requests:rate${w}`,
    httpErrors: `job_instance_route:http_server_request_errors:rate${w}`,
    httpBuckets: `job_instance_route:${HTTP}_bucket:rate${w}`,
    httpBudget: 'job_instance_route:http_server_p99_budget_seconds',
    rpcCalls: `job_instance_method:rpc_server_calls:rate${w}`,
    rpcErrors: `job_instance_method:rpc_server_call_errors:rate${w}`,
    rpcBuckets: `job_instance_method:${RPC}_bucket:rate${w}`,
    rpcBudget: 'job_instance_method:rpc_server_p99_budget_seconds',
    httpP99: `job_route:${HTTP}:p99_${w}`,
    rpcP99: `job_method:${RPC}:p99_${w}`,
    httpErrorRatio: (window: string) => `job_route:http_server_request_error_ratio:rate${scaled(p, window)}`,
    rpcErrorRatio: (window: string) => `job_method:rpc_server_call_error_ratio:rate${scaled(p, window)}`,
    heapTrough: `job_instance:nodejs_heap_size_used_bytes:min${trough}`,
    heapSlope: `job_instance:nodejs_heap_size_used_bytes:min${trough}_deriv${scaled(p, p.heap.slopeWindow)}`,
    spanDropRatio: `job_instance:tailtrace_spans_dropped:ratio_rate${w}`,
    evidenceCaptured: `job_instance_trigger:tailtrace_evidence_captured:increase${scaled(p, p.evidence.window)}`,
    otelcolRefused: `job_instance_receiver:otelcol_receiver_refused:ratio_rate${w}`,
    otelcolDropped: `job_instance_exporter:otelcol_exporter_dropped:ratio_rate${w}`,
    otelcolQueueFill: 'job_instance_exporter:otelcol_exporter_queue_fill:ratio',
  };
}

/** The group's evaluation interval when the parameters set one. */
export function interval(p: RuleParams): { interval?: string } {
  return p.evaluationInterval ? { interval: p.evaluationInterval } : {};
}

const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

/**
 * One series per route (method) with traffic, valued at its P99 budget: the listed budgets
 * first, the default for every other (`or` adds only label sets not already there).
 */
function budgetExpr(rate: string, budgets: Budget[], matchers: (b: Budget) => string, fallback: number): string {
  const listed = budgets.map((b) => `0 * ${rate}{${matchers(b)}} + ${b.p99Seconds}`);
  return [...listed, `0 * ${rate} + ${fallback}`].join('\nor\n');
}

function httpBudgetMatchers(b: Budget): string {
  return `job="${esc(b.job)}", http_route="${esc(b.operation)}"`;
}

function rpcBudgetMatchers(b: Budget): string {
  const slash = b.operation.lastIndexOf('/');
  if (slash <= 0) throw new Error(`gRPC budget operation must be package.Service/Method: ${b.operation}`);
  return `job="${esc(b.job)}", rpc_service="${esc(b.operation.slice(0, slash))}", rpc_method="${esc(b.operation.slice(slash + 1))}"`;
}

function redGroup(p: RuleParams): RuleGroup {
  const r = recorded(p);
  const w = scaled(p, p.rateWindow);
  const http = `job, instance, http_request_method, http_route`;
  const rpc = `job, instance, rpc_service, rpc_method`;
  const budgets = (kind: Budget['kind']) => p.latency.budgets.filter((b) => b.kind === kind);
  return {
    name: 'tailtrace.red',
    ...interval(p),
    rules: [
      { record: r.httpRequests, expr: `sum by (${http}) (rate(${HTTP}_count[${w}]))` },
      { record: r.httpErrors, expr: `sum by (${http}) (rate(${HTTP}_count{${HTTP_ERROR}}[${w}]))` },
      { record: r.httpBuckets, expr: `sum by (${http}, le) (rate(${HTTP}_bucket[${w}]))` },
      { record: r.httpBudget, expr: budgetExpr(r.httpRequests, budgets('http'), httpBudgetMatchers, p.latency.httpP99Seconds) },
      { record: r.rpcCalls, expr: `sum by (${rpc}) (rate(${RPC}_count[${w}]))` },
      { record: r.rpcErrors, expr: `sum by (${rpc}) (rate(${RPC}_count{${RPC_ERROR}}[${w}]))` },
      { record: r.rpcBuckets, expr: `sum by (${rpc}, le) (rate(${RPC}_bucket[${w}]))` },
      { record: r.rpcBudget, expr: budgetExpr(r.rpcCalls, budgets('rpc'), rpcBudgetMatchers, p.latency.rpcP99Seconds) },
    ],
  };
}

/** Error ratio of one kind over `window`, 0 (not absent) when nothing failed. */
function errorRatio(p: RuleParams, metric: string, by: string, error: string, window: string, fromRecorded?: { errors: string; total: string }): string {
  if (fromRecorded) return `(sum by (${by}) (${fromRecorded.errors}) or sum by (${by}) (${fromRecorded.total}) * 0)\n/\nsum by (${by}) (${fromRecorded.total})`;
  const w = scaled(p, window);
  const total = `sum by (${by}) (rate(${metric}_count[${w}]))`;
  return `(sum by (${by}) (rate(${metric}_count{${error}}[${w}])) or ${total} * 0)\n/\n${total}`;
}

function sloGroup(p: RuleParams): RuleGroup {
  const r = recorded(p);
  const rules: RecordingRule[] = [
    { record: r.httpP99, expr: `histogram_quantile(0.99, sum by (${HTTP_BY}, le) (${r.httpBuckets}))` },
    { record: r.rpcP99, expr: `histogram_quantile(0.99, sum by (${RPC_BY}, le) (${r.rpcBuckets}))` },
  ];
  for (const window of BURN_WINDOWS) {
    const same = scaled(p, window) === scaled(p, p.rateWindow);
    rules.push({
      record: r.httpErrorRatio(window),
      expr: errorRatio(p, HTTP, HTTP_BY, HTTP_ERROR, window, same ? { errors: r.httpErrors, total: r.httpRequests } : undefined),
    });
    rules.push({
      record: r.rpcErrorRatio(window),
      expr: errorRatio(p, RPC, RPC_BY, RPC_ERROR, window, same ? { errors: r.rpcErrors, total: r.rpcCalls } : undefined),
    });
  }
  return { name: 'tailtrace.slo', ...interval(p), rules };
}

function runtimeGroup(p: RuleParams): RuleGroup {
  const r = recorded(p);
  const w = scaled(p, p.rateWindow);
  const by = 'job, instance';
  const ew = scaled(p, p.evidence.window);
  const triggers = `sum by (${by}, trigger) (increase(tailtrace_evidence_triggers_total{${AUTOMATIC_TRIGGERS}}[${ew}]))`;
  return {
    name: 'tailtrace.runtime',
    ...interval(p),
    rules: [
      // Heap used sawtooths with every GC; its minimum over a few minutes is what survived them.
      { record: r.heapTrough, expr: `min by (${by}) (min_over_time(nodejs_heap_size_used_bytes[${scaled(p, p.heap.troughWindow)}]))` },
      { record: r.heapSlope, expr: `deriv(${r.heapTrough}[${scaled(p, p.heap.slopeWindow)}])` },
      {
        record: r.spanDropRatio,
        expr: `sum by (${by}) (rate(tailtrace_spans_dropped_total[${w}]))\n/\n(sum by (${by}) (rate(tailtrace_spans_exported_total[${w}])) + sum by (${by}) (rate(tailtrace_spans_dropped_total[${w}])))`,
      },
      // Blips are counted a window after their trigger; heap_limit has no blips.
      { record: r.evidenceCaptured, expr: `${triggers}\n-\n(sum by (${by}, trigger) (increase(tailtrace_evidence_blips_total[${ew}])) or ${triggers} * 0)` },
    ],
  };
}

function otelcolGroup(p: RuleParams): RuleGroup {
  const r = recorded(p);
  const w = scaled(p, p.rateWindow);
  const accepted = `sum by (job, instance, receiver) (rate({__name__=~"otelcol_receiver_accepted_(spans|metric_points|log_records)_total"}[${w}]))`;
  const refused = `sum by (job, instance, receiver) (rate({__name__=~"otelcol_receiver_refused_(spans|metric_points|log_records)_total"}[${w}]))`;
  const sent = `sum by (job, instance, exporter) (rate({__name__=~"otelcol_exporter_sent_(spans|metric_points|log_records)_total"}[${w}]))`;
  const failed = `sum by (job, instance, exporter) (rate({__name__=~"otelcol_exporter_(send|enqueue)_failed_(spans|metric_points|log_records)_total"}[${w}]))`;
  return {
    name: 'tailtrace.otelcol',
    ...interval(p),
    rules: [
      { record: r.otelcolRefused, expr: `(${refused} or ${accepted} * 0)\n/\n(${accepted} + (${refused} or ${accepted} * 0))` },
      { record: r.otelcolDropped, expr: `(${failed} or ${sent} * 0)\n/\n(${sent} + (${failed} or ${sent} * 0))` },
      { record: r.otelcolQueueFill, expr: 'max by (job, instance, exporter) (otelcol_exporter_queue_size)\n/\nmax by (job, instance, exporter) (otelcol_exporter_queue_capacity)' },
    ],
  };
}

export function recordingGroups(p: RuleParams): RuleGroup[] {
  return [redGroup(p), sloGroup(p), runtimeGroup(p), otelcolGroup(p)];
}
