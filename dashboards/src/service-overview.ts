// (1) Service overview: the alerts firing and what the latency alerts judge (P99 against its
// budget, from the recording rules), RED per HTTP route and per gRPC method, P50/P90/P99
// estimated from the histograms next to the exact ones from the HDR windows, and latency
// heatmaps whose exemplar dots open the trace of that request in Tempo.
import { finish, hq, latencyHeatmap, newDashboard, row, sel, sumRate, timeSeries } from './common.ts';
import type { dashboard } from './common.ts';
import { recorded } from './recording-rules.ts';
import { PRODUCTION } from './rule-params.ts';

const R = recorded(PRODUCTION);

const HTTP = 'http_server_request_duration_seconds';
const RPC = 'rpc_server_duration_seconds';
const HTTP_CLIENT = 'http_client_request_duration_seconds';
const RPC_CLIENT = 'rpc_client_duration_seconds';

/** `(errors or total * 0) / total` over recorded per-instance rates, summed by `by`: 0, not absent, without errors. */
function recordedErrorRatio(errors: string, total: string, by: string): string {
  const t = `sum by (${by}) (${total}${sel()})`;
  return `(sum by (${by}) (${errors}${sel()}) or ${t} * 0) / ${t}`;
}

/** P99 over the recorded per-instance bucket rates, and the recorded budget, per operation. */
function p99VsBudget(buckets: string, budget: string, by: string, legend: string) {
  return [
    { expr: `histogram_quantile(0.99, sum by (le, ${by}) (${buckets}${sel()}))`, legend: `p99 ${legend}` },
    { expr: `max by (${by}) (${budget}${sel()})`, legend: `budget ${legend}` },
  ];
}

/** HDR summary quantiles of one operation kind, per operation. */
function hdr(q: string, kind: string): string {
  return `max by (operation) (tailtrace_latency_seconds${sel(`kind="${kind}", quantile="${q}"`)})`;
}

export function serviceOverview(): dashboard.Dashboard {
  const b = newDashboard({
    uid: 'tailtrace-service-overview',
    title: 'tailtrace / Service overview',
    description: 'RED metrics per HTTP route and gRPC method, histogram vs HDR percentiles, latency heatmaps with exemplars.',
    tags: ['red', 'latency'],
    variableMetric: `${HTTP}_count`,
  });

  b.withRow(row('Alerts — what the alert rules judge'))
    .withPanel(timeSeries({
      title: 'Firing alerts',
      description: 'Alerts of dashboards/rules/tailtrace.rules.yml firing now (the ALERTS series), by alert, service and severity; one line at 0 named "none firing" when there are none. Each alert\'s runbook names the panel to open next.',
      unit: 'short',
      width: 24,
      height: 6,
      min: 0,
      queries: [{
        expr: `sum by (alertname, job, severity) (ALERTS${sel('alertstate="firing"')}) or label_replace(vector(0), "alertname", "none firing", "", "")`,
        legend: '{{alertname}} {{job}} {{severity}}',
      }],
    }))
    .withPanel(timeSeries({
      title: 'HTTP P99 vs budget by route (as alerted)',
      description: `P99 per route over the recorded ${PRODUCTION.rateWindow} bucket rates (${R.httpBuckets}), with its budget (${R.httpBudget}): what TailtraceHttpP99OverBudget and TailtraceHttpP99Regressed judge, summed over the selected instances.`,
      unit: 's',
      queries: p99VsBudget(R.httpBuckets, R.httpBudget, 'job, http_request_method, http_route', '{{job}} {{http_request_method}} {{http_route}}'),
    }))
    .withPanel(timeSeries({
      title: 'gRPC P99 vs budget by method (as alerted)',
      description: `P99 per gRPC method over the recorded ${PRODUCTION.rateWindow} bucket rates (${R.rpcBuckets}), with its budget (${R.rpcBudget}): what TailtraceRpcP99OverBudget and TailtraceRpcP99Regressed judge.`,
      unit: 's',
      queries: p99VsBudget(R.rpcBuckets, R.rpcBudget, 'job, rpc_service, rpc_method', '{{job}} {{rpc_service}}/{{rpc_method}}'),
    }));

  b.withRow(row('HTTP server — per route'))
    .withPanel(timeSeries({
      title: 'HTTP requests per second by route',
      description: 'Rate of finished HTTP server requests per route template and method (from the histogram _count).',
      unit: 'reqps',
      width: 8,
      queries: [{ expr: sumRate(`${HTTP}_count`, 'http_route, http_request_method'), legend: '{{http_request_method}} {{http_route}}' }],
    }))
    .withPanel(timeSeries({
      title: 'HTTP error ratio (5xx) by route',
      description: `Share of requests per route answered with a 5xx status (or no response) over ${PRODUCTION.rateWindow}, from the recording rules the error-budget alerts read (TailtraceHttpErrorBudgetBurn pages at 14.4x the budget over 1h and 5m). 0 when there were none.`,
      unit: 'percentunit',
      width: 8,
      min: 0,
      queries: [{ expr: recordedErrorRatio(R.httpErrors, R.httpRequests, 'job, http_route'), legend: '{{job}} {{http_route}}' }],
    }))
    .withPanel(timeSeries({
      title: 'HTTP mean latency by route',
      description: 'Mean request duration per route: rate of the histogram _sum over rate of _count.',
      unit: 's',
      width: 8,
      queries: [{ expr: `${sumRate(`${HTTP}_sum`, 'http_route')} / ${sumRate(`${HTTP}_count`, 'http_route')}`, legend: '{{http_route}}' }],
    }))
    .withPanel(timeSeries({
      title: 'HTTP P50 / P90 / P99 by route — histogram estimate',
      description: 'Percentiles interpolated by histogram_quantile() from the bucket counters; accuracy is limited by the bucket bounds. Exemplar dots link to traces.',
      unit: 's',
      queries: [
        { expr: hq(0.5, HTTP, 'http_route'), legend: 'p50 {{http_route}}' },
        { expr: hq(0.9, HTTP, 'http_route'), legend: 'p90 {{http_route}}' },
        { expr: hq(0.99, HTTP, 'http_route'), legend: 'p99 {{http_route}}', exemplar: true },
      ],
    }))
    .withPanel(timeSeries({
      title: 'HTTP P50 / P90 / P99 by route — HDR (exact)',
      description: 'Percentiles the service computed from its HDR histogram window (tailtrace_latency_seconds, kind="http_server"); exact to the HDR precision, max over instances.',
      unit: 's',
      queries: [
        { expr: hdr('0.5', 'http_server'), legend: 'p50 {{operation}}' },
        { expr: hdr('0.9', 'http_server'), legend: 'p90 {{operation}}' },
        { expr: hdr('0.99', 'http_server'), legend: 'p99 {{operation}}' },
      ],
    }))
    .withPanel(latencyHeatmap({
      title: 'HTTP server latency heatmap',
      description: 'Requests per latency bucket over time, all routes. Exemplar dots carry trace IDs and open the trace in Tempo.',
      unit: 's',
      width: 24,
      queries: [{ expr: `sum by (le) (increase(${HTTP}_bucket${sel()}[$__rate_interval]))`, legend: '{{le}}', format: 'heatmap', exemplar: true }],
    }));

  b.withRow(row('gRPC server — per method'))
    .withPanel(timeSeries({
      title: 'gRPC requests per second by method',
      description: 'Rate of finished gRPC server calls per service/method (from the histogram _count).',
      unit: 'reqps',
      width: 8,
      queries: [{ expr: sumRate(`${RPC}_count`, 'rpc_service, rpc_method'), legend: '{{rpc_service}}/{{rpc_method}}' }],
    }))
    .withPanel(timeSeries({
      title: 'gRPC error ratio by method',
      description: `Share of calls per method that failed on the server's side over ${PRODUCTION.rateWindow}: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS (the OpenTelemetry conventions' server errors; NOT_FOUND and other caller mistakes are not), from the recording rules the error-budget alerts read. 0 when there were none.`,
      unit: 'percentunit',
      width: 8,
      min: 0,
      queries: [{ expr: recordedErrorRatio(R.rpcErrors, R.rpcCalls, 'job, rpc_service, rpc_method'), legend: '{{job}} {{rpc_service}}/{{rpc_method}}' }],
    }))
    .withPanel(timeSeries({
      title: 'gRPC mean latency by method',
      description: 'Mean call duration per method: rate of the histogram _sum over rate of _count.',
      unit: 's',
      width: 8,
      queries: [{ expr: `${sumRate(`${RPC}_sum`, 'rpc_service, rpc_method')} / ${sumRate(`${RPC}_count`, 'rpc_service, rpc_method')}`, legend: '{{rpc_service}}/{{rpc_method}}' }],
    }))
    .withPanel(timeSeries({
      title: 'gRPC P50 / P90 / P99 by method — histogram estimate',
      description: 'Percentiles interpolated by histogram_quantile() from the bucket counters. Exemplar dots link to traces.',
      unit: 's',
      queries: [
        { expr: hq(0.5, RPC, 'rpc_service, rpc_method'), legend: 'p50 {{rpc_service}}/{{rpc_method}}' },
        { expr: hq(0.9, RPC, 'rpc_service, rpc_method'), legend: 'p90 {{rpc_service}}/{{rpc_method}}' },
        { expr: hq(0.99, RPC, 'rpc_service, rpc_method'), legend: 'p99 {{rpc_service}}/{{rpc_method}}', exemplar: true },
      ],
    }))
    .withPanel(timeSeries({
      title: 'gRPC P50 / P90 / P99 by method — HDR (exact)',
      description: 'Percentiles from the service HDR window (tailtrace_latency_seconds, kind="rpc_server"), max over instances.',
      unit: 's',
      queries: [
        { expr: hdr('0.5', 'rpc_server'), legend: 'p50 {{operation}}' },
        { expr: hdr('0.9', 'rpc_server'), legend: 'p90 {{operation}}' },
        { expr: hdr('0.99', 'rpc_server'), legend: 'p99 {{operation}}' },
      ],
    }))
    .withPanel(latencyHeatmap({
      title: 'gRPC server latency heatmap',
      description: 'Calls per latency bucket over time, all methods. Exemplar dots carry trace IDs and open the trace in Tempo.',
      unit: 's',
      width: 24,
      queries: [{ expr: `sum by (le) (increase(${RPC}_bucket${sel()}[$__rate_interval]))`, legend: '{{le}}', format: 'heatmap', exemplar: true }],
    }));

  b.withRow(row('Outbound calls'))
    .withPanel(timeSeries({
      title: 'Outbound gRPC P99 by method',
      description: 'P99 of gRPC client calls this service makes, per method (histogram estimate); compare with the callee server P99 to see network and queueing time.',
      unit: 's',
      queries: [{ expr: hq(0.99, RPC_CLIENT, 'rpc_service, rpc_method'), legend: '{{rpc_service}}/{{rpc_method}}', exemplar: true }],
    }))
    .withPanel(timeSeries({
      title: 'Outbound HTTP P99 by peer',
      description: 'P99 of HTTP client requests (fetch / node:http) per peer host (histogram estimate).',
      unit: 's',
      queries: [{ expr: hq(0.99, HTTP_CLIENT, 'server_address, http_request_method'), legend: '{{http_request_method}} {{server_address}}', exemplar: true }],
    }))
    .withPanel(timeSeries({
      title: 'Outbound calls per second',
      description: 'Rate of outbound gRPC calls per method and HTTP requests per peer.',
      unit: 'reqps',
      width: 24,
      queries: [
        { expr: sumRate(`${RPC_CLIENT}_count`, 'rpc_service, rpc_method'), legend: 'gRPC {{rpc_service}}/{{rpc_method}}' },
        { expr: sumRate(`${HTTP_CLIENT}_count`, 'server_address'), legend: 'HTTP {{server_address}}' },
      ],
    }));

  return finish(b);
}
