// The slowest sampled requests of one operation over the sliding window, kept per sub-window so
// they age out with the HDR window they belong to. Evidence bundles list them as the trace IDs to
// open. Only requests with a trace ID are offered (an unsampled request has no trace to open),
// and the common case (not among the K slowest) is one comparison.

export interface SlowRequest {
  traceId: string;
  spanId: string;
  durationS: number;
  atMs: number;
}

export const SLOWEST_PER_SUBWINDOW = 5;

export class SlowestRing {
  private readonly k: number;
  private readonly slots: number;
  private readonly epochs: Float64Array;
  private readonly durations: Float64Array;
  // Smallest kept duration per slot (the bar a new request has to clear), valid when the slot is full.
  private readonly floor: Float64Array;
  private readonly fill: Uint8Array;
  private readonly entries: (SlowRequest | undefined)[];
  // Read only when a request is kept: the clock costs more than the comparison that usually rejects.
  private readonly now: () => number;

  constructor(subWindows: number, now: () => number, k = SLOWEST_PER_SUBWINDOW) {
    this.k = k;
    this.now = now;
    this.slots = subWindows;
    this.epochs = new Float64Array(subWindows).fill(-1);
    this.durations = new Float64Array(subWindows * k);
    this.floor = new Float64Array(subWindows);
    this.fill = new Uint8Array(subWindows);
    this.entries = new Array<SlowRequest | undefined>(subWindows * k);
  }

  offer(epoch: number, durationS: number, traceId: string, spanId: string): void {
    const slot = epoch % this.slots;
    if (this.epochs[slot] !== epoch) {
      this.epochs[slot] = epoch;
      this.fill[slot] = 0;
      this.floor[slot] = 0;
    }
    const n = this.fill[slot]!;
    const base = slot * this.k;
    if (n < this.k) {
      this.durations[base + n] = durationS;
      this.entries[base + n] = { traceId, spanId, durationS, atMs: this.now() };
      this.fill[slot] = n + 1;
      if (n + 1 === this.k) this.floor[slot] = this.minOf(base);
      return;
    }
    if (durationS <= this.floor[slot]!) return;
    // Replace the smallest entry of the full slot.
    let min = base;
    for (let i = base + 1; i < base + this.k; i++) if (this.durations[i]! < this.durations[min]!) min = i;
    this.durations[min] = durationS;
    this.entries[min] = { traceId, spanId, durationS, atMs: this.now() };
    this.floor[slot] = this.minOf(base);
  }

  /** Slowest first, across the sub-windows still inside the window ending at `epoch`. */
  read(epoch: number, limit: number): SlowRequest[] {
    const out: SlowRequest[] = [];
    for (let slot = 0; slot < this.slots; slot++) {
      const e = this.epochs[slot]!;
      if (e < 0 || e > epoch || e <= epoch - this.slots) continue;
      const base = slot * this.k;
      for (let i = 0; i < this.fill[slot]!; i++) out.push(this.entries[base + i]!);
    }
    out.sort((a, b) => b.durationS - a.durationS);
    return out.slice(0, limit);
  }

  private minOf(base: number): number {
    let m = Infinity;
    for (let i = base; i < base + this.k; i++) if (this.durations[i]! < m) m = this.durations[i]!;
    return m;
  }
}
