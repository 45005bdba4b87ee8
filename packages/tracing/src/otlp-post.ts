// One OTLP/HTTP POST with a hard deadline: whatever the Collector does (never answers, answers a
// byte at a time, resets), the request and its socket are destroyed when the deadline passes, so
// nothing it holds outlives it. Requests in flight are bounded; past the bound a post fails at
// once instead of queueing in the agent. Used by the export worker and, where no worker can run,
// in the main thread. Never throws: every outcome arrives through `done`, exactly once.
import http from 'node:http';
import https from 'node:https';

export interface PosterOptions {
  url: string;
  headers: Record<string, string>;
  /** From post() to the complete answer. */
  timeoutMs: number;
  /** Requests in flight at once (default 2, the sockets the agent may open). */
  maxInFlight?: number;
}

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
  let closed = false;

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
    attempt(a, body, false);
  };

  const attempt = (a: Active, body: Uint8Array, retried: boolean): void => {
    let req: http.ClientRequest;
    try {
      req = client.request(target, {
        method: 'POST',
        agent,
        headers: { ...opts.headers, 'content-type': 'application/json', 'content-length': body.byteLength },
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
      if (!retried && active.has(a) && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        attempt(a, body, true);
        return;
      }
      a.finish({ ok: false, error: errorText(err) });
    });
    req.end(body);
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

function errorText(err: NodeJS.ErrnoException): string {
  return err.code ?? err.message;
}
