import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { loadEcho, setup, startGrpcServer, stopGrpcServer, unary, waitFor } from './helpers.ts';
import type { Harness, Msg } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the handler sees as its active span, after an await (so context really propagates). */
async function activeIds(): Promise<Msg> {
  await sleep(1);
  const sc = trace.getActiveSpan()?.spanContext();
  return { trace_id: sc?.traceId ?? '', parent_span_id: sc?.spanId ?? '' };
}

const impl: grpc.UntypedServiceImplementation = {
  Unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    void (async () => {
      const req = call.request;
      if (req.delay_ms) await sleep(req.delay_ms);
      if (req.fail_code) return cb({ code: req.fail_code, details: 'requested failure' });
      cb(null, { text: req.text, ...(await activeIds()) });
    })();
  },
  ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
    void (async () => {
      for (let i = 0; i < 3 && !call.cancelled; i++) {
        call.write({ text: String(i), ...(await activeIds()) });
        if (call.request.delay_ms) await sleep(call.request.delay_ms);
      }
      if (!call.cancelled) call.end();
    })();
  },
  ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
    const texts: string[] = [];
    let inData = '';
    call.on('data', (m: Msg) => {
      texts.push(m.text ?? '');
      inData = trace.getActiveSpan()?.spanContext().spanId ?? '';
    });
    call.on('end', () => void activeIds().then((ids) => cb(null, { text: texts.join('+'), trace_id: ids.trace_id, parent_span_id: inData })));
  },
  Bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
    call.on('data', (m: Msg) => {
      const sc = trace.getActiveSpan()?.spanContext();
      call.write({ text: m.text, trace_id: sc?.traceId ?? '', parent_span_id: sc?.spanId ?? '' });
    });
    call.on('end', () => call.end());
  },
};

// The server traced by its interceptor alone, or with its unary handlers wrapped by grpcService().
for (const mode of ['interceptor', 'grpcService'] as const) describe(`gRPC interceptors (server: ${mode})`, () => {
  let h: Harness;
  let server: grpc.Server;
  let client: ReturnType<typeof makeClient>;
  let plain: ReturnType<typeof makeClient>;
  let port: number;
  const { Client } = loadEcho();
  const makeClient = (interceptors: grpc.Interceptor[]) =>
    new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { interceptors });

  before(async () => {
    h = setup({ httpClient: false });
    const served = mode === 'grpcService' ? h.tracing.grpcService(loadEcho().service, impl) : impl;
    ({ server, port } = await startGrpcServer([h.tracing.grpcServerInterceptor], served));
    client = makeClient([h.tracing.grpcClientInterceptor]);
    plain = makeClient([]);
  });
  after(async () => {
    client.close();
    plain.close();
    await stopGrpcServer(server);
    await h.close();
  });

  async function collect(n: number): Promise<{ cs: ReadableSpan; ss: ReadableSpan }> {
    await waitFor(() => h.records.length >= n);
    const spans = await h.spans();
    const cs = spans.find((s) => s.kind === SpanKind.CLIENT);
    const ss = spans.find((s) => s.kind === SpanKind.SERVER);
    assert.ok(cs && ss, `client and server span, got ${spans.map((s) => s.name)}`);
    return { cs, ss };
  }
  function reset() {
    h.exporter.reset();
    h.records.length = 0;
  }

  test('unary: names, kinds, parent/child, attributes, records, handler context', async () => {
    reset();
    const res = await unary(client, { text: 'hi' });
    const { cs, ss } = await collect(2);
    assert.equal(cs.name, 'demo.v1.Echo/Unary');
    assert.equal(ss.name, 'demo.v1.Echo/Unary');
    assert.equal(ss.parentSpanContext?.spanId, cs.spanContext().spanId);
    assert.equal(ss.spanContext().traceId, cs.spanContext().traceId);
    for (const s of [cs, ss]) {
      assert.equal(s.attributes['rpc.system'], 'grpc');
      assert.equal(s.attributes['rpc.service'], 'demo.v1.Echo');
      assert.equal(s.attributes['rpc.method'], 'Unary');
      assert.equal(s.attributes['rpc.grpc.status_code'], 0);
      assert.equal(s.status.code, SpanStatusCode.UNSET);
    }
    assert.equal(cs.attributes['server.address'], '127.0.0.1');
    assert.equal(cs.attributes['server.port'], port);
    // The handler ran (even after an await) with the server span active.
    assert.equal(res.parent_span_id, ss.spanContext().spanId);
    const kinds = h.records.map((r) => r.kind).sort();
    assert.deepEqual(kinds, ['rpc_client', 'rpc_server']);
    for (const r of h.records) {
      assert.equal(r.rpcService, 'demo.v1.Echo');
      assert.equal(r.rpcMethod, 'Unary');
      assert.equal(r.grpcStatusCode, 0);
      assert.equal(r.traceId, cs.spanContext().traceId);
    }
  });

  test('client callback runs in the caller context', async () => {
    reset();
    const outer = h.tracing.tracer.startSpan('outer');
    const seen = await new Promise<string | undefined>((resolve) => {
      context.with(trace.setSpan(ROOT_CONTEXT, outer), () => {
        client.Unary({ text: 'x' }, () => resolve(trace.getActiveSpan()?.spanContext().spanId));
      });
    });
    outer.end();
    assert.equal(seen, outer.spanContext().spanId);
    const { cs } = await collect(2);
    assert.equal(cs.parentSpanContext?.spanId, outer.spanContext().spanId);
  });

  test('server streaming: handler writes inside the server span', async () => {
    reset();
    const msgs: Msg[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.ServerStream({ text: 's' });
      call.on('data', (m: Msg) => msgs.push(m));
      call.on('error', reject);
      call.on('end', () => resolve());
    });
    const { cs, ss } = await collect(2);
    assert.equal(msgs.length, 3);
    assert.equal(cs.name, 'demo.v1.Echo/ServerStream');
    assert.equal(ss.parentSpanContext?.spanId, cs.spanContext().spanId);
    for (const m of msgs) assert.equal(m.parent_span_id, ss.spanContext().spanId);
  });

  test('client streaming: data events run inside the server span', async () => {
    reset();
    const res = await new Promise<Msg>((resolve, reject) => {
      const call = client.ClientStream((e, r) => (e ? reject(e) : resolve(r ?? {})));
      call.write({ text: 'a' });
      call.write({ text: 'b' });
      call.end();
    });
    const { cs, ss } = await collect(2);
    assert.equal(res.text, 'a+b');
    assert.equal(cs.name, 'demo.v1.Echo/ClientStream');
    assert.equal(ss.parentSpanContext?.spanId, cs.spanContext().spanId);
    assert.equal(res.parent_span_id, ss.spanContext().spanId);
  });

  test('bidi streaming', async () => {
    reset();
    const got: Msg[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.Bidi();
      call.on('data', (m: Msg) => got.push(m));
      call.on('error', reject);
      call.on('end', () => resolve());
      call.write({ text: '1' });
      call.write({ text: '2' });
      call.end();
    });
    const { cs, ss } = await collect(2);
    assert.deepEqual(got.map((m) => m.text), ['1', '2']);
    assert.equal(ss.name, 'demo.v1.Echo/Bidi');
    assert.equal(ss.parentSpanContext?.spanId, cs.spanContext().spanId);
    for (const m of got) assert.equal(m.parent_span_id, ss.spanContext().spanId);
  });

  test('error status -> ERROR with error.type status name on both sides', async () => {
    reset();
    await assert.rejects(unary(client, { fail_code: grpc.status.NOT_FOUND }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    const { cs, ss } = await collect(2);
    for (const s of [cs, ss]) {
      assert.equal(s.status.code, SpanStatusCode.ERROR);
      assert.equal(s.attributes['error.type'], 'NOT_FOUND');
      assert.equal(s.attributes['rpc.grpc.status_code'], 5);
    }
    assert.deepEqual(h.records.map((r) => r.grpcStatusCode), [5, 5]);
  });

  test('deadline exceeded is recorded on client and server', async () => {
    reset();
    await assert.rejects(
      unary(client, { delay_ms: 300 }, { deadline: Date.now() + 60 }),
      (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED,
    );
    const { cs, ss } = await collect(2);
    for (const s of [cs, ss]) {
      assert.equal(s.attributes['error.type'], 'DEADLINE_EXCEEDED', s.name);
      assert.ok(s.events.some((e) => e.name === 'deadline_exceeded'));
      assert.equal(typeof s.attributes['rpc.grpc.deadline_remaining_ms'], 'number');
    }
    assert.deepEqual(h.records.map((r) => r.grpcStatusCode), [4, 4]);
    await sleep(300); // let the late handler finish before the next test
  });

  test('client cancellation is recorded on client and server', async () => {
    reset();
    await new Promise<void>((resolve) => {
      const call = client.ServerStream({ text: 'c', delay_ms: 100 });
      call.once('data', () => call.cancel());
      call.on('error', () => resolve());
      call.on('end', () => resolve());
    });
    const { cs, ss } = await collect(2);
    assert.equal(cs.attributes['error.type'], 'CANCELLED');
    assert.equal(ss.attributes['error.type'], 'CANCELLED');
    assert.ok(ss.events.some((e) => e.name === 'cancelled'));
    await sleep(250);
  });

  test('malformed trace metadata is ignored: new root trace, call succeeds', async () => {
    const bad = [
      'garbage',
      '00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    ];
    for (const tp of bad) {
      reset();
      const md = new grpc.Metadata();
      md.set('traceparent', tp);
      md.set('tracestate', 'a=1,,=broken,' + 'x'.repeat(600));
      md.set('baggage', '%%%;;==,');
      const res = await unary(plain, { text: 'm' }, {}, md);
      assert.equal(res.text, 'm');
      await waitFor(() => h.records.length >= 1);
      const ss = (await h.spans()).find((s) => s.kind === SpanKind.SERVER)!;
      assert.equal(ss.parentSpanContext, undefined, tp);
      assert.notEqual(ss.spanContext().traceId.toLowerCase(), '0af7651916cd43dd8448eb211c80319c');
    }
  });

  test('valid trace metadata from a foreign client is the parent', async () => {
    reset();
    const md = new grpc.Metadata();
    md.set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    md.set('tracestate', 'vendor=abc');
    await unary(plain, { text: 'v' }, {}, md);
    await waitFor(() => h.records.length >= 1);
    const ss = (await h.spans()).find((s) => s.kind === SpanKind.SERVER)!;
    assert.equal(ss.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(ss.parentSpanContext?.spanId, '00f067aa0ba902b7');
    assert.equal(ss.spanContext().traceState?.get('vendor'), 'abc');
  });

  test('several tracestate metadata values are one list; invalid members dropped alone', async () => {
    reset();
    const md = new grpc.Metadata();
    md.set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    md.add('tracestate', 'foo=1, BAD=2');
    md.add('tracestate', 'bar=3,foo=4');
    await unary(plain, { text: 'v' }, {}, md);
    await waitFor(() => h.records.length >= 1);
    const ss = (await h.spans()).find((s) => s.kind === SpanKind.SERVER)!;
    assert.equal(ss.spanContext().traceState?.serialize(), 'foo=1,bar=3');
  });
});

