// One OTLP/HTTP POST with a hard deadline: whatever the Collector does (never answers, answers a
// byte at a time, resets), the request and its socket are destroyed when the deadline passes, so
// nothing it holds outlives it. Requests in flight are bounded; past the bound a post fails at
// once instead of queueing in the agent. Used by the export worker and, where no worker can run,
// in the main thread. Never throws: every outcome arrives through `done`, exactly once.
// With gzip compression the body is compressed on libuv's thread pool, inside the deadline.
import http from 'node:http';
import https from 'node:https';
import { gzip } from 'node:zlib';

export interface PosterOptions {
  url: string;
  headers: Record<string, string>;
  /** From post() to the complete answer. */
  timeoutMs: number;
  /** Requests in flight at once (default 2, the sockets the agent may open). */
  maxInFlight?: number;
  /** Of the bodies posted (default application/json). */
  contentType?: string;
  /** OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' compresses each body (default none). */
  compression?: 'gzip' | 'none';
}

const OWN_HEADERS = new Set(['content-type', 'content-encoding', 'content-length']);

export type PostResult = { ok: true } | { ok: false; error: string };

export interface Poster {
  post(body: Uint8Array, done: (result: PostResult) => void): void;
  inFlight(): number;
  /** Destroys every request in flight (their `done` reports the failure) and the agent's sockets. */
  close(): void;
}

interface Active {
  req: http.ClientRequest | undefined;
  finish(result: PostResult): void;
}

export function createPoster(opts: PosterOptions): Poster {
  const target = new URL(opts.url);
  const client = target.protocol === 'https:' ? https : http;
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 2);
  // Keep-alive with at most maxInFlight connections, like the OTLP exporter's concurrency limit.
  const agent = new client.Agent({ keepAlive: true, maxSockets: maxInFlight });
  const active = new Set<Active>();
  const gzipped = opts.compression === 'gzip';
  // The body's own headers are ours, whatever the configured ones say (in any letter case).
  const headers: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(opts.headers)) if (!OWN_HEADERS.has(k.toLowerCase())) headers[k] = v;
  headers['content-type'] = opts.contentType ?? 'application/json';
  if (gzipped) headers['content-encoding'] = 'gzip';
  let closed = false;
  const request: RequestTarget = { client, target, agent, headers, pending: (a) => active.has(a) };

  const post = (body: Uint8Array, done: (result: PostResult) => void): void => {
    if (closed) return done({ ok: false, error: 'exporter is shut down' });
    if (active.size >= maxInFlight) return done({ ok: false, error: `${maxInFlight} exports already in flight` });
    const a: Active = {
      req: undefined,
      finish: (result) => {
        if (!active.delete(a)) return;
        clearTimeout(deadline);
        try {
          done(result);
        } catch {
          // the caller's bookkeeping failing must not leave this request half-finished
        }
      },
    };
    active.add(a);
    const deadline = setTimeout(() => {
      a.req?.destroy();
      a.finish({ ok: false, error: `no complete answer within ${opts.timeoutMs} ms` });
    }, opts.timeoutMs);
    deadline.unref();
    if (!gzipped) return attempt(request, a, body, false);
    gzip(body, (err, compressed) => {
      if (!active.has(a)) return; // the deadline came first
      if (err) a.finish({ ok: false, error: `could not compress the body: ${err.message}` });
      else attempt(request, a, compressed, false);
    });
  };

  return {
    post,
    inFlight: () => active.size,
    close: () => {
      closed = true;
      for (const a of [...active]) {
        a.req?.destroy();
        a.finish({ ok: false, error: 'exporter is shut down' });
      }
      agent.destroy();
    },
  };
}

/** Where and how every attempt is sent. */
interface RequestTarget {
  client: typeof http | typeof https;
  target: URL;
  agent: http.Agent;
  headers: http.OutgoingHttpHeaders;
  /** Whether the post is still waiting for its outcome (not past its deadline, not closed). */
  pending(a: Active): boolean;
}

/** One POST of the body; a kept-alive socket the server had just closed gets one retry. */
function attempt(rt: RequestTarget, a: Active, body: Uint8Array, retried: boolean): void {
  let req: http.ClientRequest;
  try {
    req = rt.client.request(rt.target, {
      method: 'POST',
      agent: rt.agent,
      headers: { ...rt.headers, 'content-length': body.byteLength },
    });
  } catch (err) {
    return a.finish({ ok: false, error: err instanceof Error ? err.message : String(err) });
  }
  a.req = req;
  req.on('response', (res) => {
    res.resume();
    res.on('end', () => {
      const status = res.statusCode ?? 0;
      a.finish(status >= 200 && status < 300 ? { ok: true } : { ok: false, error: `the OTLP endpoint answered HTTP ${status}` });
    });
    res.on('error', (err) => a.finish({ ok: false, error: errorText(err) }));
    res.on('close', () => a.finish({ ok: false, error: 'the connection closed before the answer was complete' }));
  });
  req.on('error', (err: NodeJS.ErrnoException) => {
    // A kept-alive socket the server closed just as we reused it (the race Node's docs describe
    // under request.reusedSocket): the request never reached the server, so send it once more.
    if (!retried && rt.pending(a) && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
      attempt(rt, a, body, true);
      return;
    }
    a.finish({ ok: false, error: errorText(err) });
  });
  req.end(body);
}

function errorText(err: NodeJS.ErrnoException): string {
  return err.code ?? err.message;
}
