// instrument() on a Node older than the supported one, in process on this Node (so it runs
// even where the machine has no old Node; install.test.ts runs the real thing on Node 20): one
// line on stderr, then an instrumentation that passes everything through, with real express and
// real grpc-js servers and clients around it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  MIN_NODE_VERSION, inertInstrumentation, isOlderThan, offOnUnsupportedNode, unsupportedNodeMessage,
} from '../packages/instrument/src/unsupported-node.ts';

/** What `fn` wrote to stderr (process.stderr.write, which the module under test uses). */
function stderrOf(fn: () => void): string[] {
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => {
    written.push(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return written;
}

describe('which Node is too old', () => {
  test(`older than ${MIN_NODE_VERSION}: by major, minor and patch; prefixes and pre-release tags ignored`, () => {
    for (const v of ['18.20.4', '20.20.2', '21.99.99', '22.0.0', '22.14.9', 'v22.14.0']) assert.equal(isOlderThan(v, MIN_NODE_VERSION), true, v);
    for (const v of ['22.15.0', 'v22.15.0', '22.15.1', '22.16.0', '23.0.0', '24.21.0', '25.0.0-nightly20260101']) assert.equal(isOlderThan(v, MIN_NODE_VERSION), false, v);
  });

  test('on a supported Node nothing is printed and instrument() goes on', () => {
    const written = stderrOf(() => {
      assert.equal(offOnUnsupportedNode({}, process.versions.node), undefined);
      assert.equal(offOnUnsupportedNode({}, MIN_NODE_VERSION), undefined);
    });
    assert.deepEqual(written, []);
  });

  test('on an older one: one line, once per process, and the same inert instrumentation every call', () => {
    let first: ReturnType<typeof offOnUnsupportedNode>;
    let second: ReturnType<typeof offOnUnsupportedNode>;
    const written = stderrOf(() => {
      first = offOnUnsupportedNode({ serviceName: 'old' }, '20.20.2');
      second = offOnUnsupportedNode({ serviceName: 'other' }, '20.20.2');
    });
    assert.ok(first);
    assert.equal(second, first);
    assert.equal(first.serviceName, 'old');
    assert.deepEqual(written, [`${unsupportedNodeMessage('20.20.2')}\n`]);
    assert.match(written[0]!, /^\[tailtrace\] Node 20\.20\.2 is older than 22\.15\.0, .*instrumentation is off/);
  });
});

describe('the inert instrumentation', () => {
  const tt = inertInstrumentation('old', unsupportedNodeMessage('20.20.2'));
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  test('express: the middleware calls next(), the error handler passes the error on, /metrics is the app\'s', async () => {
    const app = express();
    app.use(tt);
    app.get('/users/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.use(tt.errorHandler);
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ passedOn: err.message });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    closers.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    assert.deepEqual(await (await fetch(`${base}/users/7`)).json(), { id: '7' });
    const boom = await fetch(`${base}/boom`);
    assert.equal(boom.status, 500);
    assert.deepEqual(await boom.json(), { passedOn: 'boom' });
    assert.equal((await fetch(`${base}/metrics`)).status, 404, 'not answered by the middleware');
  });

  test('gRPC: unary and server-streaming calls pass through both interceptors', async () => {
    const definition = protoLoader.loadSync(join(import.meta.dirname, 'install', 'hello.proto'), { keepCase: true, defaults: true });
    type Ctor = grpc.ServiceClientConstructor;
    const Greeter = (grpc.loadPackageDefinition(definition).hello as { Greeter: Ctor }).Greeter;
    const server = new grpc.Server({ interceptors: [tt.grpcServerInterceptor] });
    server.addService(Greeter.service, {
      SayHello(call: grpc.ServerUnaryCall<{ name: string }, { message: string }>, cb: grpc.sendUnaryData<{ message: string }>) {
        cb(null, { message: `hello ${call.request.name}` });
      },
      Count(call: grpc.ServerWritableStream<{ n: number }, { i: number }>) {
        for (let i = 0; i < call.request.n; i++) call.write({ i });
        call.end();
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    closers.push(() => new Promise<void>((r) => server.tryShutdown(() => r())));
    const client = new Greeter(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { interceptors: [tt.grpcClientInterceptor] });
    closers.push(async () => client.close());
    const reply = await new Promise<{ message: string }>((resolve, reject) => {
      (client as unknown as { SayHello: (req: object, cb: (e: Error | null, r: { message: string }) => void) => void })
        .SayHello({ name: 'old' }, (err, r) => (err ? reject(err) : resolve(r)));
    });
    assert.equal(reply.message, 'hello old');
    const counted = await new Promise<number[]>((resolve, reject) => {
      const got: number[] = [];
      (client as unknown as { Count: (req: object) => NodeJS.ReadableStream }).Count({ n: 3 })
        .on('data', (m: { i: number }) => got.push(m.i)).on('end', () => resolve(got)).on('error', reject);
    });
    assert.deepEqual(counted, [0, 1, 2]);
  });

  test('nothing is opened, recorded or exported; a scrape says why; shutdown resolves', async () => {
    const server = await tt.startMetricsServer({ port: 0 });
    assert.equal(server.url, '', 'no metrics port');
    await server.close();
    const scrape = express().get('/metrics', tt.metricsHandler).listen(0, '127.0.0.1');
    await new Promise<void>((r) => scrape.once('listening', () => r()));
    const res = await fetch(`http://127.0.0.1:${(scrape.address() as AddressInfo).port}/metrics`);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), `${unsupportedNodeMessage('20.20.2')}\n`);
    scrape.closeAllConnections();
    await new Promise<void>((r) => scrape.close(() => r()));

    assert.deepEqual(tt.logMixin(), {});
    assert.equal(tt.tracing.disabled, true);
    assert.equal(tt.tracing.isSampled(), false);
    assert.deepEqual(tt.tracing.currentTraceIds(), {});
    assert.equal(tt.tracing.stats().exported, 0);
    tt.metrics.httpServer('GET', '/x', 200, 0.01);
    assert.equal((await tt.metrics.render()).body, '');
    assert.equal(tt.profiler.handler()({} as never, {} as never), false);
    assert.deepEqual(await tt.profiler.capture('endpoint'), { status: 'disabled', reason: unsupportedNodeMessage('20.20.2') });
    await tt.shutdown();
    await tt.shutdown(10);
  });
});
