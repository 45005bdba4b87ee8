// A real OTLP/HTTP endpoint that misbehaves on demand, for the Collector-fault tests: a node:http
// server on 127.0.0.1 whose behaviour can be switched while a service exports to it. Every fault
// is played on real sockets (no mocks): a listener that is gone, connections reset on accept,
// HTTP 500, an answer delayed, no answer at all, an answer trickled a byte at a time, and a
// connection reset halfway through the answer.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { decodeBody } from '../../packages/tracing/test/otlp-decode.ts';

export type FaultMode =
  | { kind: 'ok' }
  /** Nothing listens on the port. */
  | { kind: 'down' }
  /** Connections are accepted and reset (RST) at once. */
  | { kind: 'refuse' }
  | { kind: 'status'; status: number }
  /** A normal answer after `delayMs`. */
  | { kind: 'slow'; delayMs: number }
  /** The request is read, never answered. */
  | { kind: 'hang' }
  /** Headers at once (a large content-length), then one byte every `everyMs`, never finishing. */
  | { kind: 'trickle'; everyMs: number }
  /** Headers and part of the body, then the connection is reset. */
  | { kind: 'reset' };

export interface FaultCollector {
  /** Base URL (OTEL_EXPORTER_OTLP_ENDPOINT form); traces go to `${url}/v1/traces`. */
  readonly url: string;
  set(mode: FaultMode): Promise<void>;
  /** Requests seen, spans received in 'ok' mode, connections open now and ever accepted. */
  stats(): { requests: number; spans: number; openConnections: number; connections: number };
  close(): Promise<void>;
}

function countSpans(contentType: string | undefined, body: Buffer): number {
  try {
    // http/protobuf (the default) or http/json, decoded into the same OTLP/JSON shape.
    const req = decodeBody(contentType, body);
    let n = 0;
    for (const rs of req.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) n += ss.spans?.length ?? 0;
    return n;
  } catch {
    return 0;
  }
}

export async function startFaultCollector(initial: FaultMode = { kind: 'ok' }): Promise<FaultCollector> {
  let mode = initial;
  let requests = 0;
  let spans = 0;
  let connections = 0;
  const open = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const answer = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const m = mode;
    switch (m.kind) {
      case 'ok':
      case 'down':
      case 'refuse':
        spans += countSpans(req.headers['content-type'], body);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      case 'status':
        res.writeHead(m.status, { 'content-type': 'application/json' }).end('{"code":13}');
        return;
      case 'slow':
        later(m.delayMs, () => {
          if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
        return;
      case 'hang':
        return;
      case 'trickle': {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1_000_000 });
        res.flushHeaders();
        const drip = (): void => {
          if (res.destroyed || req.socket.destroyed) return;
          res.write(' ');
          later(m.everyMs, drip);
        };
        later(m.everyMs, drip);
        return;
      }
      case 'reset':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 });
        res.write('{"partialSuccess":');
        later(5, () => req.socket.resetAndDestroy());
        return;
    }
  };

  const server = createServer((req, res) => {
    requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(req, res, Buffer.concat(chunks)));
    req.on('error', () => {});
  });
  server.keepAliveTimeout = 5000;
  server.on('connection', (socket: Socket) => {
    connections++;
    if (mode.kind === 'refuse') {
      socket.resetAndDestroy();
      return;
    }
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    });

  const port = await listen(0);
  if (mode.kind === 'down') await stopListening();
  return {
    url: `http://127.0.0.1:${port}`,
    async set(next) {
      const wasDown = mode.kind === 'down';
      mode = next;
      if (next.kind === 'down' && !wasDown) await stopListening();
      else if (next.kind !== 'down' && wasDown) await listen(port);
      // A new behaviour starts on new connections: kept-alive ones would carry the old one's state.
      else for (const s of open) s.destroy();
    },
    stats: () => ({ requests, spans, openConnections: open.size, connections }),
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      if (mode.kind !== 'down') await stopListening();
    },
  };
}
