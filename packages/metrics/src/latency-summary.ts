// tailtrace_latency_seconds: per-operation HDR windows exposed as a summary, computed at scrape.
// Quantiles are over the sliding window; _sum/_count are cumulative since start, because
// OpenMetrics defines them as counters (monotonic) and Prometheus' rate() relies on that — the
// windowed count/mean are in hdr.read().
import { familyHeader, formatValue, labelPairs } from './format.ts';
import { EpochClock } from './epoch-clock.ts';
import { createLayout } from './hdr-layout.ts';
import type { HdrLayout } from './hdr-layout.ts';
import { HdrWindow, PERCENTILES } from './hdr-window.ts';
import { OwnMetric } from './own-metric.ts';
import type { PromSample } from './own-metric.ts';
import { budget, OVERFLOW_VALUE, SeriesTable2 } from './series-table.ts';
import { SlowestRing } from './slowest.ts';
import type { HdrOptions, HdrReading, OperationKind } from './types.ts';

export const LATENCY_METRIC = 'tailtrace_latency_seconds';
export const OPERATION_KINDS: readonly OperationKind[] = ['http_server', 'http_client', 'rpc_server', 'rpc_client'];
// Spelled out: 99.9 / 100 is 0.9990000000000001 in floating point.
const QUANTILE_LABELS = ['0.5', '0.9', '0.99', '0.999'].map((q) => `quantile="${q}"`);

/** One operation: its window, its precomputed label text and cumulative totals. */
export class Operation {
  /** The kind's operation every name past its cap shares (observations there are counted per call). */
  get overflow(): boolean {
    return this.name === OVERFLOW_VALUE;
  }

  readonly kind: OperationKind;
  readonly name: string;
  readonly labels: string;
  readonly window: HdrWindow;
  readonly slowest: SlowestRing;
  totalCount = 0;
  totalSumS = 0;

  constructor(kind: OperationKind, name: string, window: HdrWindow, slowest: SlowestRing) {
    this.kind = kind;
    this.name = name;
    this.labels = labelPairs(['kind', 'operation'], [kind, name]);
    this.window = window;
    this.slowest = slowest;
  }
}

export interface ResolvedHdrOptions {
  windowMs: number;
  subWindows: number;
  layout: HdrLayout;
}

export function resolveHdrOptions(o: HdrOptions = {}): ResolvedHdrOptions {
  const windowMs = o.windowMs !== undefined && o.windowMs >= 10 ? o.windowMs : 60_000;
  const subWindows = o.subWindows !== undefined && o.subWindows >= 1 ? Math.floor(o.subWindows) : 6;
  const lowestUs = (o.lowestDiscernibleS ?? 1e-6) * 1e6;
  const highestUs = (o.highestTrackableS ?? 60) * 1e6;
  return { windowMs, subWindows, layout: createLayout(lowestUs, highestUs, o.significantDigits ?? 3) };
}

export class LatencySummary extends OwnMetric {
  readonly type = 'summary';
  readonly clock: EpochClock;
  readonly layout: HdrLayout;
  readonly subWindows: number;
  private readonly tables = new Map<OperationKind, SeriesTable2<string, string, Operation>>();
  private readonly byName = new Map<string, Operation>();
  private readonly highestS: number;
  private readonly wallClock: () => number;

  constructor(
    opts: ResolvedHdrOptions,
    maxOperations: Readonly<Record<OperationKind, number>>,
    now: (() => number) | undefined,
    onOverflow: (kind: OperationKind) => void,
  ) {
    super(LATENCY_METRIC, 'Latency per operation over a sliding window, from HDR histograms (0.1% resolution at 3 significant digits).');
    this.layout = opts.layout;
    this.subWindows = opts.subWindows;
    this.highestS = opts.layout.highest / 1e6;
    this.clock = new EpochClock(opts.windowMs / opts.subWindows, now);
    this.wallClock = now ?? Date.now;
    // A budget per kind (~140 KB per active operation at the default range): calls to many
    // hosts fill the client budget and fold into http_client's `_overflow`, never into a route's.
    for (const kind of OPERATION_KINDS) {
      const join = kind.startsWith('rpc') ? '/' : ' ';
      this.tables.set(kind, new SeriesTable2<string, string, Operation>(
        budget(maxOperations[kind]),
        (a, b) => this.add(kind, `${a}${join}${b}`),
        () => this.add(kind, OVERFLOW_VALUE),
        () => onOverflow(kind),
      ));
    }
  }

  private add(kind: OperationKind, name: string): Operation {
    const op = new Operation(kind, name, new HdrWindow(this.layout, this.subWindows, this.clock.epoch()), new SlowestRing(this.subWindows, this.wallClock));
    this.byName.set(`${kind}\u0000${name}`, op);
    return op;
  }

  /**
   * Hot path: a, b are the two parts of the operation name (method + route, service + method).
   * A sampled request (traceId non-empty) is offered to the slowest list.
   */
  record(kind: OperationKind, a: string, b: string, durationS: number, traceId = '', spanId = ''): void {
    this.recordIn(this.operation(kind, a, b), durationS, traceId, spanId);
  }

  /** The operation a, b of `kind` (created, or the kind's overflow operation past its cap, which counts it). */
  operation(kind: OperationKind, a: string, b: string): Operation {
    return this.tables.get(kind)!.get(a, b);
  }

  /** Hot path: one observation of an operation found with operation(). */
  recordIn(op: Operation, durationS: number, traceId: string, spanId: string): void {
    // Integer µs, clamped to the trackable range (bigger values count as the highest).
    const s = durationS < this.highestS ? durationS : this.highestS;
    const epoch = this.clock.epoch();
    op.window.record(Math.round(s * 1e6), durationS, epoch);
    if (traceId !== '') op.slowest.offer(epoch, durationS, traceId, spanId);
    op.totalCount++;
    op.totalSumS += durationS;
  }

  find(kind: OperationKind, name: string): Operation | undefined {
    return this.byName.get(`${kind}\u0000${name}`);
  }

  operations(): Operation[] {
    return [...this.byName.values()];
  }

  read(kind: OperationKind, name: string): HdrReading | undefined {
    const op = this.find(kind, name);
    if (op === undefined) return undefined;
    const epoch = this.clock.refresh();
    op.window.advance(epoch);
    const st = op.window.stats();
    const [p50 = 0, p90 = 0, p99 = 0, p999 = 0] = st.values;
    return {
      count: st.count,
      min: st.min / 1e6,
      max: st.max / 1e6,
      mean: st.count === 0 ? 0 : st.sumS / st.count,
      percentiles: { p50: p50 / 1e6, p90: p90 / 1e6, p99: p99 / 1e6, p999: p999 / 1e6 },
      startMs: st.startEpoch * this.clock.subWindowMs,
      endMs: this.clock.nowMs(),
    };
  }

  write(openMetrics: boolean, extra: string): string {
    const name = this.name;
    let out = familyHeader(name, 'summary', this.help, openMetrics);
    const epoch = this.clock.refresh();
    for (const op of this.byName.values()) {
      op.window.advance(epoch);
      const st = op.window.stats();
      const base = extra === '' ? op.labels : `${op.labels},${extra}`;
      for (let q = 0; q < QUANTILE_LABELS.length; q++) {
        // No data in the window: NaN, as Prometheus' own clients report an empty summary.
        const v = st.count === 0 ? NaN : st.values[q]! / 1e6;
        out += `${name}{${base},${QUANTILE_LABELS[q]}} ${formatValue(v)}\n`;
      }
      out += `${name}_sum{${base}} ${formatValue(op.totalSumS)}\n${name}_count{${base}} ${op.totalCount}\n`;
    }
    return out;
  }

  samples(): PromSample[] {
    const out: PromSample[] = [];
    const epoch = this.clock.refresh();
    for (const op of this.byName.values()) {
      op.window.advance(epoch);
      const st = op.window.stats();
      const labels = { kind: op.kind, operation: op.name };
      PERCENTILES.forEach((_p, q) => {
        out.push({ labels: { ...labels, quantile: [0.5, 0.9, 0.99, 0.999][q]! }, value: st.count === 0 ? NaN : st.values[q]! / 1e6 });
      });
      out.push({ metricName: `${this.name}_sum`, labels: { ...labels }, value: op.totalSumS });
      out.push({ metricName: `${this.name}_count`, labels: { ...labels }, value: op.totalCount });
    }
    return out;
  }

  close(): void {
    this.clock.close();
  }
}
