// Cardinality guard: label sets -> series, keyed by nested Maps on the raw label values so the
// hot path does two or three Map lookups and never builds a key string. Past the budget's cap of
// distinct label sets, new ones are not stored: they all share one overflow series and
// `onOverflow` is called per observation, so memory stays bounded however many distinct values
// arrive. A budget may be shared by several tables (one cap for all HDR operation kinds).

export interface Budget {
  used: number;
  readonly cap: number;
}

export function budget(cap: number): Budget {
  return { used: 0, cap };
}

export class SeriesTable2<K1, K2, V> {
  private readonly root = new Map<K1, Map<K2, V>>();
  private readonly budget: Budget;
  private readonly create: (a: K1, b: K2) => V;
  private readonly createOverflow: () => V;
  private readonly onOverflow: () => void;
  private overflowSeries: V | undefined;
  size = 0;

  constructor(budget: Budget, create: (a: K1, b: K2) => V, createOverflow: () => V, onOverflow: () => void) {
    this.budget = budget;
    this.create = create;
    this.createOverflow = createOverflow;
    this.onOverflow = onOverflow;
  }

  get(a: K1, b: K2): V {
    const v = this.root.get(a)?.get(b);
    return v !== undefined ? v : this.miss(a, b);
  }

  /** Existing series only (no creation, no overflow accounting). */
  peek(a: K1, b: K2): V | undefined {
    return this.root.get(a)?.get(b);
  }

  overflow(): V | undefined {
    return this.overflowSeries;
  }

  *values(): IterableIterator<V> {
    for (const m of this.root.values()) yield* m.values();
    if (this.overflowSeries !== undefined) yield this.overflowSeries;
  }

  clear(): void {
    this.root.clear();
    this.overflowSeries = undefined;
    this.budget.used -= this.size;
    this.size = 0;
  }

  private miss(a: K1, b: K2): V {
    if (this.budget.used >= this.budget.cap) {
      this.onOverflow();
      return (this.overflowSeries ??= this.createOverflow());
    }
    let m = this.root.get(a);
    if (m === undefined) this.root.set(a, (m = new Map()));
    const v = this.create(a, b);
    m.set(b, v);
    this.size++;
    this.budget.used++;
    return v;
  }
}

export class SeriesTable3<K1, K2, K3, V> {
  private readonly root = new Map<K1, Map<K2, Map<K3, V>>>();
  private readonly budget: Budget;
  private readonly create: (a: K1, b: K2, c: K3) => V;
  private readonly createOverflow: () => V;
  private readonly onOverflow: () => void;
  private overflowSeries: V | undefined;
  size = 0;

  constructor(budget: Budget, create: (a: K1, b: K2, c: K3) => V, createOverflow: () => V, onOverflow: () => void) {
    this.budget = budget;
    this.create = create;
    this.createOverflow = createOverflow;
    this.onOverflow = onOverflow;
  }

  get(a: K1, b: K2, c: K3): V {
    const v = this.root.get(a)?.get(b)?.get(c);
    return v !== undefined ? v : this.miss(a, b, c);
  }

  overflow(): V | undefined {
    return this.overflowSeries;
  }

  *values(): IterableIterator<V> {
    for (const m2 of this.root.values()) for (const m3 of m2.values()) yield* m3.values();
    if (this.overflowSeries !== undefined) yield this.overflowSeries;
  }

  clear(): void {
    this.root.clear();
    this.overflowSeries = undefined;
    this.budget.used -= this.size;
    this.size = 0;
  }

  private miss(a: K1, b: K2, c: K3): V {
    if (this.budget.used >= this.budget.cap) {
      this.onOverflow();
      return (this.overflowSeries ??= this.createOverflow());
    }
    let m2 = this.root.get(a);
    if (m2 === undefined) this.root.set(a, (m2 = new Map()));
    let m3 = m2.get(b);
    if (m3 === undefined) m2.set(b, (m3 = new Map()));
    const v = this.create(a, b, c);
    m3.set(c, v);
    this.size++;
    this.budget.used++;
    return v;
  }
}

/** Label value every label of the overflow series carries (OTel uses otel.metric.overflow=true). */
export const OVERFLOW_VALUE = '_overflow';
