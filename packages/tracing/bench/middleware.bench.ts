// Micro-benchmark: per-request cost of the express middleware and of gRPC tracing (interceptors,
// and the server's unary handler wrapped by grpcService() instead of its interceptor), with the
// real OTLP export path (spans encoded when they end; the worker's sends to a closed port fail,
// which costs the main thread nothing more).
// Run: node --conditions=tailtrace-source packages/tracing/bench/middleware.bench.ts
// Bounded: fixed iteration counts, loopback only.
import http from 'node:http';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { createTracing } from '../src/index.ts';
import { loadEcho, startGrpcServer, unary } from '../test/helpers.ts';

let sink = 0;
const tracing = createTracing({
  env: {}, endpoint: 'http://127.0.0.1:9/v1/traces', onFirstExportError: () => {}, sampler: 'always_on', httpClient: false, scheduledDelayMillis: 50,
  onOperation: (r) => {
    sink += r.durationS;
  },
});

// ---- express middleware, no network: real IncomingMessage/ServerResponse objects ----
const socket = new net.Socket();
function makePair(): [http.IncomingMessage, http.ServerResponse] {
  const req = new http.IncomingMessage(socket);
  req.method = 'GET';
  req.url = '/users/42?x=1';
  req.headers = { host: '127.0.0.1:8080', 'user-agent': 'bench', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
  const res = new http.ServerResponse(req);
  return [req, res];
}
const mw = tracing.expressMiddleware();
const next = (): void => {};
function run(n: number, instrumented: boolean): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const [req, res] = makePair();
    if (instrumented) mw(req, res, next);
    res.emit('close');
  }
  return Number(process.hrtime.bigint() - t0) / n;
}
for (let w = 0; w < 3; w++) {
  run(20_000, false);
  run(20_000, true);
}
const base: number[] = [];
const inst: number[] = [];
for (let r = 0; r < 5; r++) {
  base.push(run(50_000, false));
  inst.push(run(50_000, true));
  await new Promise((res) => setTimeout(res, 60)); // let the batch processor export
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(`express middleware: ${(med(inst) - med(base)).toFixed(0)} ns/request (sampled span + record; base ${med(base).toFixed(0)} ns)`);

// ---- gRPC unary round trips over loopback, bare vs both interceptors ----
const impl = { Unary: (call: grpc.ServerUnaryCall<{ text?: string }, { text?: string }>, cb: grpc.sendUnaryData<{ text?: string }>) => cb(null, { text: call.request.text ?? '' }) };
const bare = await startGrpcServer([], impl);
const traced = await startGrpcServer([tracing.grpcServerInterceptor], impl);
const wrapped = await startGrpcServer([tracing.grpcServerInterceptor], tracing.grpcService(loadEcho().service, impl));
const { Client } = loadEcho();
const cBare = new Client(`127.0.0.1:${bare.port}`, grpc.credentials.createInsecure());
const cTraced = new Client(`127.0.0.1:${traced.port}`, grpc.credentials.createInsecure(), { interceptors: [tracing.grpcClientInterceptor] });
const cWrapped = new Client(`127.0.0.1:${wrapped.port}`, grpc.credentials.createInsecure(), { interceptors: [tracing.grpcClientInterceptor] });
// CPU time (user+system, client and server in this process) per call: wall time on a shared
// 2-core machine is dominated by scheduling noise.
async function calls(c: typeof cBare, n: number): Promise<number> {
  const u0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await unary(c, { text: 'x' });
  const u = process.cpuUsage(u0);
  return ((u.user + u.system) * 1000) / n;
}
await calls(cBare, 500);
await calls(cTraced, 500);
await calls(cWrapped, 500);
const gb: number[] = [];
const gt: number[] = [];
const gw: number[] = [];
// Rotating order so drift in machine load does not favour any side.
const sides: Array<[typeof cBare, number[]]> = [[cBare, gb], [cTraced, gt], [cWrapped, gw]];
for (let r = 0; r < 9; r++) {
  for (let i = 0; i < sides.length; i++) {
    const [c, out] = sides[(i + r) % sides.length]!;
    out.push(await calls(c, 1000));
  }
}
const us = (x: number[]) => (med(x) / 1000).toFixed(1);
console.log(`gRPC unary CPU per call (client and server in this process): bare ${us(gb)} us; traced by interceptors ${us(gt)} us (${(med(gt) / med(gb)).toFixed(3)}x); `
  + `server by grpcService ${us(gw)} us (${(med(gw) / med(gb)).toFixed(3)}x)`);
for (const c of [cBare, cTraced, cWrapped]) c.close();
for (const s of [bare, traced, wrapped]) s.server.forceShutdown();
console.log(`export stats: ${JSON.stringify(tracing.stats())} (sink ${sink > 0})`);
await tracing.shutdown(1000);
