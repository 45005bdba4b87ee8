// Shared test plumbing: a tracing instance with an in-memory exporter, loopback servers on port 0,
// and a gRPC Echo service. Everything returned here has a matching cleanup.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { createTracing } from '../src/index.ts';
import type { OperationRecord, Tracing, TracingOptions } from '../src/index.ts';
import { decodeBody } from './otlp-decode.ts';
import type { OtlpRequest } from './otlp-decode.ts';

export interface Harness {
  tracing: Tracing;
  exporter: InMemorySpanExporter;
  records: OperationRecord[];
  spans(): Promise<ReadableSpan[]>;
  close(): Promise<void>;
}

export function setup(opts: TracingOptions = {}): Harness {
  const exporter = new InMemorySpanExporter();
  const records: OperationRecord[] = [];
  const tracing = createTracing({
    serviceName: 'test-svc',
    exporter,
    scheduledDelayMillis: 10,
    sampler: 'always_on',
    env: {},
    onOperation: (r) => records.push(r),
    ...opts,
  });
  return {
    tracing,
    exporter,
    records,
    async spans() {
      await tracing.forceFlush();
      return exporter.getFinishedSpans();
    },
    async close() {
      await tracing.shutdown(2000);
    },
  };
}

export async function listen(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

export async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Waits until `cond` holds, polling; fails after `ms` so no test can hang. */
export async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function byName(spans: ReadableSpan[], name: string): ReadableSpan {
  const s = spans.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no span named ${name}; have: ${spans.map((x) => x.name).join(', ')}`);
  return s;
}

// ---- gRPC Echo fixture ----
export const PROTO = fileURLToPath(new URL('./fixtures/echo.proto', import.meta.url));

export interface Msg {
  text?: string;
  delay_ms?: number;
  fail_code?: number;
  trace_id?: string;
  parent_span_id?: string;
}

type EchoClient = grpc.Client & {
  Unary(m: Msg, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Msg) => void): grpc.ClientUnaryCall;
  Unary(m: Msg, cb: (e: grpc.ServiceError | null, r?: Msg) => void): grpc.ClientUnaryCall;
  ServerStream(m: Msg, o?: grpc.CallOptions): grpc.ClientReadableStream<Msg>;
  ClientStream(cb: (e: grpc.ServiceError | null, r?: Msg) => void): grpc.ClientWritableStream<Msg>;
  Bidi(): grpc.ClientDuplexStream<Msg, Msg>;
};

export function loadEcho(): { service: grpc.ServiceDefinition; Client: new (addr: string, creds: grpc.ChannelCredentials, opts?: grpc.ClientOptions) => EchoClient } {
  const def = protoLoader.loadSync(PROTO, { keepCase: true, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { demo: { v1: { Echo: grpc.ServiceClientConstructor } } };
  const Echo = pkg.demo.v1.Echo;
  return { service: Echo.service, Client: Echo as unknown as new (addr: string, creds: grpc.ChannelCredentials, opts?: grpc.ClientOptions) => EchoClient };
}

export async function startGrpcServer(
  interceptors: grpc.ServerInterceptor[],
  impl: grpc.UntypedServiceImplementation,
): Promise<{ server: grpc.Server; port: number }> {
  const { service } = loadEcho();
  const server = new grpc.Server({ interceptors });
  server.addService(service, impl);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { server, port };
}

export function stopGrpcServer(server: grpc.Server): Promise<void> {
  server.forceShutdown();
  return Promise.resolve();
}

export function unary(client: EchoClient, m: Msg, opts: grpc.CallOptions = {}, md = new grpc.Metadata()): Promise<Msg> {
  return new Promise((resolve, reject) => client.Unary(m, md, opts, (e, r) => (e ? reject(e) : resolve(r ?? {}))));
}

// A real OTLP/HTTP receiver: it gets exactly what the exporter sends (protobuf or JSON, gzipped
// or not, decoded into the OTLP/JSON shape either way) and can be told to fail or hang.
export interface Receiver {
  url: string;
  bodies: Array<{ contentType: string | undefined; encoding: string | undefined; headers: http.IncomingHttpHeaders; bytes: number; json: OtlpRequest }>;
  mode: 'ok' | 'fail500' | 'hang';
  close(): Promise<void>;
}
export type { OtlpRequest };

export async function receiver(): Promise<Receiver> {
  const r: Receiver = { url: '', bodies: [], mode: 'ok', close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (r.mode === 'hang') return; // never answer
      if (r.mode === 'fail500') {
        res.statusCode = 500;
        res.end('nope');
        return;
      }
      const raw = Buffer.concat(chunks);
      const encoding = req.headers['content-encoding'];
      const body = encoding === 'gzip' ? gunzipSync(raw) : raw;
      r.bodies.push({ contentType: req.headers['content-type'], encoding, headers: req.headers, bytes: raw.length, json: decodeBody(req.headers['content-type'], body) });
      res.setHeader('content-type', req.headers['content-type'] ?? 'application/x-protobuf');
      res.end();
    });
  });
  const port = await listen(server);
  r.url = `http://127.0.0.1:${port}/v1/traces`;
  r.close = () => closeServer(server);
  return r;
}

export function spansOf(r: Receiver) {
  return r.bodies.flatMap((b) => b.json.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
}
