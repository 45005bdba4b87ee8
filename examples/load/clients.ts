// The two kinds of request the load driver sends: HTTP GET to the gateway (keep-alive
// node:http agent) and gRPC Get straight to the orders service. Neither is instrumented: the
// driver plays the user, and only sends the traceparent it chose so it knows the trace IDs.
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { loadOrders } from '../services/proto.ts';
import type { Send } from './driver.ts';

export interface Client {
  send: Send;
  close(): void;
}

export function httpClient(baseUrl: string, path: (i: number) => string, opts: { timeoutMs?: number; maxSockets?: number } = {}): Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 256 });
  const url = new URL(baseUrl);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const send: Send = (traceparent, i) =>
    new Promise((resolve) => {
      const headers: Record<string, string> = {};
      if (traceparent) headers.traceparent = traceparent;
      const attempt = (retried: boolean): void => {
        const req = http.request(
          { host: url.hostname, port: url.port, path: path(i), method: 'GET', agent, headers, timeout: timeoutMs },
          (res) => {
            res.on('data', () => {});
            res.on('end', () => resolve((res.statusCode ?? 500) < 500));
            res.on('error', () => resolve(false));
          },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (err: NodeJS.ErrnoException) => {
          // An idle kept-alive socket the server closed as we reused it (after a stall, the server's
          // keep-alive timer and our reuse land in the same tick): the GET never reached the server.
          // Send it once more on a new socket, as browsers and undici do for idempotent requests.
          if (!retried && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) attempt(true);
          else resolve(false);
        });
        req.end();
      };
      attempt(false);
    });
  return { send, close: () => agent.destroy() };
}

export function grpcClient(address: string, opts: { timeoutMs?: number; payloadBytes?: number; channels?: number } = {}): Client {
  const { Client } = loadOrders();
  // Several channels (distinct subchannel pools) so one HTTP/2 connection is not the bottleneck.
  const clients = Array.from({ length: opts.channels ?? 1 }, (_, k) =>
    new Client(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.channel_id_hint': k } as grpc.ClientOptions),
  );
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const payloadBytes = opts.payloadBytes ?? 1024;
  const send: Send = (traceparent, i) =>
    new Promise((resolve) => {
      const md = new grpc.Metadata();
      if (traceparent) md.set('traceparent', traceparent);
      const client = clients[i % clients.length]!;
      client.Get({ id: String(i % 1000), payload_bytes: payloadBytes }, md, { deadline: Date.now() + timeoutMs }, (err) => resolve(!err));
    });
  return { send, close: () => clients.forEach((c) => c.close()) };
}
