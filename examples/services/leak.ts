// The bug the leak scenario plants, written the way such bugs are written: a "recent sessions"
// history kept to show a customer's top sessions, appended on every request and never trimmed,
// and ranked by sorting the whole history each time. Heap grows by about 1 KB per request and the
// route's latency grows with the history (O(n log n) per request): the two symptoms tailtrace's
// triggers watch for, with a culprit class (OrderSession) that `tailtrace diagnose` must name.
import { randomBytes } from 'node:crypto';

export class OrderSession {
  readonly id: string;
  readonly orderId: string;
  readonly total: number;
  readonly createdAt: number;
  readonly client: { userAgent: string; ip: string };
  readonly token: string;

  constructor(orderId: string, userAgent: string, ip: string) {
    this.id = randomBytes(8).toString('hex');
    this.orderId = orderId;
    this.total = Math.round(Math.random() * 100_000) / 100;
    this.createdAt = Date.now();
    this.client = { userAgent, ip };
    this.token = randomBytes(384).toString('hex');
  }
}

// A session's weight decays with age (10 min time constant).
const score = (s: OrderSession, now: number): number => s.total * Math.exp(-(now - s.createdAt) / 600_000);

export class SessionHistory {
  private readonly sessions: OrderSession[] = [];
  enabled = false;

  enable(): void {
    this.enabled = true;
  }

  get size(): number {
    return this.sessions.length;
  }

  /** Keeps the session (forever: the bug) and returns the id of the top one by recency-weighted total. */
  record(session: OrderSession): string {
    this.sessions.push(session);
    const now = Date.now();
    const top = [...this.sessions].sort((a, b) => score(b, now) - score(a, now)).slice(0, 3);
    return top[0]!.id;
  }
}
