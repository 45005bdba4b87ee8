// (5) Collector health, from the Collector's own telemetry (service::telemetry::metrics,
// scraped from :8888): spans accepted/refused by receivers, sent/failed by exporters, export
// queue fill, what the memory limiter refused, and the Collector's own memory and CPU.
import { finish, newDashboard, row, sel, sumRate, timeSeries } from './common.ts';
import type { dashboard } from './common.ts';
import { recorded } from './recording-rules.ts';
import { PRODUCTION } from './rule-params.ts';

const R = recorded(PRODUCTION);

export function collectorHealth(): dashboard.Dashboard {
  const b = newDashboard({
    uid: 'tailtrace-collector-health',
    title: 'tailtrace / Collector health',
    description: 'The OpenTelemetry Collector running collector/otel-collector.yaml (or gateway.yaml): throughput, refusals, export failures, queues, memory.',
    tags: ['otelcol', 'collector'],
    variableMetric: 'otelcol_process_uptime_seconds_total',
  });
  const by = 'job, instance';

  b.withRow(row('Receivers'))
    .withPanel(timeSeries({
      title: 'Spans accepted per second by receiver',
      description: 'Spans the receivers accepted into the pipelines, per receiver and transport (grpc / http).',
      unit: 'ops',
      queries: [{ expr: sumRate('otelcol_receiver_accepted_spans_total', `${by}, receiver, transport`), legend: '{{receiver}} {{transport}} {{instance}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Spans refused per second by receiver',
      description: 'Spans the receivers refused (the memory limiter or a full pipeline pushed back; senders retry). Should be 0.',
      unit: 'ops',
      queries: [{ expr: sumRate('otelcol_receiver_refused_spans_total', `${by}, receiver, transport`), legend: '{{receiver}} {{transport}} {{instance}}' }],
    }));

  b.withRow(row('Exporters'))
    .withPanel(timeSeries({
      title: 'Spans sent per second by exporter',
      description: 'Spans successfully exported per exporter (Tempo, the span_metrics / service_graph connectors are not exporters here).',
      unit: 'ops',
      queries: [{ expr: sumRate('otelcol_exporter_sent_spans_total', `${by}, exporter`), legend: '{{exporter}} {{instance}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Export failures per second',
      description: 'Spans and metric points that failed to export (after retries: dropped), per exporter. 0 for every exporter that sent without failing.',
      unit: 'ops',
      queries: [
        {
          expr: `${sumRate('otelcol_exporter_send_failed_spans_total', `${by}, exporter`)} or ${sumRate('otelcol_exporter_sent_spans_total', `${by}, exporter`)} * 0`,
          legend: 'spans {{exporter}} {{instance}}',
        },
        {
          expr: `${sumRate('otelcol_exporter_send_failed_metric_points_total', `${by}, exporter`)} or ${sumRate('otelcol_exporter_sent_metric_points_total', `${by}, exporter`)} * 0`,
          legend: 'metric points {{exporter}} {{instance}}',
        },
      ],
    }))
    .withPanel(timeSeries({
      title: 'Metric points sent per second',
      description: 'Metric points (span metrics, service graph) remote-written to Prometheus per second.',
      unit: 'ops',
      queries: [{ expr: sumRate('otelcol_exporter_sent_metric_points_total', `${by}, exporter`), legend: '{{exporter}} {{instance}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Export queue fill',
      description: `Items waiting in each exporter sending queue as a share of its capacity (${R.otelcolQueueFill}); near 100% the exporter is about to drop. OtelcolExporterQueueNearlyFull fires above ${PRODUCTION.collector.maxQueueFill * 100}%.`,
      unit: 'percentunit',
      min: 0,
      queries: [{ expr: `max by (${by}, exporter) (${R.otelcolQueueFill}${sel()})`, legend: '{{exporter}} {{instance}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Refused and dropped share (as alerted)',
      description: `Share of what each receiver was sent that it refused (${R.otelcolRefused}), and of what each exporter handled that it dropped: failed after retries or not queued (${R.otelcolDropped}), over ${PRODUCTION.rateWindow}. OtelcolReceiverRefusingData and OtelcolExporterDroppingData judge these. 0 when nothing was refused or dropped.`,
      unit: 'percentunit',
      min: 0,
      queries: [
        { expr: `max by (${by}, receiver) (${R.otelcolRefused}${sel()})`, legend: 'refused by {{receiver}} {{instance}}' },
        { expr: `max by (${by}, exporter) (${R.otelcolDropped}${sel()})`, legend: 'dropped by {{exporter}} {{instance}}' },
      ],
    }));

  b.withRow(row('Memory limiter and process'))
    .withPanel(timeSeries({
      title: 'Memory limiter: items refused per second',
      description: 'Items the memory_limiter processor refused because the heap was over its soft limit (it also forces a GC). Should be 0; if not, give the Collector more memory or more replicas.',
      unit: 'ops',
      queries: [{
        expr: `${sumRate('otelcol_processor_incoming_items_total', `${by}, processor`, 'processor="memory_limiter"')} - ${sumRate('otelcol_processor_outgoing_items_total', `${by}, processor`, 'processor="memory_limiter"')}`,
        legend: '{{instance}}',
      }],
    }))
    .withPanel(timeSeries({
      title: 'Collector memory',
      description: 'Resident memory and Go heap of the Collector; the memory limiter acts on the heap.',
      unit: 'bytes',
      queries: [
        { expr: `max by (${by}) (otelcol_process_memory_rss_bytes${sel()})`, legend: 'rss {{instance}}' },
        { expr: `max by (${by}) (otelcol_process_runtime_heap_alloc_bytes${sel()})`, legend: 'heap {{instance}}' },
      ],
    }))
    .withPanel(timeSeries({
      title: 'Collector CPU',
      description: 'CPU seconds per second used by the Collector process.',
      unit: 'percentunit',
      width: 24,
      queries: [{ expr: sumRate('otelcol_process_cpu_seconds_total', by), legend: '{{instance}}' }],
    }));

  return finish(b);
}
