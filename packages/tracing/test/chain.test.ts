import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import express from 'express';
import type { Request, Response } from 'express';
import { byName, closeServer, listen, loadEcho, setup, startGrpcServer, stopGrpcServer, unary, waitFor } from './helpers.ts';
import type { Harness, Msg } from './helpers.ts';

// express -> gRPC client -> gRPC server -> fetch + node:http to a stub that records the headers
// it received, so injection is checked where it matters: on the wire.
let h: Harness;
let stub: http.Server;
let stubPort: number;
let gateway: http.Server;
let gwPort: number;
let grpcServer: grpc.Server;
let client: InstanceType<ReturnType<typeof loadEcho>['Client']>;
const received: Array<http.IncomingHttpHeaders> = [];

before(async () => {
  h = setup();
  stub = http.createServer((req, res) => {
    received.push(req.headers);
    res.statusCode = req.url?.startsWith('/fail') ? 502 : 200;
    res.end('stub');
  });
  stubPort = await listen(stub);
  const started = await startGrpcServer([h.tracing.grpcServerInterceptor], {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      void (async () => {
        const r = await fetch(`http://127.0.0.1:${stubPort}/from-fetch?token=x`);
        await r.text();
        await new Promise<void>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port: stubPort, path: '/from-http' }, (res) => {
            res.resume();
            res.on('end', () => resolve());
          }).on('error', reject);
        });
        cb(null, { text: call.request.text });
      })();
    },
  });
  grpcServer = started.server;
  const { Client } = loadEcho();
  client = new Client(`127.0.0.1:${started.port}`, grpc.credentials.createInsecure(), { interceptors: [h.tracing.grpcClientInterceptor] });
  const app = express();
  app.use(h.tracing.expressMiddleware());
  app.get('/orders/:id', async (req: Request, res: Response) => {
    const r = await unary(client, { text: String(req.params.id) });
    res.json(r);
  });
  gateway = http.createServer(app);
  gwPort = await listen(gateway);
});

after(async () => {
  client.close();
  await stopGrpcServer(grpcServer);
  await closeServer(gateway);
  await closeServer(stub);
  await h.close();
});

test('one trace: express -> grpc client -> grpc server -> fetch and node:http', async () => {
  const res = await fetch(`http://127.0.0.1:${gwPort}/orders/7`);
  assert.equal(res.status, 200);
  assert.equal((await res.json() as { text: string }).text, '7');
  // gateway fetch client + server, rpc client + server, 2 outgoing http
  await waitFor(() => h.records.length >= 6);
  const spans = await h.spans();
  const inbound = spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'GET /orders/:id')!;
  assert.ok(inbound);
  const rpcClient = spans.find((s) => s.kind === SpanKind.CLIENT && s.name === 'demo.v1.Echo/Unary')!;
  const rpcServer = spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'demo.v1.Echo/Unary')!;
  const outs = spans.filter((s) => s.kind === SpanKind.CLIENT && s.name === 'GET' && String(s.attributes['url.full']).includes(`:${stubPort}/`));
  assert.equal(outs.length, 2);
  const traceId = inbound.spanContext().traceId;
  for (const s of [rpcClient, rpcServer, ...outs]) assert.equal(s.spanContext().traceId, traceId, s.name);
  assert.equal(rpcClient.parentSpanContext?.spanId, inbound.spanContext().spanId);
  assert.equal(rpcServer.parentSpanContext?.spanId, rpcClient.spanContext().spanId);
  for (const o of outs) assert.equal(o.parentSpanContext?.spanId, rpcServer.spanContext().spanId);

  // Headers reached the stub and name the client spans as parents.
  assert.equal(received.length, 2);
  for (const hdrs of received) {
    const tp = String(hdrs.traceparent);
    // Sampled (01) and, since the gateway started this trace with a random trace-id, random (02).
    assert.match(tp, new RegExp(`^00-${traceId}-[0-9a-f]{16}-03$`));
    const parent = tp.split('-')[2];
    assert.ok(outs.some((o) => o.spanContext().spanId === parent));
  }
  const fetchSpan = outs.find((o) => String(o.attributes['url.full']).includes('from-fetch'))!;
  // token is a secret name: its value never leaves in a span (redact.ts).
  assert.equal(fetchSpan.attributes['url.full'], `http://127.0.0.1:${stubPort}/from-fetch?token=REDACTED`);
  assert.equal(fetchSpan.attributes['server.address'], '127.0.0.1');
  assert.equal(fetchSpan.attributes['server.port'], stubPort);
  assert.equal(fetchSpan.attributes['http.request.method'], 'GET');
  assert.equal(fetchSpan.attributes['http.response.status_code'], 200);
  const httpRecs = h.records.filter((r) => r.kind === 'http_client' && r.serverAddress === '127.0.0.1');
  assert.ok(httpRecs.length >= 2);
  assert.ok(httpRecs.every((r) => r.method === 'GET' && (r.statusCode === 200)));
  byName(spans, 'GET /orders/:id');
});

test('http client errors and 5xx: ERROR status, error.type, status 0 on network error', async () => {
  h.exporter.reset();
  h.records.length = 0;
  const r = await fetch(`http://127.0.0.1:${stubPort}/fail`);
  await r.text();
  const closed = http.createServer();
  const deadPort = await listen(closed);
  await closeServer(closed);
  await assert.rejects(fetch(`http://127.0.0.1:${deadPort}/x`));
  await new Promise<void>((resolve) => {
    http.get({ host: '127.0.0.1', port: deadPort, path: '/y' }).on('error', () => resolve());
  });
  await waitFor(() => h.records.length >= 3);
  const spans = await h.spans();
  const fail = spans.find((s) => String(s.attributes['url.full']).endsWith('/fail'))!;
  assert.equal(fail.status.code, SpanStatusCode.ERROR);
  assert.equal(fail.attributes['error.type'], '502');
  const refused = spans.filter((s) => s.attributes['server.port'] === deadPort);
  assert.equal(refused.length, 2);
  for (const s of refused) {
    assert.equal(s.status.code, SpanStatusCode.ERROR);
    assert.equal(typeof s.attributes['error.type'], 'string');
  }
  assert.deepEqual(h.records.filter((x) => x.kind === 'http_client').map((x) => x.statusCode).sort(), [0, 0, 502]);
});

test('a traceparent the caller set by hand is kept (never duplicated or replaced); the client span joins that trace', async () => {
  h.exporter.reset();
  h.records.length = 0;
  received.length = 0;
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const explicit = `00-${traceId}-00f067aa0ba902b7-01`;
  await (await fetch(`http://127.0.0.1:${stubPort}/explicit-fetch`, { headers: { traceparent: explicit } })).text();
  await new Promise<void>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: stubPort, path: '/explicit-http', headers: { traceparent: explicit } }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    }).on('error', reject);
  });
  assert.equal(received.length, 2);
  for (const headers of received) assert.equal(headers.traceparent, explicit);
  await waitFor(() => h.records.filter((r) => r.kind === 'http_client').length >= 2);
  const spans = (await h.spans()).filter((s) => s.kind === SpanKind.CLIENT);
  assert.equal(spans.length, 2);
  for (const s of spans) {
    assert.equal(s.spanContext().traceId, traceId);
    assert.equal(s.parentSpanContext?.spanId, '00f067aa0ba902b7');
  }
});

test('enableHttpClientTracing is idempotent and its disposer stops client spans', async () => {
  const d1 = h.tracing.enableHttpClientTracing();
  const d2 = h.tracing.enableHttpClientTracing();
  assert.equal(d1, d2);
  d1();
  h.records.length = 0;
  await (await fetch(`http://127.0.0.1:${stubPort}/untraced`)).text();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(h.records.filter((r) => r.kind === 'http_client').length, 0);
  const d3 = h.tracing.enableHttpClientTracing();
  await (await fetch(`http://127.0.0.1:${stubPort}/traced`)).text();
  await waitFor(() => h.records.some((r) => r.kind === 'http_client'));
  assert.equal(h.records.filter((r) => r.kind === 'http_client').length, 1, 'exactly one subscription');
  assert.equal(typeof d3, 'function');
});
