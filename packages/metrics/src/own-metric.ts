// Base of the metrics this package serializes itself. They live in the prom-client Registry like
// any metric (so registry.metrics(), getMetricsAsJSON() and cluster aggregation still see them),
// but render() calls write() instead of prom-client's per-sample object pipeline.

export interface PromSample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
  exemplar?: { labelSet: Record<string, string>; value: number; timestamp: number } | null;
}

export interface PromMetricData {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  values: PromSample[];
  aggregator: 'sum' | 'average' | 'first' | 'min' | 'max' | 'omit';
}

export abstract class OwnMetric {
  /** Name as registered. prom-client's OpenMetrics mode rewrites counter names, so don't trust it later. */
  name: string;
  readonly help: string;
  abstract readonly type: 'counter' | 'gauge' | 'histogram' | 'summary';
  readonly aggregator: 'sum' | 'average' = 'sum';

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  /** Text of this family; `extra` is the pre-formatted default-label fragment (`service="x"` or ''). */
  abstract write(openMetrics: boolean, extra: string): string;

  /** prom-client's sample objects (registry.metrics()/getMetricsAsJSON()); not a hot path. */
  abstract samples(): PromSample[];

  get(): Promise<PromMetricData> {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.samples(),
      aggregator: this.aggregator,
    });
  }

  reset(): void {}
}
