// Go-style /debug/pprof endpoints for a node:http (or express) server, so `go tool pprof URL`,
// Pyroscope and Grafana can pull profiles. Mount it first in the request listener:
//   const pprof = createDebugHandler({ sampler });
//   http.createServer((req, res) => { if (!pprof(req, res)) app(req, res); });
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProfileBusyError, cpuProfile } from './cpu-profile.ts';
import type { HeapSampler } from './heap-sampler.ts';

/** Work that costs the whole process: a heap read that collects garbage first, a CPU profile. */
export type DebugWork = 'heap_gc' | 'cpu_profile';

/** The answer of DebugHandlerOptions.admit: go on (and release when done), or refuse with 429. */
export type DebugAdmission =
  | { admitted: true; release: () => void }
  | { admitted: false; retryAfterS: number; reason: string };

export interface DebugHandlerOptions {
  /** Serves /heap when given and running; otherwise /heap answers 404 (or 503 once stopped). */
  sampler?: HeapSampler;
  /** Largest accepted `seconds` for /profile; default 60. */
  maxCpuSeconds?: number;
  /** Default '/debug/pprof'. */
  prefix?: string;
  /**
   * Asked before work that costs the whole process starts; release() is called when it ends.
   * A refusal is answered 429 with Retry-After. Without it nothing is limited (instrument()
   * passes one: one at a time, a minimum interval, refusals counted).
   */
  admit?: (work: DebugWork) => DebugAdmission;
}

/** The request's path and query, when the caller has already decided what they are. */
export interface RequestTarget {
  readonly pathname: string;
  readonly searchParams: URLSearchParams;
}

/**
 * Answers the request and returns true, or returns false without touching it. `target` is the
 * caller's reading of req.url (instrument() passes the one its gate decided on); without it
 * req.url is parsed here.
 */
export type DebugHandler = (req: IncomingMessage, res: ServerResponse, target?: RequestTarget) => boolean;

const DEFAULT_CPU_SECONDS = 30; // Go's default

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(body.endsWith('\n') ? body : `${body}\n`);
}

function profileBytes(res: ServerResponse, name: string, body: Buffer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': `attachment; filename="${name}"`,
    'Content-Length': String(body.length),
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(body);
}

/**
 * Returns a handler that answers GET `${prefix}/` (index), `${prefix}/heap` (gzipped pprof of the
 * sampling heap profile) and `${prefix}/profile?seconds=N` (CPU profile, default 30 s), and
 * returns false without touching the response for any path outside `prefix`. Never throws.
 */
export function createDebugHandler(opts: DebugHandlerOptions = {}): DebugHandler {
  const prefix = (opts.prefix ?? '/debug/pprof').replace(/\/+$/, '');
  const prefixLower = prefix.toLowerCase();
  const maxCpuSeconds = opts.maxCpuSeconds ?? 60;
  const sampler = opts.sampler;
  const admit = opts.admit ?? (() => ({ admitted: true, release: () => {} }) as const);
  const refuse = (res: ServerResponse, a: { retryAfterS: number; reason: string }): void =>
    text(res, 429, a.reason, { 'Retry-After': String(Math.max(1, Math.ceil(a.retryAfterS))) });

  const index = [
    'tailtrace /debug/pprof',
    '',
    `${prefix}/heap              gzipped pprof: in-use sampling heap profile (inuse_space, inuse_objects)${sampler ? ` every ${sampler.intervalBytes} bytes` : ' (off)'}; ?gc=1 collects garbage first`,
    `${prefix}/profile?seconds=N CPU profile for N seconds (1..${maxCpuSeconds}, default ${Math.min(DEFAULT_CPU_SECONDS, maxCpuSeconds)})`,
    '',
    `read with: go tool pprof -top http://HOST:PORT${prefix}/heap`,
  ].join('\n');

  // ?gc=1 (Go's convention) collects garbage first: exact live set, at the cost of a full GC.
  const heap = (res: ServerResponse, query: URLSearchParams): void => {
    if (!sampler) {
      text(res, 404, 'heap sampling is off: start it with startHeapSampling() and pass the sampler to createDebugHandler()');
      return;
    }
    if (!sampler.running) {
      text(res, 503, 'heap sampling has been stopped');
      return;
    }
    const g = query.get('gc');
    const gc = g !== null && g !== '' && g !== '0';
    // The inspector backend collects garbage on every read (V8's getSamplingProfile does), so
    // there every read is the costly kind; @datadog/pprof's reads collect only when asked.
    const a: DebugAdmission = gc || sampler.backend === 'inspector' ? admit('heap_gc') : { admitted: true, release: () => {} };
    if (!a.admitted) {
      refuse(res, a);
      return;
    }
    sampler.pprof({ gc }).then(
      (body) => profileBytes(res, 'heap', body),
      (err: unknown) => text(res, 503, `heap profile unavailable: ${String((err as Error)?.message ?? err)}`),
    ).finally(a.release);
  };

  const profile = (res: ServerResponse, query: URLSearchParams): void => {
    const raw = query.get('seconds');
    const seconds = raw === null || raw === '' ? Math.min(DEFAULT_CPU_SECONDS, maxCpuSeconds) : Number(raw);
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > maxCpuSeconds) {
      text(res, 400, `seconds must be an integer from 1 to ${maxCpuSeconds}, got ${JSON.stringify(raw)}`);
      return;
    }
    const a = admit('cpu_profile');
    if (!a.admitted) {
      refuse(res, a);
      return;
    }
    // A client that goes away stops the profile instead of leaving it running for nothing.
    const ac = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) ac.abort(new Error('client closed the connection'));
    };
    res.once('close', onClose);
    cpuProfile(seconds, { maxSeconds: maxCpuSeconds, signal: ac.signal }).then(
      (body) => profileBytes(res, 'profile', body),
      (err: unknown) => {
        if (ac.signal.aborted) return;
        if (err instanceof ProfileBusyError) text(res, 409, err.message, { 'Retry-After': String(seconds) });
        else text(res, 500, `CPU profile failed: ${String((err as Error)?.message ?? err)}`);
      },
    ).finally(() => {
      res.off('close', onClose);
      a.release();
    });
  };

  return (req, res, target) => {
    let url: RequestTarget;
    try {
      url = target ?? new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return false;
    }
    const path = url.pathname;
    // Without case, as the gate in front of it (and express) compares paths.
    const lower = path.toLowerCase();
    if (lower !== prefixLower && !lower.startsWith(`${prefixLower}/`)) return false;
    try {
      if (req.method !== 'GET') {
        text(res, 405, `${req.method ?? '?'} not allowed on ${path}: use GET`, { Allow: 'GET' });
        return true;
      }
      const sub = lower.slice(prefix.length).replace(/^\/+/, '').replace(/\/+$/, '');
      if (sub === '') text(res, 200, index);
      else if (sub === 'heap') heap(res, url.searchParams);
      else if (sub === 'profile') profile(res, url.searchParams);
      else text(res, 404, `unknown profile ${JSON.stringify(sub)}: see ${prefix}/`);
    } catch (err) {
      try {
        text(res, 500, `internal error: ${String((err as Error)?.message ?? err)}`);
      } catch {
        res.destroy();
      }
    }
    return true;
  };
}
