// Synthetic OTLP load for the gateway throughput figure: traces shaped like the demo's (gateway
// HTTP SERVER -> gRPC CLIENT -> orders gRPC SERVER -> HTTP CLIENT -> inventory HTTP SERVER, with
// the semantic-convention attributes our spans carry), sent as protobuf over gRPC with a bounded
// number of requests in flight for a bounded time. Fresh trace and span IDs in every request.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { encodeTraceRequest } from './otlp-proto.ts';
import type { SpanSpec } from './otlp-proto.ts';

export const SPANS_PER_TRACE = 5;
const SERVER = 2;
const CLIENT = 3;

const ID_BYTES_PER_TRACE = 16 + 8 * SPANS_PER_TRACE;

function demoSpans(traces: number, ids: Buffer): { byService: Map<string, SpanSpec[]>; idFields: Buffer[] } {
  const by = new Map<string, SpanSpec[]>([['gateway', []], ['orders', []], ['inventory', []]]);
  const idFields: Buffer[] = [];
  const now = BigInt(Date.now()) * 1_000_000n;
  let o = 0;
  const take = (n: number) => { const b = ids.subarray(o, o + n); o += n; idFields.push(b); return b; };
  for (let t = 0; t < traces; t++) {
    const traceId = take(16);
    const [gs, gc, os, oc, is] = [take(8), take(8), take(8), take(8), take(8)];
    const start = now - BigInt(t) * 1000n;
    const ms = (x: number) => BigInt(Math.round(x * 1e6));
    by.get('gateway')!.push(
      { traceId, spanId: gs, name: 'GET /api/orders/:id', kind: SERVER, startNs: start, endNs: start + ms(4), attributes: [['http.request.method', 'GET'], ['http.route', '/api/orders/:id'], ['http.response.status_code', 200], ['url.path', `/api/orders/${t % 1000}`]] },
      { traceId, spanId: gc, parentSpanId: gs, name: 'orders.OrderService/Get', kind: CLIENT, startNs: start + ms(0.5), endNs: start + ms(3.5), attributes: [['rpc.system', 'grpc'], ['rpc.service', 'orders.OrderService'], ['rpc.method', 'Get'], ['rpc.grpc.status_code', 0], ['server.address', '127.0.0.1']] },
    );
    by.get('orders')!.push(
      { traceId, spanId: os, parentSpanId: gc, name: 'orders.OrderService/Get', kind: SERVER, startNs: start + ms(0.7), endNs: start + ms(3.3), attributes: [['rpc.system', 'grpc'], ['rpc.service', 'orders.OrderService'], ['rpc.method', 'Get'], ['rpc.grpc.status_code', 0]] },
      { traceId, spanId: oc, parentSpanId: os, name: 'GET', kind: CLIENT, startNs: start + ms(1), endNs: start + ms(3), attributes: [['http.request.method', 'GET'], ['server.address', '127.0.0.1'], ['http.response.status_code', 200]] },
    );
    by.get('inventory')!.push(
      { traceId, spanId: is, parentSpanId: oc, name: 'GET /stock/:sku', kind: SERVER, startNs: start + ms(1.2), endNs: start + ms(2.8), attributes: [['http.request.method', 'GET'], ['http.route', '/stock/:sku'], ['http.response.status_code', 200]] },
    );
  }
  return { byService: by, idFields };
}

/**
 * A batch encoded once, re-issued with fresh IDs: every trace and span ID of the template is
 * found by value (random 16 / 8 bytes: unique in the buffer) and rewritten at each place it
 * appears (a span ID also appears as its child's parent ID). So the load generator spends its
 * core on sending, not on encoding, and the gateway still sees new traces in every request.
 */
export function demoBatchTemplate(traces: number): () => Buffer {
  const { byService, idFields } = demoSpans(traces, randomBytes(traces * ID_BYTES_PER_TRACE));
  const template = encodeTraceRequest(byService);
  const places: { len: number; offsets: number[] }[] = idFields.map((id) => {
    const offsets: number[] = [];
    for (let at = template.indexOf(id); at >= 0; at = template.indexOf(id, at + 1)) offsets.push(at);
    return { len: id.length, offsets };
  });
  return () => {
    const b = Buffer.from(template);
    const fresh = randomBytes(traces * ID_BYTES_PER_TRACE);
    let o = 0;
    for (const p of places) {
      for (const at of p.offsets) fresh.copy(b, at, o, o + p.len);
      o += p.len;
    }
    return b;
  };
}

export interface BlastResult {
  requests: number;
  spans: number;
  failed: number;
  seconds: number;
}

/**
 * Sends demo-shaped batches of `tracesPerRequest` traces to an OTLP gRPC receiver (`host:port`)
 * with `inflight` requests outstanding, for `seconds`. Refused requests (the memory limiter) count
 * as failed, not as sent.
 */
export async function blast(endpoint: string, o: { seconds: number; inflight: number; tracesPerRequest: number }): Promise<BlastResult> {
  const client = new grpc.Client(endpoint, grpc.credentials.createInsecure());
  const identity = (b: Buffer) => b;
  const send = (buf: Buffer) => new Promise<boolean>((resolve) => {
    client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', identity, identity, buf,
      { deadline: Date.now() + 10_000 }, (err) => resolve(!err));
  });
  const next = demoBatchTemplate(o.tracesPerRequest);
  const r: BlastResult = { requests: 0, spans: 0, failed: 0, seconds: 0 };
  const t0 = performance.now();
  const until = t0 + o.seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const ok = await send(next());
      if (ok) {
        r.requests++;
        r.spans += o.tracesPerRequest * SPANS_PER_TRACE;
      } else {
        r.failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: o.inflight }, worker));
  r.seconds = (performance.now() - t0) / 1000;
  client.close();
  return r;
}
