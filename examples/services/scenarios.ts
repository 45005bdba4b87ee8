// Faults the demo services can play, for the leak demo and the triggers benchmark: each is what a
// real service does on a bad day. The leak itself lives in the gateway's route (leak.ts); these
// act in a middleware, switched on at start (TAILTRACE_DEMO_SCENARIO, comma-separated) or later
// over IPC ({ type: 'scenario', name }).
//  - gc-heavy: every request leaves ~16 KB of medium-lived objects in a bounded ring (1,500
//    entries, ~24 MiB, filled at start): old-generation churn and frequent major GCs, but a flat
//    live heap. Nothing should trigger on it.
//  - slow-dependency: every request waits TAILTRACE_DEMO_SLOW_MS (default 150 ms) before it is
//    handled, as if the disk or a database behind the service got slow. A real regression for this
//    service and its callers: it must be caught.
import type { IncomingMessage, ServerResponse } from 'node:http';

export type ScenarioName = 'leak' | 'gc-heavy' | 'slow-dependency';
export const SCENARIOS: readonly ScenarioName[] = ['leak', 'gc-heavy', 'slow-dependency'];

type Next = (err?: unknown) => void;

const RING = 1500;

function churnObject(i: number): unknown {
  // ~16 KB: a handful of objects and strings, the shape of a parsed request body or a cache entry.
  const items = Array.from({ length: 40 }, (_, k) => ({ k, name: `item-${i}-${k}`, tags: [`t${k % 7}`, `u${i % 13}`], price: k * 1.5 }));
  return { id: i, at: Date.now(), items, note: 'x'.repeat(4096) + String(i) };
}

export class Scenarios {
  private readonly on = new Set<ScenarioName>();
  private ring: unknown[] = [];
  private next = 0;
  private readonly slowMs = Number(process.env.TAILTRACE_DEMO_SLOW_MS) || 150;

  constructor(initial = process.env.TAILTRACE_DEMO_SCENARIO ?? '') {
    for (const name of initial.split(',').map((s) => s.trim()).filter(Boolean)) this.enable(name);
  }

  has(name: ScenarioName): boolean {
    return this.on.has(name);
  }

  /** Returns false for a name this module does not play (the service may play it itself). */
  enable(name: string): boolean {
    if (!(SCENARIOS as readonly string[]).includes(name)) return false;
    this.on.add(name as ScenarioName);
    if (name === 'gc-heavy' && this.ring.length === 0) this.ring = Array.from({ length: RING }, (_, i) => churnObject(i));
    return true;
  }

  /** express / node:http middleware: plays the switched-on faults, then passes the request on. */
  readonly middleware = (_req: IncomingMessage, _res: ServerResponse, next: Next): void => {
    if (this.on.has('gc-heavy')) {
      this.ring[this.next] = churnObject(this.next);
      this.next = (this.next + 1) % RING;
    }
    if (this.on.has('slow-dependency')) setTimeout(next, this.slowMs);
    else next();
  };
}
