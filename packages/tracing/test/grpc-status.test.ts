// gRPC as the peer saw it: final statuses (OK, handler error, client cancel, deadline exceeded,
// UNAVAILABLE) for all four call types, message counts per direction, per-message events as an
// option, and server.address / server.port from every target form grpc-js accepts. Real grpc-js
// server and clients on 127.0.0.1; targets that cannot connect here fail as they would anywhere.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import { loadEcho, setup, startGrpcServer, stopGrpcServer, waitFor } from './helpers.ts';
import type { Harness, Msg } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const S = grpc.status;

// Ended spans, synchronously (span.end() runs before the OperationRecord is emitted).
const ended: ReadableSpan[] = [];
const collector: SpanProcessor = {
  onStart() {},
  onEnd(span) {
    ended.push(span);
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

/** Blocks the event loop (bounded): grpc-js's own deadline timer cannot run meanwhile. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

// Behaviour per request: text = messages to send (server stream), delay_ms = wait before
// answering (between messages for server streams), fail_code = final status, and
// trace_id = 'busy' to answer after blocking the loop past the deadline.
const impl: grpc.UntypedServiceImplementation = {
  Unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    const m = call.request;
    if (m.trace_id === 'busy') {
      busy(m.delay_ms ?? 0);
      cb(null, { text: 'late' });
      return;
    }
    void sleep(m.delay_ms ?? 0).then(() => (m.fail_code ? cb({ code: m.fail_code, details: 'requested failure' }) : cb(null, { text: m.text })));
  },
  ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
    void (async () => {
      const m = call.request;
      const n = Number(m.text || 3);
      for (let i = 0; i < n && !call.cancelled; i++) {
        call.write({ text: String(i) });
        if (m.delay_ms) await sleep(m.delay_ms);
      }
      if (call.cancelled) return;
      if (m.fail_code) call.emit('error', { code: m.fail_code, details: 'requested failure' });
      else call.end();
    })();
  },
  ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    let n = 0;
    let first: Msg | undefined;
    call.on('data', (m: Msg) => {
      first ??= m;
      n++;
    });
    call.on('end', () => {
      void sleep(first?.delay_ms ?? 0).then(() => (first?.fail_code ? cb({ code: first.fail_code, details: 'requested failure' }) : cb(null, { text: String(n) })));
    });
  },
  Bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
    let first: Msg | undefined;
    call.on('data', (m: Msg) => {
      first ??= m;
      call.write(m);
    });
    call.on('end', () => {
      const finish = () => (first?.fail_code ? call.emit('error', { code: first.fail_code, details: 'requested failure' }) : call.end());
      // trace_id 'sync' answers the half-close at once, as many handlers do.
      if (first?.trace_id === 'sync') finish();
      else void sleep(first?.delay_ms ?? 1).then(() => (call.cancelled ? undefined : finish()));
    });
  },
};

type EchoClient = InstanceType<ReturnType<typeof loadEcho>['Client']>;

interface Outcome {
  client: ReadableSpan;
  server: ReadableSpan | undefined;
}

/**
 * How the server is traced: by the server interceptor alone, or with its unary handlers wrapped
 * by grpcService() (the interceptor, still installed, then traces only the streaming methods).
 */
type ServerMode = 'interceptor' | 'grpcService';

function harnessFor(opts: { grpcMessageEvents?: boolean }, mode: ServerMode = 'interceptor') {
  const ctx = {
    h: undefined as unknown as Harness,
    server: undefined as unknown as grpc.Server,
    port: 0,
    client: undefined as unknown as EchoClient,
  };
  before(async () => {
    ctx.h = setup({ httpClient: false, exporter: 'none', spanProcessors: [collector], ...opts });
    const served = mode === 'grpcService' ? ctx.h.tracing.grpcService(loadEcho().service, impl) : impl;
    ({ server: ctx.server, port: ctx.port } = await startGrpcServer([ctx.h.tracing.grpcServerInterceptor], served));
    ctx.client = newClient(`127.0.0.1:${ctx.port}`, ctx.h);
  });
  after(async () => {
    ctx.client.close();
    await stopGrpcServer(ctx.server);
    await ctx.h.close();
  });
  return ctx;
}

function newClient(target: string, h: Harness): EchoClient {
  const { Client } = loadEcho();
  return new Client(target, grpc.credentials.createInsecure(), { interceptors: [h.tracing.grpcClientInterceptor] });
}

/** Runs one call and returns its client span and (when the call reached the server) server span. */
async function outcome(h: Harness, run: () => Promise<unknown>, expectServer = true): Promise<Outcome> {
  ended.length = 0;
  h.records.length = 0;
  await run().catch(() => undefined);
  await waitFor(() => h.records.filter((r) => r.kind === 'rpc_client').length === 1 && (!expectServer || h.records.some((r) => r.kind === 'rpc_server')));
  const client = ended.find((s) => s.kind === SpanKind.CLIENT);
  const server = ended.find((s) => s.kind === SpanKind.SERVER);
  assert.ok(client, 'client span');
  if (expectServer) assert.ok(server, 'server span');
  return { client, server };
}

function assertStatus(span: ReadableSpan | undefined, code: number, side: string, h: Harness): void {
  assert.ok(span, side);
  assert.equal(span.attributes['rpc.grpc.status_code'], code, `${side} status code`);
  const rec = h.records.find((r) => r.kind === (side === 'client' ? 'rpc_client' : 'rpc_server'));
  assert.equal(rec?.grpcStatusCode, code, `${side} metric status`);
  if (code === 0) {
    assert.equal(span.status.code, SpanStatusCode.UNSET, side);
  } else {
    assert.equal(span.status.code, SpanStatusCode.ERROR, side);
    assert.notEqual(span.status.message, 'OK', `${side}: an error status never carries "OK"`);
    assert.ok((span.status.message ?? '') !== '', `${side}: error message`);
    assert.equal(span.attributes['error.type'], grpc.status[code], side);
  }
}

function assertCounts(span: ReadableSpan | undefined, sent: number, received: number, side: string): void {
  assert.equal(span?.attributes['rpc.grpc.messages_sent'], sent, `${side} messages sent`);
  assert.equal(span?.attributes['rpc.grpc.messages_received'], received, `${side} messages received`);
}

function unary(c: EchoClient, m: Msg, opts: grpc.CallOptions = {}): Promise<Msg> {
  return new Promise((resolve, reject) => c.Unary(m, new grpc.Metadata(), opts, (e, r) => (e ? reject(e) : resolve(r ?? {}))));
}
function serverStream(c: EchoClient, m: Msg, opts: grpc.CallOptions = {}, cancelAfter?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = c.ServerStream(m, opts);
    let n = 0;
    call.on('data', () => {
      if (++n === cancelAfter) call.cancel();
    });
    call.on('error', reject);
    call.on('end', () => resolve(n));
  });
}
function clientStream(c: EchoClient, msgs: Msg[], opts: { end?: boolean; cancel?: boolean; deadline?: number } = {}): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const call = (c as unknown as { ClientStream(md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Msg) => void): grpc.ClientWritableStream<Msg> })
      .ClientStream(new grpc.Metadata(), opts.deadline === undefined ? {} : { deadline: Date.now() + opts.deadline }, (e, r) => (e ? reject(e) : resolve(r ?? {})));
    for (const m of msgs) call.write(m);
    if (opts.cancel === true) setTimeout(() => call.cancel(), 30);
    else if (opts.end !== false) call.end();
  });
}
function bidi(c: EchoClient, msgs: Msg[], opts: { end?: boolean; cancelAfterEcho?: boolean; endThenCancel?: boolean; deadline?: number } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = (c as unknown as { Bidi(o: grpc.CallOptions): grpc.ClientDuplexStream<Msg, Msg> }).Bidi(opts.deadline === undefined ? {} : { deadline: Date.now() + opts.deadline });
    let n = 0;
    call.on('data', () => {
      n++;
      if (opts.cancelAfterEcho === true && n === msgs.length) {
        if (opts.endThenCancel === true) call.end();
        call.cancel();
      }
    });
    call.on('error', reject);
    call.on('end', () => resolve(n));
    for (const m of msgs) call.write(m);
    if (opts.end !== false && opts.cancelAfterEcho !== true) call.end();
  });
}

for (const mode of ['interceptor', 'grpcService'] as const) describe(`statuses and message counts, four call types (server traced by ${mode})`, () => {
  const ctx = harnessFor({}, mode);

  test('unary OK: one message each way, no per-message events by default', async () => {
    const o = await outcome(ctx.h, () => unary(ctx.client, { text: 'hi' }));
    assertStatus(o.client, S.OK, 'client', ctx.h);
    assertStatus(o.server, S.OK, 'server', ctx.h);
    assertCounts(o.client, 1, 1, 'client');
    assertCounts(o.server, 1, 1, 'server');
    assert.equal(o.client.events.filter((e) => e.name === 'rpc.message').length, 0);
  });
  test('unary handler error', async () => {
    const o = await outcome(ctx.h, () => unary(ctx.client, { fail_code: S.NOT_FOUND }));
    for (const [side, s] of [['client', o.client], ['server', o.server]] as const) {
      assertStatus(s, S.NOT_FOUND, side, ctx.h);
      assert.equal(s?.status.message, 'requested failure');
    }
  });
  test('unary client cancel', async () => {
    const o = await outcome(ctx.h, async () => {
      const call = ctx.client.Unary({ delay_ms: 300 }, () => {});
      await sleep(40);
      call.cancel();
    });
    assertStatus(o.client, S.CANCELLED, 'client', ctx.h);
    assertStatus(o.server, S.CANCELLED, 'server', ctx.h);
    await sleep(300);
  });
  test('unary deadline exceeded while the handler waits', async () => {
    const o = await outcome(ctx.h, () => unary(ctx.client, { delay_ms: 300 }, { deadline: Date.now() + 60 }));
    assertStatus(o.client, S.DEADLINE_EXCEEDED, 'client', ctx.h);
    assertStatus(o.server, S.DEADLINE_EXCEEDED, 'server', ctx.h);
    await sleep(300);
  });
  test('unary deadline exceeded by a handler that answers OK late (before grpc-js\'s timer ran): not "OK"', async () => {
    const o = await outcome(ctx.h, () => unary(ctx.client, { trace_id: 'busy', delay_ms: 120 }, { deadline: Date.now() + 40 }));
    assertStatus(o.server, S.DEADLINE_EXCEEDED, 'server', ctx.h);
    assert.equal(o.server?.status.message, 'Deadline exceeded');
  });

  test('server stream of 64 messages: counted per direction on both sides', async () => {
    const o = await outcome(ctx.h, async () => assert.equal(await serverStream(ctx.client, { text: '64' }), 64));
    assertStatus(o.client, S.OK, 'client', ctx.h);
    assertStatus(o.server, S.OK, 'server', ctx.h);
    assertCounts(o.client, 1, 64, 'client');
    assertCounts(o.server, 64, 1, 'server');
  });
  test('server stream handler error after 2 messages', async () => {
    const o = await outcome(ctx.h, () => serverStream(ctx.client, { text: '2', fail_code: S.RESOURCE_EXHAUSTED }));
    assertStatus(o.client, S.RESOURCE_EXHAUSTED, 'client', ctx.h);
    assertStatus(o.server, S.RESOURCE_EXHAUSTED, 'server', ctx.h);
    assertCounts(o.client, 1, 2, 'client');
    assertCounts(o.server, 2, 1, 'server');
  });
  test('server stream client cancel after the first message', async () => {
    const o = await outcome(ctx.h, () => serverStream(ctx.client, { text: '50', delay_ms: 20 }, {}, 1));
    assertStatus(o.client, S.CANCELLED, 'client', ctx.h);
    assertStatus(o.server, S.CANCELLED, 'server', ctx.h);
    await sleep(50);
  });
  test('server stream deadline exceeded', async () => {
    const o = await outcome(ctx.h, () => serverStream(ctx.client, { text: '50', delay_ms: 20 }, { deadline: Date.now() + 90 }));
    assertStatus(o.client, S.DEADLINE_EXCEEDED, 'client', ctx.h);
    assertStatus(o.server, S.DEADLINE_EXCEEDED, 'server', ctx.h);
    await sleep(50);
  });

  test('client stream OK: 5 messages up, 1 down', async () => {
    const o = await outcome(ctx.h, async () => assert.equal((await clientStream(ctx.client, Array.from({ length: 5 }, () => ({ text: 'x' })))).text, '5'));
    assertStatus(o.client, S.OK, 'client', ctx.h);
    assertStatus(o.server, S.OK, 'server', ctx.h);
    assertCounts(o.client, 5, 1, 'client');
    assertCounts(o.server, 1, 5, 'server');
  });
  test('client stream handler error', async () => {
    const o = await outcome(ctx.h, () => clientStream(ctx.client, [{ fail_code: S.INVALID_ARGUMENT }, {}]));
    assertStatus(o.client, S.INVALID_ARGUMENT, 'client', ctx.h);
    assertStatus(o.server, S.INVALID_ARGUMENT, 'server', ctx.h);
    assertCounts(o.server, 0, 2, 'server');
  });
  test('client stream client cancel', async () => {
    const o = await outcome(ctx.h, () => clientStream(ctx.client, [{ text: 'a' }, { text: 'b' }], { cancel: true }));
    assertStatus(o.client, S.CANCELLED, 'client', ctx.h);
    assertStatus(o.server, S.CANCELLED, 'server', ctx.h);
  });
  test('client stream deadline exceeded (never half-closed)', async () => {
    const o = await outcome(ctx.h, () => clientStream(ctx.client, [{ text: 'a' }], { end: false, deadline: 60 }));
    assertStatus(o.client, S.DEADLINE_EXCEEDED, 'client', ctx.h);
    assertStatus(o.server, S.DEADLINE_EXCEEDED, 'server', ctx.h);
  });

  test('bidi OK: 4 messages each way', async () => {
    const o = await outcome(ctx.h, async () => assert.equal(await bidi(ctx.client, Array.from({ length: 4 }, () => ({ text: 'x' }))), 4));
    assertStatus(o.client, S.OK, 'client', ctx.h);
    assertStatus(o.server, S.OK, 'server', ctx.h);
    assertCounts(o.client, 4, 4, 'client');
    assertCounts(o.server, 4, 4, 'server');
  });
  test('bidi handler error', async () => {
    const o = await outcome(ctx.h, () => bidi(ctx.client, [{ fail_code: S.ABORTED }]));
    assertStatus(o.client, S.ABORTED, 'client', ctx.h);
    assertStatus(o.server, S.ABORTED, 'server', ctx.h);
  });
  test('bidi client cancel mid-stream: the handler ends after the cancellation, cancellation wins', async () => {
    const o = await outcome(ctx.h, () => bidi(ctx.client, [{ text: 'a', delay_ms: 30 }, { text: 'b' }], { cancelAfterEcho: true }));
    assertStatus(o.client, S.CANCELLED, 'client', ctx.h);
    assertStatus(o.server, S.CANCELLED, 'server', ctx.h);
    await sleep(50);
  });
  test('bidi client end then cancel, answered by a handler that ends at once on the half-close', {
    todo: 'the half-close a cancel sends arrives before its RST_STREAM and the status the handler sends then is indistinguishable, at the interceptor API, from one the client received',
  }, async () => {
    const o = await outcome(ctx.h, () => bidi(ctx.client, [{ text: 'a', trace_id: 'sync' }], { cancelAfterEcho: true, endThenCancel: true }));
    assertStatus(o.client, S.CANCELLED, 'client', ctx.h);
    assertStatus(o.server, S.CANCELLED, 'server', ctx.h);
  });
  test('bidi deadline exceeded (never half-closed)', async () => {
    const o = await outcome(ctx.h, () => bidi(ctx.client, [{ text: 'a' }], { end: false, deadline: 60 }));
    assertStatus(o.client, S.DEADLINE_EXCEEDED, 'client', ctx.h);
    assertStatus(o.server, S.DEADLINE_EXCEEDED, 'server', ctx.h);
  });

  test('UNAVAILABLE before connecting, all four call types: server.address and server.port from the target', async () => {
    const dead = newClient(`localhost:1`, ctx.h);
    try {
      const runs: Array<[string, () => Promise<unknown>]> = [
        ['unary', () => unary(dead, {})],
        ['server stream', () => serverStream(dead, {})],
        ['client stream', () => clientStream(dead, [{}])],
        ['bidi', () => bidi(dead, [{}])],
      ];
      for (const [name, run] of runs) {
        const o = await outcome(ctx.h, run, false);
        assertStatus(o.client, S.UNAVAILABLE, 'client', ctx.h);
        assert.equal(o.client.attributes['server.address'], 'localhost', name);
        assert.equal(o.client.attributes['server.port'], 1, name);
        assert.equal(o.client.attributes['network.peer.address'], undefined, name);
        assert.equal(o.server, undefined);
      }
    } finally {
      dead.close();
    }
  });
});

describe('server.address and server.port from every target form', () => {
  const ctx = harnessFor({});
  // [target, address, port, connects]; forms that cannot connect here fail before connecting;
  // undefined: either (grpc-js may resolve with the system resolver when the named DNS server fails).
  const forms = (p: number): Array<[string, string, number | undefined, boolean | undefined]> => [
    [`127.0.0.1:${p}`, '127.0.0.1', p, true],
    [`localhost:${p}`, 'localhost', p, true],
    [`dns:localhost:${p}`, 'localhost', p, true],
    [`dns:///localhost:${p}`, 'localhost', p, true],
    [`dns:127.0.0.1:${p}`, '127.0.0.1', p, true],
    [`ipv4:127.0.0.1:${p}`, '127.0.0.1', p, true],
    [`ipv4:127.0.0.1:${p},127.0.0.1:1`, '127.0.0.1', p, true],
    [`dns://127.0.0.1:1/localhost:${p}`, 'localhost', p, undefined],
    ['ipv4:127.0.0.1', '127.0.0.1', 443, false],
    [`ipv6:[::1]:${p}`, '::1', p, false],
    ['ipv6:::1', '::1', 443, false],
    [`[::1]:${p}`, '::1', p, false],
    ['localhost', 'localhost', 443, false],
    ['unix:/tmp/tailtrace-no-such.sock', '/tmp/tailtrace-no-such.sock', undefined, false],
    ['unix:///tmp/tailtrace-no-such.sock', '/tmp/tailtrace-no-such.sock', undefined, false],
    ['unix:relative-no-such.sock', 'relative-no-such.sock', undefined, false],
  ];
  test('each form', async () => {
    for (const [target, address, port, connects] of forms(ctx.port)) {
      const c = newClient(target, ctx.h);
      try {
        const o = await outcome(ctx.h, () => unary(c, { text: 't' }, { deadline: Date.now() + 2000 }), connects === true);
        assert.equal(o.client.attributes['server.address'], address, target);
        assert.equal(o.client.attributes['server.port'], port, target);
        if (connects === undefined) continue;
        if (connects) {
          assertStatus(o.client, S.OK, 'client', ctx.h);
          assert.equal(o.client.attributes['network.peer.address'], '127.0.0.1', target);
          assert.equal(o.client.attributes['network.peer.port'], ctx.port, target);
        } else {
          assert.notEqual(o.client.attributes['rpc.grpc.status_code'], S.OK, target);
        }
      } finally {
        c.close();
      }
    }
  });
});

for (const mode of ['interceptor', 'grpcService'] as const) describe(`per-message events (grpcMessageEvents: true; ${mode})`, () => {
  const ctx = harnessFor({ grpcMessageEvents: true }, mode);
  test('rpc.message events with type and id per direction on both sides', async () => {
    const o = await outcome(ctx.h, () => bidi(ctx.client, [{ text: '1' }, { text: '2' }, { text: '3' }]));
    for (const [side, span] of [['client', o.client], ['server', o.server]] as const) {
      const events = span?.events.filter((e) => e.name === 'rpc.message') ?? [];
      const of = (type: string) => events.filter((e) => e.attributes?.['rpc.message.type'] === type).map((e) => e.attributes?.['rpc.message.id']);
      assert.deepEqual(of('SENT'), [1, 2, 3], side);
      assert.deepEqual(of('RECEIVED'), [1, 2, 3], side);
      assertCounts(span, 3, 3, side);
    }
  });
  test('unary: one rpc.message event each way on both sides', async () => {
    const o = await outcome(ctx.h, () => unary(ctx.client, { text: 'one' }));
    for (const [side, span] of [['client', o.client], ['server', o.server]] as const) {
      const events = span?.events.filter((e) => e.name === 'rpc.message') ?? [];
      assert.deepEqual(events.map((e) => [e.attributes?.['rpc.message.type'], e.attributes?.['rpc.message.id']]).sort(), [['RECEIVED', 1], ['SENT', 1]], side);
    }
  });
});
