// Which sub-window "now" falls in. Reading Date.now() costs ~30-40 ns on this class of machine,
// a third of the HDR recording budget, so by default the hot path reads a number that an unref'd
// timer refreshes (at most 1 s stale: a record near a boundary may land in the previous
// sub-window). Reads and scrapes refresh it from the clock, so windows never look older than they
// are. With an injected `now` (tests), every call asks the clock: rotation is then exact.
export class EpochClock {
  readonly subWindowMs: number;
  private readonly now: () => number;
  private readonly injected: boolean;
  private cached: number;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(subWindowMs: number, now: (() => number) | undefined) {
    this.subWindowMs = subWindowMs;
    this.injected = now !== undefined;
    this.now = now ?? Date.now;
    this.cached = Math.floor(this.now() / subWindowMs);
    if (!this.injected) {
      this.timer = setInterval(() => this.refresh(), Math.max(10, Math.min(1000, subWindowMs / 4)));
      this.timer.unref();
    }
  }

  /** Hot path. */
  epoch(): number {
    return this.injected ? Math.floor(this.now() / this.subWindowMs) : this.cached;
  }

  /** Exact epoch from the clock; also updates the cached one. */
  refresh(): number {
    this.cached = Math.floor(this.now() / this.subWindowMs);
    return this.cached;
  }

  nowMs(): number {
    return this.now();
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
