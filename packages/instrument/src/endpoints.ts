// What each port answers of ours: the Prometheus scrape, /debug/pprof/*, the evidence endpoint.
// One routing decision over the canonical path (request-path.ts) serves both the app port (the
// express middleware) and the metrics server, and the handlers are given that same path, so a
// spelling the gate turned away can never be served by a handler behind it.
//
//                      app port (express middleware)         metrics server
//   /metrics           only with metricsPath                 always
//   /debug/pprof/*     pprof: 'app' + a debug token           unless pprof: false
//                      + Authorization: Bearer <token>
//   evidence (POST)    evidenceEndpoint: 'app' + the token    with the token, unless off
//
// Anything else, or anything not served on that port, is the app's (next()) or the metrics
// server's 404. The token is checked before any limit, so requests without it cannot use up the
// operator's turn.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerMatches, createDebugHandler, EVIDENCE_PATH } from '@tailtrace/profiler';
import type { DebugAdmission, DebugHandler, DebugWork, HeapSampler } from '@tailtrace/profiler';
import { pathIs, pathUnder, requestTarget, reservedFilter } from './request-path.ts';
import type { RequestTarget } from './request-path.ts';
import { rateGate } from './rate-gate.ts';

export type Where = 'metrics-server' | 'app' | false;
export type Port = 'app' | 'metrics-server';
export type Refusal = DebugWork | 'evidence';

const PPROF_PREFIX = '/debug/pprof';
/** A full GC or an evidence bundle at most this often from the endpoints; CPU profiles one at a time. */
export const MIN_INTERVAL_MS = { heap_gc: 10_000, cpu_profile: 0, evidence: 10_000 } as const;

export interface EndpointsConfig {
  /** The scrape on the app port (false: none) and on the metrics server. */
  appMetricsPath: string | false;
  serverMetricsPath: string;
  pprof: Where;
  evidence: Where;
  /** Bearer token of the debug endpoints; without one nothing of them is on the app port and evidence is off. */
  token: string | undefined;
  sampler: HeapSampler | undefined;
  metrics: (req: IncomingMessage, res: ServerResponse) => void;
  /** The profiler's handler, asked only for the evidence path. */
  evidenceHandler: (req: IncomingMessage, res: ServerResponse, target?: RequestTarget) => boolean;
  onRefused: (what: Refusal) => void;
}

export type Route = 'metrics' | 'pprof' | 'evidence';

/** Which of our routes a canonical path is, for a port whose scrape lives at `metricsPath`. */
export function routeOf(pathname: string, metricsPath: string | false): Route | undefined {
  if (metricsPath !== false && pathIs(pathname, metricsPath)) return 'metrics';
  if (pathUnder(pathname, PPROF_PREFIX)) return 'pprof';
  if (pathIs(pathname, EVIDENCE_PATH)) return 'evidence';
  return undefined;
}

/** Whether `port` serves `route` at all under this configuration (authentication comes after). */
export function served(cfg: Pick<EndpointsConfig, 'appMetricsPath' | 'pprof' | 'evidence' | 'token'>, port: Port, route: Route): boolean {
  const onApp = (where: Where): boolean => where === 'app' && cfg.token !== undefined;
  switch (route) {
    case 'metrics':
      return port === 'metrics-server' || cfg.appMetricsPath !== false;
    case 'pprof':
      return port === 'metrics-server' ? cfg.pprof !== false : onApp(cfg.pprof);
    case 'evidence':
      return cfg.token !== undefined && (port === 'metrics-server' ? cfg.evidence !== false : onApp(cfg.evidence));
  }
}

export interface Endpoints {
  /** For the express middleware: true when answered, false to pass the request on. Never throws. */
  app(req: IncomingMessage, res: ServerResponse): boolean;
  /** For the metrics server: true when answered, false for its 404. Never throws. */
  server(req: IncomingMessage, res: ServerResponse): boolean;
}

/** The one line to print when a debug endpoint was asked for on the app port without a token. */
export function appWithoutToken(cfg: Pick<EndpointsConfig, 'pprof' | 'evidence' | 'token'>): string | undefined {
  if (cfg.token !== undefined) return undefined;
  const asked = [cfg.pprof === 'app' ? "pprof: 'app'" : '', cfg.evidence === 'app' ? "evidenceEndpoint: 'app'" : ''].filter((s) => s !== '');
  if (asked.length === 0) return undefined;
  return `${asked.join(' and ')} need${asked.length === 1 ? 's' : ''} a debug token (debugToken or TAILTRACE_DEBUG_TOKEN): the app port serves no debug endpoint`;
}

export function createEndpoints(given: EndpointsConfig): Endpoints {
  // The scrape paths in the same canonical form as the request paths they are compared with.
  const cfg: EndpointsConfig = {
    ...given,
    appMetricsPath: given.appMetricsPath === false ? false : requestTarget(given.appMetricsPath).pathname,
    serverMetricsPath: requestTarget(given.serverMetricsPath).pathname,
  };
  const gates = {
    heap_gc: rateGate(MIN_INTERVAL_MS.heap_gc),
    cpu_profile: rateGate(MIN_INTERVAL_MS.cpu_profile),
    evidence: rateGate(MIN_INTERVAL_MS.evidence),
  };
  const enter = (what: Refusal): DebugAdmission => {
    const a = gates[what].enter();
    if (!a.admitted) cfg.onRefused(what);
    return a;
  };
  const pprof: DebugHandler | undefined = cfg.pprof === false ? undefined : createDebugHandler({ sampler: cfg.sampler, admit: enter });

  const dispatch = (port: Port, req: IncomingMessage, res: ServerResponse): boolean => {
    const target = requestTarget(req.url);
    const route = routeOf(target.pathname, port === 'app' ? cfg.appMetricsPath : cfg.serverMetricsPath);
    if (route === undefined || !served(cfg, port, route)) return false;
    if (route === 'metrics') {
      if (req.method !== 'GET') return false;
      cfg.metrics(req, res);
      return true;
    }
    const authorized = cfg.token !== undefined && bearerMatches(req.headers.authorization, cfg.token);
    if (port === 'app' && !authorized) {
      unauthorized(req, res);
      return true;
    }
    if (route === 'pprof') return pprof !== undefined && pprof(req, res, target);
    // Only an authorized POST captures anything, so only that meets the limit (the handler
    // answers the rest: 401, 405).
    if (authorized && req.method === 'POST') {
      const a = enter('evidence');
      if (!a.admitted) {
        req.resume();
        sendJson(res, 429, { error: a.reason }, { 'retry-after': String(a.retryAfterS) });
        return true;
      }
      res.once('close', a.release);
    }
    return cfg.evidenceHandler(req, res, target);
  };

  const safe = (port: Port, req: IncomingMessage, res: ServerResponse): boolean => {
    try {
      return dispatch(port, req, res);
    } catch {
      return res.headersSent || res.writableEnded;
    }
  };

  // The app port looks at nothing unless something of ours is on it, and then parses only the
  // requests whose raw URL could spell one of its paths.
  const appRoutes: Route[] = (['metrics', 'pprof', 'evidence'] as const).filter((r) => served(cfg, 'app', r));
  const names = appRoutes.flatMap((r) => (r === 'metrics' ? [lastSegment(cfg.appMetricsPath as string)] : ['debug']));
  const mayBeOurs = reservedFilter(names);
  return {
    app: (req, res) => mayBeOurs(req.url) && safe('app', req, res),
    server: (req, res) => safe('metrics-server', req, res),
  };
}

/** The first non-empty token: options before environment, the debug token before the evidence one. */
export function firstToken(...candidates: Array<string | undefined>): string | undefined {
  return candidates.map((t) => t?.trim()).find((t) => t !== undefined && t !== '');
}

function lastSegment(path: string): string {
  return requestTarget(path).pathname.split('/').pop() ?? '';
}

function unauthorized(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer', 'cache-control': 'no-store' });
  res.end('unauthorized: this debug endpoint needs Authorization: Bearer <token>\n');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}
