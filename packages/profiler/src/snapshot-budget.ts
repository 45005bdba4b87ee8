// How often a full heap snapshot may be taken. A snapshot pauses the process for seconds, so they
// are rationed; but a ration spent on a false alarm must not leave the real regression without
// one. So the interval applies per trigger kind, a trigger much worse than the one that took the
// last snapshot of its kind may take another, a snapshot spent on what proved to be a blip is
// given back, and a hard gap between any two snapshots bounds the total whatever happens.

export interface SnapshotBudgetConfig {
  /** Per kind: at most one snapshot per this interval (unless escalated). */
  intervalMs: number;
  /** Between any two snapshots, whatever took them. */
  gapMs: number;
  /** A level at least this many times the last snapshot's of the same kind escalates. */
  escalation: number;
}

export interface SnapshotClaim {
  /** What is rationed together: a trigger kind, or 'manual' for signals and endpoint requests. */
  key: string;
  /** Comparable within a key (a P99 in seconds, a growth rate): how bad it is. 0: never escalates. */
  level: number;
  /** The trigger asking, so a blip verdict can give its snapshot back. */
  triggerId?: string;
}

interface Taken {
  atMs: number;
  level: number;
  triggerId?: string;
}

export class SnapshotBudget {
  private readonly cfg: SnapshotBudgetConfig;
  private readonly byKey = new Map<string, Taken[]>();
  private lastAnyMs = -Infinity;
  /** One snapshot at a time: reserved by the caller around the write. */
  busy = false;

  constructor(cfg: SnapshotBudgetConfig) {
    this.cfg = cfg;
  }

  /** Milliseconds until this claim would be allowed (0: now). Ignores `busy`. */
  waitMs(claim: SnapshotClaim, nowMs: number): number {
    const w = this.waits(claim, nowMs);
    return Math.max(w.gap, w.interval);
  }

  /** A one-line reason when the claim is refused now; undefined when it may go ahead. */
  refusal(claim: SnapshotClaim, nowMs: number): string | undefined {
    if (this.busy) return 'another snapshot in progress';
    const { gap, interval } = this.waits(claim, nowMs);
    if (gap <= 0 && interval <= 0) return undefined;
    const what = interval >= gap
      ? `one snapshot per ${(this.cfg.intervalMs / 1000).toFixed(0)} s for ${claim.key}`
      : `at least ${(this.cfg.gapMs / 1000).toFixed(0)} s between snapshots`;
    return `rate limit: ${what}, next in ${Math.ceil(Math.max(gap, interval) / 1000)} s`;
  }

  /** What holds the claim back: the gap since any snapshot, and its kind's interval (0 when escalated). */
  private waits(claim: SnapshotClaim, nowMs: number): { gap: number; interval: number } {
    const gap = Math.max(0, this.lastAnyMs + this.cfg.gapMs - nowMs);
    const last = this.byKey.get(claim.key)?.at(-1);
    if (last === undefined) return { gap, interval: 0 };
    const escalated = claim.level > 0 && last.level > 0 && claim.level >= this.cfg.escalation * last.level;
    return { gap, interval: escalated ? 0 : Math.max(0, last.atMs + this.cfg.intervalMs - nowMs) };
  }

  taken(claim: SnapshotClaim, nowMs: number): void {
    this.lastAnyMs = nowMs;
    const list = this.byKey.get(claim.key) ?? [];
    list.push({ atMs: nowMs, level: claim.level, ...(claim.triggerId ? { triggerId: claim.triggerId } : {}) });
    // The last few are all a refund can need.
    if (list.length > 4) list.shift();
    this.byKey.set(claim.key, list);
  }

  /** The trigger proved to be a blip: its snapshot no longer counts against its kind's interval. */
  refund(triggerId: string): void {
    for (const list of this.byKey.values()) {
      const i = list.findIndex((t) => t.triggerId === triggerId);
      if (i >= 0) list.splice(i, 1);
    }
  }
}
