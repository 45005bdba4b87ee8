// Shutdown keeps its promise: `await tt.shutdown()` delivers what is queued and resolves within
// its timeout, also when nothing else keeps the event loop alive (a CLI, a batch job, a gRPC
// client script); shutdownOnSignal flushes on SIGTERM/SIGINT and lets the signal end the process.
// Each case is a child process with no other handles, exporting to a real OTLP/HTTP receiver
// here, calling a real gRPC server here.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { decodeBody } from '../../tracing/test/otlp-decode.ts';

interface Received { names: string[]; requests: number }

/** OTLP/HTTP receiver (protobuf or JSON): span names in arrival order. `hang` never answers. */
async function startReceiver(): Promise<{ url: string; got: Received; hang: boolean; server: Server }> {
  const r = { url: '', got: { names: [] as string[], requests: 0 }, hang: false, server: undefined as unknown as Server };
  r.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.got.requests++;
      if (r.hang) return;
      const body = decodeBody(req.headers['content-type'], Buffer.concat(chunks));
      for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) r.got.names.push(s.name);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', () => resolve()));
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}`;
  return r;
}

// A gRPC service without a .proto: JSON on the wire, the same definition on both sides.
const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown };
const ECHO = {
  Echo: { path: '/demo.Echo/Echo', requestStream: false, responseStream: false,
    requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
};

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

function run(kind: 'esm' | 'cjs', script: string, env: Record<string, string>, onStdout?: (text: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  const args = kind === 'esm' ? ['--input-type=module', '-e', script] : ['--input-type=commonjs', '-e', script];
  const t0 = performance.now();
  // A long schedule delay: what arrives was delivered by the shutdown or the flush, not the timer.
  const childEnv = { ...process.env, OTEL_BSP_SCHEDULE_DELAY: '30000', ...env };
  const child = spawn(process.execPath, [...process.execArgv, ...args], { cwd: import.meta.dirname, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    onStdout?.(stdout, (s) => child.kill(s));
  });
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      setImmediate(() => resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 }));
    });
  });
}

let grpcServer: grpc.Server;
let grpcAddr = '';
before(async () => {
  grpcServer = new grpc.Server();
  grpcServer.addService(ECHO, { Echo: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, call.request) });
  const port = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  grpcAddr = `127.0.0.1:${port}`;
});
after(() => {
  grpcServer.forceShutdown();
});

const ECHO_SRC = `{ Echo: { path: '/demo.Echo/Echo', requestStream: false, responseStream: false,
  requestSerialize: (v) => Buffer.from(JSON.stringify(v)), requestDeserialize: (b) => JSON.parse(b.toString()),
  responseSerialize: (v) => Buffer.from(JSON.stringify(v)), responseDeserialize: (b) => JSON.parse(b.toString()) } }`;

/** The script of the issue: three gRPC calls, the client closed, then `await tt.shutdown()`; nothing else alive. */
function grpcScript(kind: 'esm' | 'cjs', finish: string): string {
  const imports = kind === 'esm'
    ? `import * as grpc from '@grpc/grpc-js'; import { instrument } from '@tailtrace/instrument';`
    : `const grpc = require('@grpc/grpc-js'); const { instrument } = require('@tailtrace/instrument');`;
  return `${imports}
    const tt = instrument({ serviceName: 'cli-${kind}', quiet: true, heapProfile: false, evidence: false });
    const Client = grpc.makeGenericClientConstructor(${ECHO_SRC});
    const client = new Client(process.env.GRPC_ADDR, grpc.credentials.createInsecure(), { interceptors: [tt.grpcClientInterceptor] });
    const call = (i) => new Promise((res, rej) => client.Echo({ i }, (e, r) => (e ? rej(e) : res(r))));
    const main = async () => {
      for (let i = 0; i < 3; i++) await call(i);
      client.close();
      ${finish}
    };
  `;
}

const AWAITED = `const t0 = Date.now(); await tt.shutdown(4000); console.log('resolved after ' + (Date.now() - t0) + ' ms');`;

describe('shutdown with nothing else keeping the process alive', () => {
  test('ESM with top-level await: the three gRPC client spans are delivered, the promise resolves, exit 0', async () => {
    const rcv = await startReceiver();
    try {
      const r = await run('esm', `${grpcScript('esm', AWAITED)} await main();`, { OTEL_EXPORTER_OTLP_ENDPOINT: rcv.url, GRPC_ADDR: grpcAddr });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /resolved after \d+ ms/);
      assert.ok(!r.stderr.includes('unsettled top-level await'), r.stderr);
      assert.deepEqual(rcv.got.names, ['demo.Echo/Echo', 'demo.Echo/Echo', 'demo.Echo/Echo']);
    } finally {
      rcv.server.close();
    }
  });

  test('CommonJS: the spans are delivered and the promise resolves before the process ends', async () => {
    const rcv = await startReceiver();
    try {
      const r = await run('cjs', `${grpcScript('cjs', AWAITED)} main();`, { OTEL_EXPORTER_OTLP_ENDPOINT: rcv.url, GRPC_ADDR: grpcAddr });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /resolved after \d+ ms/);
      assert.equal(rcv.got.names.length, 3);
    } finally {
      rcv.server.close();
    }
  });

  test('shutdown in beforeExit: the spans are delivered, exit 0', async () => {
    const rcv = await startReceiver();
    try {
      const finish = `process.once('beforeExit', () => { tt.shutdown(4000).then(() => console.log('flushed')); });`;
      const r = await run('esm', `${grpcScript('esm', finish)} await main();`, { OTEL_EXPORTER_OTLP_ENDPOINT: rcv.url, GRPC_ADDR: grpcAddr });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /flushed/);
      assert.equal(rcv.got.names.length, 3);
    } finally {
      rcv.server.close();
    }
  });

  test('a Collector that never answers: shutdown still resolves within its timeout and the process ends', async () => {
    const rcv = await startReceiver();
    rcv.hang = true;
    try {
      const finish = `const t0 = Date.now(); await tt.shutdown(800); console.log('resolved after ' + (Date.now() - t0) + ' ms');`;
      const r = await run('esm', `${grpcScript('esm', finish)} await main();`, { OTEL_EXPORTER_OTLP_ENDPOINT: rcv.url, GRPC_ADDR: grpcAddr });
      assert.equal(r.code, 0, r.stderr);
      const took = Number(/resolved after (\d+) ms/.exec(r.stdout)?.[1]);
      assert.ok(took >= 700 && took < 1500, `shutdown(800) took ${took} ms`);
      assert.ok(rcv.got.requests >= 1, 'the export was attempted');
    } finally {
      rcv.server.closeAllConnections();
      rcv.server.close();
    }
  });
});

/** A service that waits (a listening server keeps it alive) after making its spans. */
function serviceScript(opts: string, appHandler: string): string {
  return `
    import http from 'node:http';
    import { instrument } from '@tailtrace/instrument';
    const tt = instrument({ serviceName: 'svc', quiet: true, heapProfile: false, evidence: false, ${opts} });
    ${appHandler}
    for (let i = 0; i < 3; i++) tt.tracing.tracer.startSpan('job-' + i).end();
    http.createServer().listen(0, '127.0.0.1', () => console.log('ready'));
  `;
}

describe('shutdownOnSignal', () => {
  const cases: Array<[string, string, Record<string, string>, NodeJS.Signals]> = [
    ['option shutdownOnSignal: true, SIGTERM', 'shutdownOnSignal: true', {}, 'SIGTERM'],
    ['env TAILTRACE_SHUTDOWN_ON_SIGNAL=1, SIGINT', '', { TAILTRACE_SHUTDOWN_ON_SIGNAL: '1' }, 'SIGINT'],
  ];
  for (const [name, opts, env, signal] of cases) {
    test(`${name}: queued spans are delivered, then the signal ends the process as it would have`, async () => {
      const rcv = await startReceiver();
      try {
        const r = await run('esm', serviceScript(opts, ''), { OTEL_EXPORTER_OTLP_ENDPOINT: rcv.url, ...env }, (out, kill) => {
          if (out.includes('ready')) kill(signal);
        });
        assert.equal(r.signal, signal, `exit ${r.code} ${r.signal}: ${r.stderr}`);
        assert.deepEqual([...rcv.got.names].sort(), ['job-0', 'job-1', 'job-2']);
      } finally {
        rcv.server.close();
      }
    });
  }

  test('an application with its own SIGTERM handler stays in charge: spans flushed, its exit code kept', async () => {
    const rcv = await startReceiver();
    try {
      const app = `process.on('SIGTERM', () => setTimeout(() => { console.log('app exits'); process.exit(7); }, 1000));`;
      const r = await run('esm', serviceScript('shutdownOnSignal: true', app), { OTEL_EXPORTER_OTLP_ENDPOINT: rcv.url }, (out, kill) => {
        if (out.endsWith('ready\n')) kill('SIGTERM');
      });
      assert.equal(r.code, 7, `exit ${r.code} ${r.signal}: ${r.stderr}`);
      assert.match(r.stdout, /app exits/);
      assert.equal(rcv.got.names.length, 3, 'flushed before the application exited');
    } finally {
      rcv.server.close();
    }
  });

  test('off by default: SIGTERM ends the process at once, as without tailtrace', async () => {
    const rcv = await startReceiver();
    try {
      const r = await run('esm', serviceScript('', ''), { OTEL_EXPORTER_OTLP_ENDPOINT: rcv.url }, (out, kill) => {
        if (out.includes('ready')) kill('SIGTERM');
      });
      assert.equal(r.signal, 'SIGTERM');
    } finally {
      rcv.server.close();
    }
  });
});
