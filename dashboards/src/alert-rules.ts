// Alert rules. Each reads recorded series (recording-rules.ts) and carries labels that route
// (severity: critical = page, warning = ticket; service = the job) and annotations that say what
// fired (summary, description), where to look (the dashboard panel that plots exactly what the
// rule judged: `dashboard` is its Grafana path) and what to run (`runbook`: the panel and the
// `tailtrace diagnose` command for the service's evidence bundles).
import type { AlertRule, RuleGroup } from './rule-file.ts';
import { seconds } from './rule-file.ts';
import { HTTP, HTTP_BY, interval, RPC, RPC_BY, recorded } from './recording-rules.ts';
import { scaled } from './rule-params.ts';
import type { RuleParams } from './rule-params.ts';

/** A panel of a generated dashboard; resolved (and checked to exist) by the caller. */
export interface PanelRef {
  dashboard: string;
  panel: string;
  /** Grafana path to the panel, e.g. `/d/tailtrace-service-overview?viewPanel=3`. */
  path: string;
}
export type FindPanel = (dashboardUid: string, title: string) => PanelRef;

export const PANELS = {
  httpP99: ['tailtrace-service-overview', 'HTTP P99 vs budget by route (as alerted)'],
  rpcP99: ['tailtrace-service-overview', 'gRPC P99 vs budget by method (as alerted)'],
  httpErrors: ['tailtrace-service-overview', 'HTTP error ratio (5xx) by route'],
  rpcErrors: ['tailtrace-service-overview', 'gRPC error ratio by method'],
  heap: ['tailtrace-heap-evidence', 'Heap growth rate (after-GC trough)'],
  evidence: ['tailtrace-heap-evidence', 'Evidence captured (triggers that were not blips)'],
  spans: ['tailtrace-heap-evidence', 'Share of spans dropped'],
  otelcolRefused: ['tailtrace-collector-health', 'Refused and dropped share (as alerted)'],
  otelcolQueue: ['tailtrace-collector-health', 'Export queue fill'],
} as const satisfies Record<string, readonly [string, string]>;

/** Where a service's evidence bundles are (instrument()'s default when TAILTRACE_EVIDENCE_DIR is unset). */
const DIR = 'DIR=${TAILTRACE_EVIDENCE_DIR:-${TMPDIR:-/tmp}/tailtrace-evidence/{{ $labels.job }}};';
/** On a host of the service: compare its newest scheduled baseline with its newest bundle of a trigger (a glob part). */
const diagnose = (trigger: string) =>
  `\`${DIR} tailtrace diagnose "$(ls -d $DIR/*-baseline-* | tail -1)" "$(ls -d $DIR/*-${trigger}-* | tail -1)"\``;
/** Ask an instance for a bundle now (needs its evidence token); it lands as *-endpoint-*. */
const capture = (instance: string, query = '') =>
  `\`curl -fsS -X POST -H "Authorization: Bearer $TAILTRACE_EVIDENCE_TOKEN" http://${instance}/debug/tailtrace/evidence${query}\``;
/** Alerts judged per service have no instance label: name the placeholder instead. */
const ANY_INSTANCE = 'INSTANCE';

const num = (x: number) => String(Number(x.toPrecision(6)));

interface AlertSpec {
  alert: string;
  expr: string;
  for?: string;
  severity: 'critical' | 'warning' | 'info';
  summary: string;
  description: string;
  panel: PanelRef;
  /** What to run, after opening the panel. */
  then: string;
}

function alert(s: AlertSpec): AlertRule {
  const path = `${s.panel.path}&var-job={{ $labels.job }}`;
  return {
    alert: s.alert,
    expr: s.expr,
    ...(s.for ? { for: s.for } : {}),
    labels: { severity: s.severity, service: '{{ $labels.job }}' },
    annotations: {
      summary: s.summary,
      description: s.description,
      dashboard: path,
      runbook: `Open Grafana "${s.panel.dashboard}" -> panel "${s.panel.panel}" (${path}). ${s.then}`,
    },
  };
}

interface Kind {
  name: 'Http' | 'Rpc';
  what: string;
  op: string;
  by: string;
  metric: string;
  requests: string;
  p99: string;
  budget: string;
  ratio: (w: string) => string;
  error: string;
  p99Panel: PanelRef;
  errorPanel: PanelRef;
}

function latencyAlerts(p: RuleParams, k: Kind): AlertRule[] {
  const traffic = `sum by (${k.by}) (${k.requests}) >= ${num(p.latency.minRequestsPerSecond)}`;
  const offset = scaled(p, p.regression.offset);
  const then = `On a host of {{ $labels.job }}: ${diagnose('p99_regression')}. No p99_regression bundle newer than the alert? Capture one first (INSTANCE = an instance's metrics address): ${capture(ANY_INSTANCE)}, then diagnose with *-endpoint-* in its place.`;
  return [
    alert({
      alert: `Tailtrace${k.name}P99OverBudget`,
      expr: `${k.p99}\n> on (${k.by})\nmax by (${k.by}) (${k.budget})\nand on (${k.by})\n${traffic}`,
      for: scaled(p, p.latency.for),
      severity: 'warning',
      summary: `{{ $labels.job }} ${k.op}: P99 {{ $value | humanizeDuration }} is over its budget`,
      description: `The P99 of ${k.what} over the last ${scaled(p, p.rateWindow)} (histogram estimate, all instances) has been above its budget (${k.budget}) for ${scaled(p, p.latency.for)}.`,
      panel: k.p99Panel,
      then,
    }),
    alert({
      alert: `Tailtrace${k.name}P99Regressed`,
      expr: `${k.p99}\n> ${num(p.regression.factor)} * (${k.p99} offset ${offset})\nand\n${k.p99} - (${k.p99} offset ${offset}) > ${num(p.regression.minDeltaSeconds)}\nand on (${k.by})\n${traffic}\nand on (${k.by})\nsum by (${k.by}) (${k.requests} offset ${offset}) >= ${num(p.latency.minRequestsPerSecond)}`,
      for: scaled(p, p.regression.for),
      severity: 'warning',
      summary: `{{ $labels.job }} ${k.op}: P99 {{ $value | humanizeDuration }}, over ${num(p.regression.factor)}x what it was ${offset} ago`,
      description: `The P99 of ${k.what} is at least ${num(p.regression.factor)}x and ${num(p.regression.minDeltaSeconds * 1000)} ms above the same time ${offset} ago, for ${scaled(p, p.regression.for)}: a deploy or a dependency made it slower.`,
      panel: k.p99Panel,
      then,
    }),
  ];
}

/** The SRE workbook's multi-window, multi-burn-rate alerts (page: 1h/5m at 14.4, 6h/30m at 6; ticket: 1d/2h at 3, 3d/6h at 1). */
function burnAlerts(p: RuleParams, k: Kind): AlertRule[] {
  const budget = 1 - p.slo.objective;
  const pair = (long: string, short: string, rate: number) =>
    `(\n  ${k.ratio(long)} > ${num(rate * budget)}\n  and\n  ${k.ratio(short)} > ${num(rate * budget)}\n  and\n  sum by (${k.by}) (increase(${k.metric}_count[${scaled(p, long)}])) >= ${p.slo.minRequestsInLongWindow}\n)`;
  const pct = num(p.slo.objective * 100);
  const then = `Open the trace of a failed request (exemplar dots on the latency panels) to see which hop fails. If latency moved too, on a host of {{ $labels.job }}: ${diagnose('p99_regression')}`;
  return [
    alert({
      alert: `Tailtrace${k.name}ErrorBudgetBurn`,
      expr: `${pair('1h', '5m', 14.4)}\nor\n${pair('6h', '30m', 6)}`,
      severity: 'critical',
      summary: `{{ $labels.job }} ${k.op}: {{ $value | humanizePercentage }} of requests failing, burning the ${pct}% SLO's error budget fast`,
      description: `${k.what} fail (${k.error}) fast enough to spend 2% of a 30-day error budget in an hour (14.4x over 1h and 5m) or 5% in 6 hours (6x over 6h and 30m).`,
      panel: k.errorPanel,
      then,
    }),
    alert({
      alert: `Tailtrace${k.name}ErrorBudgetBurnSlow`,
      expr: `${pair('1d', '2h', 3)}\nor\n${pair('3d', '6h', 1)}`,
      severity: 'warning',
      summary: `{{ $labels.job }} ${k.op}: {{ $value | humanizePercentage }} of requests failing, the ${pct}% SLO's error budget is running out`,
      description: `${k.what} fail (${k.error}) fast enough to spend 10% of a 30-day error budget in a day (3x over 1d and 2h) or all of it in 30 days (1x over 3d and 6h).`,
      panel: k.errorPanel,
      then,
    }),
  ];
}

function runtimeAlerts(p: RuleParams, find: FindPanel): AlertRule[] {
  const r = recorded(p);
  const slope = scaled(p, p.heap.slopeWindow);
  const growth = `${num(p.heap.minGrowthBytes / 2 ** 20)} MiB`;
  return [
    alert({
      alert: 'TailtraceSpansDropped',
      expr: `${r.spanDropRatio} > ${num(p.spans.maxDropRatio)}`,
      for: scaled(p, p.spans.for),
      severity: 'warning',
      summary: '{{ $labels.job }} {{ $labels.instance }}: {{ $value | humanizePercentage }} of spans dropped before export',
      description: `The service's span export queue was full or its exports failed (tailtrace_spans_dropped_total by reason) for more than ${num(p.spans.maxDropRatio * 100)}% of its spans: traces are missing. The Collector is slow, refusing or unreachable.`,
      panel: find(...PANELS.spans),
      then: `Then "tailtrace / Collector health" for refusals and export failures, and the service's log for export errors. Dropping never slows requests; if latency moved anyway, on that host: ${diagnose('p99_regression')}`,
    }),
    alert({
      alert: 'TailtraceHeapGrowing',
      expr: `${r.heapSlope} * ${seconds(slope)} > ${p.heap.minGrowthBytes}\nand on (job, instance)\n(time() - max by (job, instance) (process_start_time_seconds)) > ${seconds(scaled(p, p.heap.minUptime))}`,
      for: scaled(p, p.heap.for),
      severity: 'warning',
      summary: `{{ $labels.job }} {{ $labels.instance }}: heap after GC growing {{ $value | humanize1024 }}B per ${slope}`,
      description: `What survives garbage collection (the ${scaled(p, p.heap.troughWindow)} minimum of heap used) grew more than ${growth} per ${slope}, steadily, in a process up longer than ${scaled(p, p.heap.minUptime)}: a leak, or a cache without a bound.`,
      panel: find(...PANELS.heap),
      then: `On that host: ${diagnose('heap_growth')} (the heap_growth trigger's bundle holds a heap profile, and a snapshot when allowed). None newer than the alert? Capture one with a snapshot: ${capture('{{ $labels.instance }}', '?snapshot=1')}, then diagnose with *-endpoint-* in its place.`,
    }),
    alert({
      alert: 'TailtraceEvidenceCaptured',
      expr: `${r.evidenceCaptured} >= 0.5`,
      for: scaled(p, p.evidence.for),
      severity: 'info',
      summary: '{{ $labels.job }} {{ $labels.instance }} captured evidence on its own: {{ $labels.trigger }}',
      description: `The service's own {{ $labels.trigger }} trigger wrote an evidence bundle in the last ${scaled(p, p.evidence.window)}, and the windows after it did not show it to be a blip.`,
      panel: find(...PANELS.evidence),
      then: `On that host: ${diagnose('{{ $labels.trigger }}')}`,
    }),
  ];
}

function otelcolAlerts(p: RuleParams, find: FindPanel): AlertRule[] {
  const r = recorded(p);
  const then = 'tailtrace diagnose does not apply (the Collector keeps no evidence bundles): read the Collector log ("Dropping data", "memory limiter"), give it memory or replicas (collector/README.md, sizing), check the backend it exports to.';
  return [
    alert({
      alert: 'OtelcolReceiverRefusingData',
      expr: `${r.otelcolRefused} > ${num(p.collector.maxRefusedRatio)}`,
      for: scaled(p, p.collector.for),
      severity: 'warning',
      summary: '{{ $labels.job }} {{ $labels.instance }}: receiver {{ $labels.receiver }} refuses {{ $value | humanizePercentage }} of what it is sent',
      description: 'The Collector pushes back (its memory limiter, or a full pipeline): senders retry and then drop. Spans are being delayed now and lost next.',
      panel: find(...PANELS.otelcolRefused),
      then,
    }),
    alert({
      alert: 'OtelcolExporterDroppingData',
      expr: `${r.otelcolDropped} > ${num(p.collector.maxDropRatio)}`,
      for: scaled(p, p.collector.for),
      severity: 'warning',
      summary: '{{ $labels.job }} {{ $labels.instance }}: exporter {{ $labels.exporter }} drops {{ $value | humanizePercentage }} of its data',
      description: 'Telemetry the Collector had accepted failed to export after its retries, or did not fit its queue (otelcol_exporter_send_failed_* / enqueue_failed_*): it is lost.',
      panel: find(...PANELS.otelcolRefused),
      then,
    }),
    alert({
      alert: 'OtelcolExporterQueueNearlyFull',
      expr: `${r.otelcolQueueFill} > ${num(p.collector.maxQueueFill)}`,
      for: scaled(p, p.collector.for),
      severity: 'warning',
      summary: '{{ $labels.job }} {{ $labels.instance }}: exporter {{ $labels.exporter }} queue {{ $value | humanizePercentage }} full',
      description: 'The exporter sends slower than data arrives (the backend is slow or down); when the queue is full, data is dropped.',
      panel: find(...PANELS.otelcolQueue),
      then,
    }),
  ];
}

function kinds(p: RuleParams, find: FindPanel): Kind[] {
  const r = recorded(p);
  return [
    {
      name: 'Http', what: 'HTTP requests to this route', op: '{{ $labels.http_request_method }} {{ $labels.http_route }}', by: HTTP_BY, metric: HTTP,
      requests: r.httpRequests, p99: r.httpP99, budget: r.httpBudget, ratio: r.httpErrorRatio, error: '5xx or no response',
      p99Panel: find(...PANELS.httpP99), errorPanel: find(...PANELS.httpErrors),
    },
    {
      name: 'Rpc', what: 'gRPC calls to this method', op: '{{ $labels.rpc_service }}/{{ $labels.rpc_method }}', by: RPC_BY, metric: RPC,
      requests: r.rpcCalls, p99: r.rpcP99, budget: r.rpcBudget, ratio: r.rpcErrorRatio, error: 'UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE or DATA_LOSS',
      p99Panel: find(...PANELS.rpcP99), errorPanel: find(...PANELS.rpcErrors),
    },
  ];
}

export function alertGroups(p: RuleParams, find: FindPanel): RuleGroup[] {
  const ks = kinds(p, find);
  return [
    { name: 'tailtrace.latency', ...interval(p), rules: ks.flatMap((k) => latencyAlerts(p, k)) },
    { name: 'tailtrace.errors', ...interval(p), rules: ks.flatMap((k) => burnAlerts(p, k)) },
    { name: 'tailtrace.runtime.alerts', ...interval(p), rules: runtimeAlerts(p, find) },
    { name: 'tailtrace.otelcol.alerts', ...interval(p), rules: otelcolAlerts(p, find) },
  ];
}
