// The profiler's HTTP side: what POST /debug/tailtrace/evidence does (endpoint.ts speaks HTTP:
// path, token, method), and the one handler serving it together with /debug/pprof/*.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DebugHandler, RequestTarget } from './debug-handler.ts';
import { evidenceResponse, handleEvidenceRequest } from './endpoint.ts';
import type { EvidenceRequestResult, EvidenceRoute } from './endpoint.ts';
import { claimOf } from './evidence-writer.ts';
import type { CaptureResult, SnapshotPolicy } from './evidence-writer.ts';
import type { Capture } from './capture.ts';
import type { SnapshotBudget } from './snapshot-budget.ts';

export interface EvidenceRouteConfig {
  token: string | undefined;
  snapshots: SnapshotPolicy;
  now: () => number;
}

export function evidenceRoute(cfg: EvidenceRouteConfig, budget: Pick<SnapshotBudget, 'busy' | 'waitMs'>, capture: Capture): EvidenceRoute {
  return {
    token: cfg.token,
    capture: async (snapshot: boolean): Promise<EvidenceRequestResult> => {
      if (snapshot && cfg.snapshots !== 'never') {
        const refused = snapshotRefusal(budget, cfg.now());
        if (refused) return refused;
      }
      return requestResult(await capture('endpoint', { snapshot }));
    },
  };
}

/**
 * A 429 when a snapshot asked for over HTTP would be refused now. Answered before any capture: a
 * caller who asked for a snapshot gets Retry-After, not a bundle without one.
 */
export function snapshotRefusal(budget: Pick<SnapshotBudget, 'busy' | 'waitMs'>, nowMs: number): EvidenceRequestResult | undefined {
  if (budget.busy) return { status: 429, reason: 'a snapshot is being written', retryAfterS: 60 };
  const wait = budget.waitMs(claimOf({ kind: 'endpoint' }), nowMs);
  if (wait > 0) return { status: 429, reason: 'snapshot rate limit', retryAfterS: Math.ceil(wait / 1000) };
  return undefined;
}

const requestResult = (r: CaptureResult): EvidenceRequestResult =>
  r.status === 'written' && r.manifest ? { status: 200, body: evidenceResponse(r.manifest) } : { status: 500, reason: r.reason ?? r.status };

/** POST /debug/tailtrace/evidence, then /debug/pprof/*; false when the request is for neither. Never throws into the server. */
export function profilerHandler(
  route: EvidenceRoute, debugHandler: DebugHandler, fail: (where: string, err: unknown) => void,
): (req: IncomingMessage, res: ServerResponse, target?: RequestTarget) => boolean {
  return (req, res, target) => {
    try {
      return handleEvidenceRequest(route, req, res, target) || debugHandler(req, res, target);
    } catch (err) {
      fail('handler', err);
      return false;
    }
  };
}
