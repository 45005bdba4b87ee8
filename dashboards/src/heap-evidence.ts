// (4) Heap & evidence: heap trends, evidence triggers and heap snapshots taken, spans exported
// and dropped, metric series folded into overflow series.
import { finish, newDashboard, row, sel, sumRate, timeSeries } from './common.ts';
import type { dashboard } from './common.ts';
import { recorded } from './recording-rules.ts';
import { PRODUCTION } from './rule-params.ts';

const R = recorded(PRODUCTION);

export function heapEvidence(): dashboard.Dashboard {
  const b = newDashboard({
    uid: 'tailtrace-heap-evidence',
    title: 'tailtrace / Heap & evidence',
    description: 'Heap trends, evidence triggers and snapshots, span export health and metric cardinality overflow.',
    tags: ['heap', 'evidence'],
    variableMetric: 'tailtrace_evidence_triggers_total',
  });
  const by = 'job, instance';

  b.withRow(row('Heap'))
    .withPanel(timeSeries({
      title: 'Heap used vs total',
      description: 'V8 heap used and heap total per instance; a used line that keeps rising after GCs is what the heap-growth trigger watches.',
      unit: 'bytes',
      queries: [
        { expr: `max by (${by}) (nodejs_heap_size_used_bytes${sel()})`, legend: 'used {{job}} {{instance}}' },
        { expr: `max by (${by}) (nodejs_heap_size_total_bytes${sel()})`, legend: 'total {{job}} {{instance}}' },
        { expr: `max by (${by}) (${R.heapTrough}${sel()})`, legend: `after GC (${PRODUCTION.heap.troughWindow} minimum) {{job}} {{instance}}` },
      ],
    }))
    .withPanel(timeSeries({
      title: 'Heap growth rate (after-GC trough)',
      description: `Slope of what survives garbage collection (the ${PRODUCTION.heap.troughWindow} minimum of heap used) over ${PRODUCTION.heap.slopeWindow}, in bytes per second (${R.heapSlope}): what TailtraceHeapGrowing judges (it fires above ${PRODUCTION.heap.minGrowthBytes / 2 ** 20} MiB per ${PRODUCTION.heap.slopeWindow}, sustained). GC sawtooth does not move it; a leak does.`,
      unit: 'Bps',
      queries: [{ expr: `max by (${by}) (${R.heapSlope}${sel()})`, legend: '{{job}} {{instance}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Old space used',
      description: 'Bytes used in V8 old space, where long-lived (and leaked) objects end up.',
      unit: 'bytes',
      width: 24,
      queries: [{ expr: `max by (${by}) (nodejs_heap_space_size_used_bytes${sel('space="old"')})`, legend: '{{job}} {{instance}}' }],
    }));

  b.withRow(row('Evidence'))
    .withPanel(timeSeries({
      title: 'Evidence triggers',
      description: 'Evidence bundles triggered over the rate window, by trigger (p99_regression, heap_growth, heap_limit, signal, endpoint).',
      unit: 'short',
      queries: [{ expr: `sum by (job, trigger) (increase(tailtrace_evidence_triggers_total${sel()}[$__rate_interval]))`, legend: '{{trigger}} {{job}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Evidence captured (triggers that were not blips)',
      description: `Automatic triggers (p99_regression, heap_growth, heap_limit) in the last ${PRODUCTION.evidence.window}, minus the ones the windows after them showed to be blips (${R.evidenceCaptured}): what TailtraceEvidenceCaptured fires on. Each is a bundle to diagnose.`,
      unit: 'short',
      min: 0,
      queries: [{ expr: `sum by (job, trigger) (${R.evidenceCaptured}${sel()})`, legend: '{{trigger}} {{job}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Heap snapshots',
      description: 'Heap snapshots over the rate window by result: written, refused by a guard (memory, disk, rate limit) or failed.',
      unit: 'short',
      queries: [{ expr: `sum by (job, result) (increase(tailtrace_heap_snapshots_total${sel()}[$__rate_interval]))`, legend: '{{result}} {{job}}' }],
    }));

  b.withRow(row('Telemetry pipeline'))
    .withPanel(timeSeries({
      title: 'Spans exported per second',
      description: 'Spans the service exported over OTLP per second.',
      unit: 'ops',
      queries: [{ expr: sumRate('tailtrace_spans_exported_total', 'job'), legend: '{{job}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Spans dropped per second by reason',
      description: 'Spans dropped because the export queue was full or the export failed. 0 per service when nothing was dropped.',
      unit: 'ops',
      queries: [{
        expr: `${sumRate('tailtrace_spans_dropped_total', 'job, reason')} or sum by (job) (up${sel()}) * 0`,
        legend: '{{job}} {{reason}}',
      }],
    }))
    .withPanel(timeSeries({
      title: 'Share of spans dropped',
      description: `Spans dropped as a share of all spans that left the service (exported + dropped) over ${PRODUCTION.rateWindow} (${R.spanDropRatio}): what TailtraceSpansDropped judges (above ${PRODUCTION.spans.maxDropRatio * 100}%).`,
      unit: 'percentunit',
      min: 0,
      queries: [{ expr: `max by (${by}) (${R.spanDropRatio}${sel()})`, legend: '{{job}} {{instance}}' }],
    }))
    .withPanel(timeSeries({
      title: 'Metric series overflow',
      description: 'Label sets per second folded into the overflow series because a metric hit its series cap, by metric. 0 per service when nothing overflowed.',
      unit: 'ops',
      width: 24,
      queries: [{
        expr: `${sumRate('tailtrace_metric_series_overflow_total', 'job, metric')} or sum by (job) (up${sel()}) * 0`,
        legend: '{{job}} {{metric}}',
      }],
    }));

  return finish(b);
}
