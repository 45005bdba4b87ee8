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

export class SessionHistory {
  private readonly sessions: OrderSession[] = [];
  enabled = false;

  enable(): void {
    this.enabled = true;
  }

  get size(): number {
    return this.sessions.length;
  }

  /** Keeps the session (forever: the bug) and returns the id of the biggest one so far. */
  record(session: OrderSession): string {
    this.sessions.push(session);
    const top = [...this.sessions].sort((a, b) => b.total - a.total).slice(0, 3);
    return top[0]!.id;
  }
}
