// Small counters with at most one label: overflow accounting, span stats, evidence, invalid input.
// `preset` values are pre-initialized to 0 so their series exist before the first event (dashboards
// and alerts see 0 rather than "no data"). `pull` lets a counter take its values from a source at
// scrape time instead of being incremented.
import { familyHeader, formatValue, labelPairs } from './format.ts';
import { OwnMetric } from './own-metric.ts';
import type { PromSample } from './own-metric.ts';

export class SimpleCounter extends OwnMetric {
  readonly type = 'counter';
  /** Family name without `_total` (OpenMetrics spelling); samples are `${family}_total`. */
  readonly family: string;
  readonly labelName: string | undefined;
  private readonly values = new Map<string, number>();
  private readonly labelStrings = new Map<string, string>();
  private readonly maxValues: number;
  pull: (() => void) | undefined;

  constructor(name: string, help: string, labelName?: string, preset: readonly string[] = [], maxValues = 100) {
    super(name, help);
    this.family = name.replace(/_total$/, '');
    this.labelName = labelName;
    this.maxValues = maxValues;
    if (labelName === undefined) this.values.set('', 0);
    for (const v of preset) this.values.set(v, 0);
  }

  /** Adds `by` to the series with label value `value` ('' when unlabelled). Unknown values past the cap are dropped. */
  inc(value = '', by = 1): void {
    const cur = this.values.get(value);
    if (cur !== undefined) this.values.set(value, cur + by);
    else if (this.values.size < this.maxValues) this.values.set(value, by);
  }

  /** Sets the cumulative value (for counters mirrored from another component's totals). */
  set(value: string, total: number): void {
    if (Number.isFinite(total) && total >= 0) this.values.set(value, total);
  }

  value(label = ''): number {
    return this.values.get(label) ?? 0;
  }

  write(openMetrics: boolean, extra: string): string {
    this.runPull();
    const family = openMetrics ? this.family : `${this.family}_total`;
    let out = familyHeader(family, 'counter', this.help, openMetrics);
    for (const [v, n] of this.values) {
      let labels = this.labelName === undefined ? '' : this.labelString(v);
      if (extra !== '') labels = labels === '' ? extra : `${labels},${extra}`;
      out += `${this.family}_total${labels === '' ? '' : `{${labels}}`} ${formatValue(n)}\n`;
    }
    return out;
  }

  samples(): PromSample[] {
    this.runPull();
    return [...this.values].map(([v, n]) => ({
      value: n,
      labels: this.labelName === undefined ? {} : { [this.labelName]: v },
    }));
  }

  private labelString(v: string): string {
    let s = this.labelStrings.get(v);
    if (s === undefined) this.labelStrings.set(v, (s = labelPairs([this.labelName!], [v])));
    return s;
  }

  private runPull(): void {
    try {
      this.pull?.();
    } catch {
      // A failing source keeps the last values; a scrape never fails because of it.
    }
  }
}
