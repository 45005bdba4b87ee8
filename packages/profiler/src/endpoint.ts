// POST /debug/tailtrace/evidence[?snapshot=1] with `Authorization: Bearer <token>`. Off (as if
// absent) unless a token is configured: a heap snapshot exposes every secret in memory.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestTarget } from './debug-handler.ts';
import type { EvidenceManifest } from '@tailtrace/formats';

export const EVIDENCE_PATH = '/debug/tailtrace/evidence';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Constant-time check of an Authorization header against the token. Both sides are hashed first
 * so the comparison is over equal lengths and the token's length does not leak through timing.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  // Hash something even without a candidate, so a missing header costs what a wrong one does.
  const candidate = m?.[1] ?? '';
  const ok = timingSafeEqual(digest(candidate), digest(token));
  return ok && m !== null;
}

export type EvidenceRequestResult =
  | { status: 200; body: unknown }
  | { status: 429; reason: string; retryAfterS?: number }
  | { status: 500; reason: string };

export interface EvidenceRoute {
  token: string | undefined;
  /** Runs the capture; the route only speaks HTTP. */
  capture(snapshot: boolean): Promise<EvidenceRequestResult>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/**
 * What the endpoint answers about a bundle it wrote: what was captured and why, not where. The
 * manifest on disk keeps host, pid and versions (diagnose needs them); a caller who holds the
 * token but not the machine learns nothing about the process it did not already know.
 */
export function evidenceResponse(m: EvidenceManifest): Omit<EvidenceManifest, 'host' | 'pid' | 'versions'> {
  const { host: _host, pid: _pid, versions: _versions, ...rest } = m;
  return rest;
}

/**
 * Returns false for anything it does not own (other paths; every path when no token is set).
 * `target` is the caller's reading of req.url (see DebugHandler); without it req.url is parsed here.
 */
export function handleEvidenceRequest(route: EvidenceRoute, req: IncomingMessage, res: ServerResponse, target?: RequestTarget): boolean {
  let url: RequestTarget;
  try {
    url = target ?? new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return false;
  }
  if (url.pathname.toLowerCase() !== EVIDENCE_PATH || !route.token) return false;
  // The body is not used; drain it so the connection can be reused.
  req.resume();
  if (!bearerMatches(req.headers.authorization, route.token)) {
    sendJson(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
    return true;
  }
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'method not allowed' }, { allow: 'POST' });
    return true;
  }
  const snapshot = ['1', 'true'].includes(url.searchParams.get('snapshot') ?? '');
  route.capture(snapshot).then(
    (r) => {
      if (r.status === 200) sendJson(res, 200, r.body);
      else if (r.status === 429) sendJson(res, 429, { error: r.reason }, r.retryAfterS !== undefined ? { 'retry-after': String(r.retryAfterS) } : {});
      else sendJson(res, 500, { error: r.reason });
    },
    (err: unknown) => sendJson(res, 500, { error: (err as Error).message }),
  );
  return true;
}
