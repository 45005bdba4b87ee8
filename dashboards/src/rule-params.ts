// What the generated alert and recording rules can be tuned by. PRODUCTION is what is committed
// (dashboards/rules/tailtrace.rules.yml); a variant for another setting is the same generator
// with other parameters: the live alert test shrinks every duration with `timeScale`.
import { duration, seconds } from './rule-file.ts';

export interface Budget {
  kind: 'http' | 'rpc';
  job: string;
  /** HTTP: the route template, e.g. `/api/orders/:id`. gRPC: `package.Service/Method`. */
  operation: string;
  p99Seconds: number;
}

export interface RuleParams {
  /**
   * Every duration below (windows, `for`, offsets, intervals) is multiplied by this; 1 in
   * production. The live test uses 1/30 (5m -> 10s, 1h -> 2m) against a demo that lives minutes.
   */
  timeScale: number;
  /** Evaluation interval of every group (not scaled); absent = Prometheus' global one. */
  evaluationInterval?: string;
  /** Window of the shared per-instance rates (dashboards and alerts). */
  rateWindow: string;
  latency: {
    /** P99 budget of every HTTP route / gRPC method not listed in `budgets`. */
    httpP99Seconds: number;
    rpcP99Seconds: number;
    budgets: Budget[];
    /** Fewer requests per second than this and a P99 is noise: no latency alert. */
    minRequestsPerSecond: number;
    for: string;
  };
  regression: {
    /** The baseline: the same time this long ago. */
    offset: string;
    /** Regressed = P99 at least `factor` x the baseline's and at least `minDeltaSeconds` more. */
    factor: number;
    minDeltaSeconds: number;
    for: string;
  };
  slo: {
    /** Share of requests that must not fail (5xx / no response; gRPC server-fault codes). */
    objective: number;
    /** Fewer requests than this in the long window and a burn-rate alert does not fire. */
    minRequestsInLongWindow: number;
  };
  spans: { maxDropRatio: number; for: string };
  heap: {
    /** The heap trough (minimum of heap used over this window: what survives GC). */
    troughWindow: string;
    /** Sustained growth: the trough's slope over this window... */
    slopeWindow: string;
    /** ...above this many bytes per slope window... */
    minGrowthBytes: number;
    /** ...in a process up at least this long (start-up fills caches). */
    minUptime: string;
    for: string;
  };
  evidence: { window: string; for: string };
  collector: { maxRefusedRatio: number; maxDropRatio: number; maxQueueFill: number; for: string };
}

export const PRODUCTION: RuleParams = {
  timeScale: 1,
  rateWindow: '5m',
  latency: { httpP99Seconds: 0.5, rpcP99Seconds: 0.25, budgets: [], minRequestsPerSecond: 0.5, for: '10m' },
  // 1d, not 1w: the bundled Prometheus keeps 7 days, so a week-old baseline is on the edge of
  // retention; a regression after a deploy shows against yesterday as well.
  regression: { offset: '1d', factor: 2, minDeltaSeconds: 0.05, for: '15m' },
  slo: { objective: 0.999, minRequestsInLongWindow: 100 },
  spans: { maxDropRatio: 0.01, for: '10m' },
  heap: { troughWindow: '5m', slopeWindow: '1h', minGrowthBytes: 64 * 2 ** 20, minUptime: '1h', for: '15m' },
  // Well over the time a blip takes to be judged and scraped (the next evaluation window, 60 s
  // by default, plus a scrape), so a trigger that turns out to be a blip never fires.
  evidence: { window: '30m', for: '5m' },
  collector: { maxRefusedRatio: 0.01, maxDropRatio: 0.001, maxQueueFill: 0.8, for: '5m' },
};

/** A duration of the production rules under `p.timeScale` (`5m` at 1/30 -> `10s`). */
export function scaled(p: RuleParams, d: string): string {
  return duration(seconds(d) * p.timeScale);
}
