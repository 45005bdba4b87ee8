// RED duration histogram with three labels, exemplars per bucket and a series cap.
// Replaces prom-client's Histogram on the hot path: prom-client hashes the label object into a
// string, validates labels and allocates per observation; here an observation is three Map
// lookups, a binary search over the bounds and a few stores into preallocated arrays.
import { bucketIndex } from './buckets.ts';
import { familyHeader, formatBound, formatExemplar, formatValue, labelPairs } from './format.ts';
import { OwnMetric } from './own-metric.ts';
import type { PromSample } from './own-metric.ts';
import { budget, OVERFLOW_VALUE, SeriesTable3 } from './series-table.ts';

export class Series {
  readonly labels: string; // `a="x",b="y",c="z"`, escaped once at creation
  readonly values: readonly string[];
  /** The series every label set past the cap shares. */
  readonly overflow: boolean;
  /** The caller's slot: metrics.ts keeps the HDR operation of a series here (one lookup, not two). */
  link: unknown = undefined;
  readonly counts: Float64Array; // per bucket, not cumulative; last slot is +Inf
  sum = 0;
  count = 0;
  // Latest exemplar per bucket, in parallel arrays so storing one never allocates.
  readonly exTrace: string[] | null;
  readonly exSpan: string[] | null;
  readonly exValue: Float64Array | null;
  readonly exTime: Float64Array | null;

  constructor(names: readonly string[], values: readonly string[], slots: number, exemplars: boolean, overflow = false) {
    this.values = values;
    this.overflow = overflow;
    this.labels = labelPairs(names, values);
    this.counts = new Float64Array(slots);
    this.exTrace = exemplars ? new Array<string>(slots).fill('') : null;
    this.exSpan = exemplars ? new Array<string>(slots).fill('') : null;
    this.exValue = exemplars ? new Float64Array(slots) : null;
    this.exTime = exemplars ? new Float64Array(slots) : null;
  }
}

export interface HistogramConfig {
  name: string;
  help: string;
  labelNames: readonly [string, string, string];
  buckets: readonly number[];
  maxSeries: number;
  exemplars: boolean;
  onOverflow: () => void;
}

export class RedHistogram<K1 extends string | number, K2 extends string | number, K3 extends string | number> extends OwnMetric {
  readonly type = 'histogram';
  readonly labelNames: readonly [string, string, string];
  readonly bounds: Float64Array;
  private readonly exemplars: boolean;
  private readonly table: SeriesTable3<K1, K2, K3, Series>;
  private readonly leLabels: string[]; // `le="0.005"` per slot

  constructor(cfg: HistogramConfig) {
    super(cfg.name, cfg.help);
    this.labelNames = cfg.labelNames;
    this.bounds = Float64Array.from(cfg.buckets);
    this.exemplars = cfg.exemplars;
    this.leLabels = [...cfg.buckets, Infinity].map((b) => `le="${formatBound(b)}"`);
    const slots = this.bounds.length + 1;
    this.table = new SeriesTable3<K1, K2, K3, Series>(
      budget(cfg.maxSeries),
      (a, b, c) => new Series(this.labelNames, [String(a), String(b), String(c)], slots, this.exemplars),
      () => new Series(this.labelNames, [OVERFLOW_VALUE, OVERFLOW_VALUE, OVERFLOW_VALUE], slots, this.exemplars, true),
      cfg.onOverflow,
    );
  }

  /** Hot path. `traceId` '' means no exemplar; `nowMs` is only read when one is stored. Returns the series. */
  observe(a: K1, b: K2, c: K3, v: number, traceId: string, spanId: string, nowMs: number): Series {
    const s = this.table.get(a, b, c);
    const i = bucketIndex(this.bounds, v);
    s.counts[i]!++;
    s.sum += v;
    s.count++;
    if (traceId !== '' && s.exTrace !== null) {
      s.exTrace[i] = traceId;
      s.exSpan![i] = spanId;
      s.exValue![i] = v;
      s.exTime![i] = nowMs;
    }
    return s;
  }

  get seriesCount(): number {
    return this.table.size + (this.table.overflow() === undefined ? 0 : 1);
  }

  write(openMetrics: boolean, extra: string): string {
    const name = this.name;
    let out = familyHeader(name, 'histogram', this.help, openMetrics);
    const bucketName = `${name}_bucket{`;
    const slots = this.leLabels.length;
    for (const s of this.table.values()) {
      const base = extra === '' ? s.labels : `${s.labels},${extra}`;
      let cum = 0;
      for (let i = 0; i < slots; i++) {
        cum += s.counts[i]!;
        out += `${bucketName}${base},${this.leLabels[i]}} ${cum}`;
        if (openMetrics && s.exTrace !== null && s.exTrace[i] !== '') {
          out += formatExemplar(s.exTrace[i]!, s.exSpan![i]!, s.exValue![i]!, s.exTime![i]!);
        }
        out += '\n';
      }
      out += `${name}_sum{${base}} ${formatValue(s.sum)}\n${name}_count{${base}} ${s.count}\n`;
    }
    return out;
  }

  samples(): PromSample[] {
    const out: PromSample[] = [];
    const bounds = [...this.bounds, Infinity];
    for (const s of this.table.values()) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = s.values[i]!));
      let cum = 0;
      bounds.forEach((b, i) => {
        cum += s.counts[i]!;
        const labelSet: Record<string, string> = {};
        if (s.exTrace !== null && s.exTrace[i] !== '') {
          labelSet.trace_id = s.exTrace[i]!;
          if (s.exSpan![i] !== '') labelSet.span_id = s.exSpan![i]!;
        }
        const exemplar = labelSet.trace_id !== undefined
          ? {
            labelSet,
            value: s.exValue![i]!,
            timestamp: s.exTime![i]! / 1000,
          }
          : null;
        out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: b === Infinity ? '+Inf' : b }, value: cum, exemplar });
      });
      out.push({ metricName: `${this.name}_sum`, labels: { ...labels }, value: s.sum });
      out.push({ metricName: `${this.name}_count`, labels: { ...labels }, value: s.count });
    }
    return out;
  }

  override reset(): void {
    this.table.clear();
  }
}

