// Conformance with W3C Trace Context Level 1 (https://www.w3.org/TR/trace-context/) and Level 2's
// random trace-id flag (https://www.w3.org/TR/trace-context-2/), header by header. Cases follow
// the W3C test suite (test/test.py) except where the spec lets a vendor keep the valid members
// of a tracestate instead of discarding it whole (the suite's STRICT_LEVEL 2 cases), which is
// what we do. The last block runs the same rules through a real express server and a real stub.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context, SpanContext } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { SamplingDecision, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Sampler, SamplingResult } from '@opentelemetry/sdk-trace';
import express from 'express';
import type { Request, Response } from 'express';
import { sanitizeTraceState, setTraceStateMember } from '../src/index.ts';
import { buildPropagator } from '../src/propagation.ts';
import { buildSampler } from '../src/sampler.ts';
import { closeServer, listen, setup, waitFor } from './helpers.ts';
import type { Harness } from './helpers.ts';

const T = '0af7651916cd43dd8448eb211c80319c';
const P = 'b7ad6b7169203331';
const TP = `00-${T}-${P}-01`;

let h: Harness;
before(() => {
  h = setup({ httpClient: false });
});
after(async () => {
  await h.close();
});

function extract(headers: Record<string, string | string[]>): SpanContext | undefined {
  return trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers));
}
function injected(ctx: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}
/** What a child span of the extracted context sends downstream. */
function downstream(headers: Record<string, string | string[]>): Record<string, string> {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  const span = h.tracing.tracer.startSpan('child', {}, parent);
  span.end();
  return injected(trace.setSpan(parent, span));
}

describe('traceparent', () => {
  const valid: Array<[string, string, number]> = [
    ['version 00, sampled', TP, 1],
    ['version 00, not sampled', `00-${T}-${P}-00`, 0],
    ['unknown flag bits are accepted and dropped', `00-${T}-${P}-09`, 1],
    ['random flag (Level 2) is kept', `00-${T}-${P}-03`, 3],
    ['future version, same length', `cc-${T}-${P}-01`, 1],
    ['future version with more fields after a dash', `cc-${T}-${P}-01-what-the-future-will-be-like`, 1],
    ['future version: unknown flags are not interpreted', `cc-${T}-${P}-ff-x`, 3],
    ['leading space (OWS)', ` ${TP}`, 1],
    ['leading tab (OWS)', `\t${TP}`, 1],
    ['trailing space (OWS)', `${TP} `, 1],
    ['trailing tab (OWS)', `${TP}\t`, 1],
    ['tabs and spaces on both sides', `\t ${TP} \t`, 1],
  ];
  for (const [name, tp, flags] of valid) {
    test(`accepts: ${name}`, () => {
      const sc = extract({ traceparent: tp });
      assert.equal(sc?.traceId, T);
      assert.equal(sc?.spanId, P);
      assert.equal(sc?.isRemote, true);
      assert.equal(sc?.traceFlags, flags);
    });
  }
  const invalid: Array<[string, string]> = [
    ['version ff', `ff-${T}-${P}-01`],
    ['version 00 with extra data after a dash', `00-${T}-${P}-01-what-the-future-will-be-like`],
    ['version 00 with extra data', `00-${T}-${P}-01.`],
    ['future version with data not after a dash', `cc-${T}-${P}-01.what-the-future-will-be-like`],
    ['future version shorter than 55 characters', `cc-${T}-${P}-1`],
    ['version with illegal characters', `.0-${T}-${P}-01`],
    ['version with illegal characters (2)', `0.-${T}-${P}-01`],
    ['upper-case version', `CC-${T}-${P}-01`],
    ['version too long', `000-${T}-${P}-01`],
    ['version too long (4)', `0000-${T}-${P}-01`],
    ['version too short', `0-${T}-${P}-01`],
    ['all-zero trace-id', `00-${'0'.repeat(32)}-${P}-01`],
    ['trace-id with illegal characters', `00-.${T.slice(1)}-${P}-01`],
    ['trace-id with illegal characters at the end', `00-${T.slice(0, 31)}.-${P}-01`],
    ['upper-case trace-id', `00-${T.toUpperCase()}-${P}-01`],
    ['trace-id too long', `00-${T}3-${P}-01`],
    ['trace-id too short', `00-${T.slice(1)}-${P}-01`],
    ['all-zero parent-id', `00-${T}-${'0'.repeat(16)}-01`],
    ['parent-id with illegal characters', `00-${T}-.${P.slice(1)}-01`],
    ['parent-id with illegal characters at the end', `00-${T}-${P.slice(0, 15)}.-01`],
    ['upper-case parent-id', `00-${T}-${P.toUpperCase()}-01`],
    ['parent-id too long', `00-${T}-${P}7-01`],
    ['parent-id too short', `00-${T}-${P.slice(1)}-01`],
    ['flags with illegal characters', `00-${T}-${P}-.0`],
    ['flags with illegal characters (2)', `00-${T}-${P}-0.`],
    ['upper-case flags', `00-${T}-${P}-0A`],
    ['flags too long', `00-${T}-${P}-001`],
    ['flags too short', `00-${T}-${P}-1`],
    ['wrong delimiter', `00_${T}_${P}_01`],
    ['whitespace other than OWS', `\n${TP}`],
    ['empty', ''],
    ['garbage', 'hello'],
  ];
  for (const [name, tp] of invalid) {
    test(`rejects (trace restarts, tracestate not parsed): ${name}`, () => {
      const ctx = propagation.extract(ROOT_CONTEXT, { traceparent: tp, tracestate: 'foo=1' });
      assert.equal(trace.getSpanContext(ctx), undefined);
      const out = downstream({ traceparent: tp, tracestate: 'foo=1' });
      assert.match(out.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$/);
      assert.notEqual(out.traceparent?.slice(3, 35), T);
      assert.equal(out.tracestate, undefined);
    });
  }
  test('two traceparent values are ambiguous and ignored (also as node:http joins them)', () => {
    assert.equal(extract({ traceparent: [TP, TP] }), undefined);
    assert.equal(extract({ traceparent: `${TP}, ${TP}` }), undefined);
  });
  test('inject writes version 00, lower-case hex, and only the flags this version defines', () => {
    const remote = (traceFlags: number) => trace.setSpanContext(ROOT_CONTEXT, { traceId: T, spanId: P, traceFlags, isRemote: true });
    assert.equal(injected(remote(1)).traceparent, `00-${T}-${P}-01`);
    assert.equal(injected(remote(0)).traceparent, `00-${T}-${P}-00`);
    assert.equal(injected(remote(0xff)).traceparent, `00-${T}-${P}-03`);
    assert.equal(injected(remote(0x08)).traceparent, `00-${T}-${P}-00`);
  });
  test('a received future version leaves as version 00 with our parent-id', () => {
    const out = downstream({ traceparent: `cc-${T}-${P}-01-extra-fields` });
    assert.match(out.traceparent ?? '', new RegExp(`^00-${T}-[0-9a-f]{16}-01$`));
    assert.notEqual(out.traceparent?.slice(36, 52), P);
  });
});

describe('random trace-id flag (Level 2)', () => {
  const random = (out: Record<string, string>) => parseInt(out.traceparent?.slice(53) ?? 'x', 16) & 2;
  test('propagated from a parent that has it', () => {
    assert.equal(random(downstream({ traceparent: `00-${T}-${P}-03` })), 2);
    assert.equal(random(downstream({ traceparent: `00-${T}-${P}-02` })), 2);
  });
  test('not invented for a parent that does not have it', () => {
    assert.equal(random(downstream({ traceparent: `00-${T}-${P}-01` })), 0);
    assert.equal(random(downstream({ traceparent: `00-${T}-${P}-00` })), 0);
  });
  test('set on trace-ids we generate (a new root, and a new root inside a continued trace)', () => {
    const root = h.tracing.tracer.startSpan('root');
    root.end();
    assert.match(injected(trace.setSpan(ROOT_CONTEXT, root)).traceparent ?? '', /-03$/);
    const continued = propagation.extract(ROOT_CONTEXT, { traceparent: `00-${T}-${P}-01` });
    const fresh = h.tracing.tracer.startSpan('fresh', { root: true }, continued);
    fresh.end();
    const out = injected(trace.setSpan(continued, fresh)).traceparent ?? '';
    assert.notEqual(out.slice(3, 35), T);
    assert.match(out, /-03$/);
  });
  test('sampling reads bit 0 only: random-but-unsampled parents give unsampled children', async () => {
    // The default sampler (parentbased_always_on) on a real SDK provider.
    const provider = new TracerProvider({ sampler: buildSampler('parentbased_always_on', 1) });
    const tracer = provider.getTracer('t');
    for (const [flags, sampled] of [['02', false], ['03', true], ['01', true], ['00', false], ['0a', false]] as const) {
      const parent = propagation.extract(ROOT_CONTEXT, { traceparent: `00-${T}-${P}-${flags}` });
      const span = tracer.startSpan('child', {}, parent);
      span.end();
      assert.equal((span.spanContext().traceFlags & 1) === 1, sampled, flags);
      assert.equal(context.with(trace.setSpan(parent, span), () => h.tracing.isSampled()), sampled, flags);
      // The downstream flags: bit 0 from our decision, bit 1 from the parent.
      assert.equal(injected(trace.setSpan(parent, span)).traceparent?.slice(53), `0${(sampled ? 1 : 0) | (parseInt(flags, 16) & 2)}`, flags);
    }
    await provider.shutdown();
  });
  test('a parent from another propagator (B3) is not known to be random', () => {
    const p = buildPropagator(['tracecontext', 'b3']);
    const parent = p.extract(ROOT_CONTEXT, { b3: `${T}-${P}-1` }, { get: (c, k) => (c as Record<string, string>)[k], keys: (c) => Object.keys(c as object) });
    const span = h.tracing.tracer.startSpan('child', {}, parent);
    span.end();
    const out: Record<string, string> = {};
    p.inject(trace.setSpan(parent, span), out, { set: (c, k, v) => ((c as Record<string, string>)[k] = v) });
    assert.equal(out.traceparent?.slice(3, 35), T);
    assert.equal(out.traceparent?.slice(53), '01');
  });
});

describe('tracestate', () => {
  const stateOf = (ts: string | string[]) => extract({ traceparent: TP, tracestate: ts })?.traceState?.serialize();
  const lcalpha = 'abcdefghijklmnopqrstuvwxyz';
  const keyChars = `${lcalpha}0123456789_-*/`;
  const valueChars = [[0x20, 0x2b], [0x2d, 0x3c], [0x3e, 0x7e]].map(([a, b]) => Array.from({ length: b! - a! + 1 }, (_, i) => String.fromCharCode(a! + i)).join('')).join('');
  const kept: Array<[string, string | string[], string | undefined]> = [
    ['a valid header, in order', 'foo=1,bar=2', 'foo=1,bar=2'],
    ['spaces and tabs around members', 'foo=1 \t , \t bar=2, \t baz=3', 'foo=1,bar=2,baz=3'],
    ['tabs around members', 'foo=1\t \t,\t \tbar=2,\t \tbaz=3', 'foo=1,bar=2,baz=3'],
    ['leading space', ' foo=1', 'foo=1'],
    ['leading tab', '\tfoo=1', 'foo=1'],
    ['trailing space is OWS, not part of the value', 'foo=1 ', 'foo=1'],
    ['trailing tab', 'foo=1\t', 'foo=1'],
    ['leading spaces inside a value are part of it', 'foo=  1', 'foo=  1'],
    ['empty members', 'foo=1,,bar=2, ,\t,', 'foo=1,bar=2'],
    ['an empty header', '', undefined],
    ['only empty members', ' , ,', undefined],
    ['several headers combined in order', ['foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'], 'foo=1,bar=2,rojo=1,congo=2,baz=3'],
    ['an empty header before another', ['', 'foo=1'], 'foo=1'],
    ['an empty header after another', ['foo=1', ''], 'foo=1'],
    ['all allowed key and value characters', `${keyChars}=${valueChars}`, `${keyChars}=${valueChars}`],
    ['all allowed characters in a multi-tenant key', `${keyChars}@a-z0-9_-*/=${valueChars}`, `${keyChars}@a-z0-9_-*/=${valueChars}`],
    ['a key of 256 characters', ['foo=1', `${'z'.repeat(256)}=1`], `foo=1,${'z'.repeat(256)}=1`],
    ['tenant of 241 and system of 14 characters', ['foo=1', `${'t'.repeat(241)}@${'v'.repeat(14)}=1`], `foo=1,${'t'.repeat(241)}@${'v'.repeat(14)}=1`],
    ['a tenant may start with a digit', '1tenant@sys=1', '1tenant@sys=1'],
    ['a value of 256 characters', `foo=${'v'.repeat(256)}`, `foo=${'v'.repeat(256)}`],
  ];
  for (const [name, ts, want] of kept) {
    test(`kept: ${name}`, () => assert.equal(stateOf(ts), want));
  }
  // Invalid members go one by one; the valid ones around them stay.
  const dropped: Array<[string, string | string[], string]> = [
    ['upper-case key', 'FOO=1,bar=2', 'bar=2'],
    ['space inside the key', 'foo =1,bar=2', 'bar=2'],
    ['illegal key character', 'foo.bar=1,bar=2', 'bar=2'],
    ['simple key starting with a digit', '1foo=1,bar=2', 'bar=2'],
    ['key of 257 characters', ['foo=1', `${'z'.repeat(257)}=1`], 'foo=1'],
    ['tenant of 242 characters', ['foo=1', `${'t'.repeat(242)}@v=1`], 'foo=1'],
    ['system of 15 characters', ['foo=1', `t@${'v'.repeat(15)}=1`], 'foo=1'],
    ['system starting with a digit', 'foo=1,t@1v=2', 'foo=1'],
    ['empty system', 'foo@=1,bar=2', 'bar=2'],
    ['empty tenant', '@foo=1,bar=2', 'bar=2'],
    ['two @ in a row', 'foo@@bar=1,bar=2', 'bar=2'],
    ['two @', 'foo@bar@baz=1,bar=2', 'bar=2'],
    ['= inside the value', 'foo=bar=baz,bar=2', 'bar=2'],
    ['empty value', 'foo=,bar=3', 'bar=3'],
    ['a tab inside the value', 'foo=a\tb,bar=2', 'bar=2'],
    ['a control character inside the value', 'foo=a\u0001,bar=2', 'bar=2'],
    ['a non-ASCII value', 'foo=é,bar=2', 'bar=2'],
    ['a value of 257 characters', `foo=${'v'.repeat(257)},bar=2`, 'bar=2'],
    ['a member without =', 'foo,bar=2', 'bar=2'],
    ['a member without key', '=1,bar=2', 'bar=2'],
    ['a newline around a member', 'foo=1\n,bar=2', 'bar=2'],
    ['a repeated key keeps the first, left-most entry', 'foo=1,bar=2,foo=3', 'foo=1,bar=2'],
    ['a key repeated with the same value', 'foo=1,foo=1', 'foo=1'],
    ['a key repeated across headers', ['foo=1', 'foo=2'], 'foo=1'],
  ];
  for (const [name, ts, want] of dropped) {
    test(`dropped alone: ${name}`, () => {
      const sc = extract({ traceparent: TP, tracestate: ts });
      assert.equal(sc?.traceId, T, 'tracestate never affects traceparent');
      assert.equal(sc?.traceState?.serialize(), want);
    });
  }
  test('32 members are kept; empty members are not counted', () => {
    const ts = Array.from({ length: 32 }, (_, i) => `bar${String(i + 1).padStart(2, '0')}=${i}`);
    assert.equal(stateOf([ts.slice(0, 10).join(','), ' , ', ts.slice(10).join(',')]), ts.join(','));
  });
  test('a 33rd member is dropped from the right, the first 32 kept', () => {
    const ts = Array.from({ length: 33 }, (_, i) => `bar${String(i + 1).padStart(2, '0')}=${i}`);
    assert.equal(stateOf([ts.slice(0, 30).join(','), ts.slice(30).join(',')]), ts.slice(0, 32).join(','));
  });
  test('over 512 characters: entries > 128 characters dropped first, then from the right', () => {
    const big = `big=${'x'.repeat(200)}`;
    const small = Array.from({ length: 30 }, (_, i) => `key${String(i).padStart(2, '0')}=${'v'.repeat(10)}`);
    const out = sanitizeTraceState([small.slice(0, 5).join(','), big, small.slice(5).join(',')].join(','));
    assert.ok(out !== undefined && out.length <= 512, String(out?.length));
    assert.ok(!out.includes('big='));
    assert.ok(out.startsWith('key00='));
    assert.equal(out.split(',').length, 30); // 30 * 16 + 29 = 509 fits once big is gone
    const long = Array.from({ length: 32 }, (_, i) => `k${String(i).padStart(2, '0')}=${'v'.repeat(20)}`).join(',');
    const trimmed = sanitizeTraceState(long)!;
    assert.ok(trimmed.length <= 512);
    assert.ok(trimmed.startsWith('k00=') && !trimmed.includes('k31='));
  });
  test('tracestate is ignored without a valid traceparent', () => {
    assert.equal(extract({ traceparent: 'bad', tracestate: 'foo=1' }), undefined);
    assert.equal(extract({ tracestate: 'foo=1' }), undefined);
  });
  test('propagated downstream as received (valid members, order kept)', () => {
    assert.equal(downstream({ traceparent: TP, tracestate: 'foo=1, FOO=x ,bar=2,foo=3' }).tracestate, 'foo=1,bar=2');
  });
});

describe('setTraceStateMember: our member first, order kept, at most 32', () => {
  const list = (n: number) => Array.from({ length: n }, (_, i) => `m${i}=${i}`);
  test('a new key goes to the front', () => {
    assert.equal(setTraceStateMember(new TraceState('a=1,b=2'), 'ours', 'x')?.serialize(), 'ours=x,a=1,b=2');
    assert.equal(setTraceStateMember(undefined, 'ours', 'x')?.serialize(), 'ours=x');
  });
  test('an updated key moves to the front, the others keep their order', () => {
    assert.equal(setTraceStateMember(new TraceState('a=1,ours=old,b=2'), 'ours', 'new')?.serialize(), 'ours=new,a=1,b=2');
  });
  test('added to a full list of 32, the right-most member makes room', () => {
    const out = setTraceStateMember(new TraceState(list(32).join(',')), 'ours', 'x')?.serialize().split(',');
    assert.equal(out?.length, 32);
    assert.equal(out?.[0], 'ours=x');
    assert.deepEqual(out?.slice(1), list(31));
  });
  test('an invalid key or value leaves the state unchanged', () => {
    const s = new TraceState('a=1');
    assert.equal(setTraceStateMember(s, 'Bad', 'x'), s);
    assert.equal(setTraceStateMember(s, 'ok', 'a,b'), s);
  });
  test('a sampler that records its state: what leaves has its key first and 32 members', async () => {
    const sampler: Sampler = {
      shouldSample(ctx): SamplingResult {
        const parent = trace.getSpanContext(ctx)?.traceState;
        return { decision: SamplingDecision.RECORD_AND_SAMPLED, traceState: setTraceStateMember(parent, 'tt', 'p:1') };
      },
      toString: () => 'recording-state',
    };
    const provider = new TracerProvider({ sampler });
    const p = buildPropagator(['tracecontext']);
    const get = { get: (c: unknown, k: string) => (c as Record<string, string>)[k], keys: (c: unknown) => Object.keys(c as object) };
    const parent = p.extract(ROOT_CONTEXT, { traceparent: TP, tracestate: list(32).join(',') }, get);
    const span = provider.getTracer('t').startSpan('s', {}, parent);
    span.end();
    const out: Record<string, string> = {};
    p.inject(trace.setSpan(parent, span), out, { set: (c, k, v) => ((c as Record<string, string>)[k] = v) });
    const members = out.tracestate?.split(',');
    assert.equal(members?.[0], 'tt=p:1');
    assert.equal(members?.length, 32);
    assert.deepEqual(members?.slice(1), list(31));
    await provider.shutdown();
  });
});

describe('baggage', () => {
  test('valid baggage is extracted', () => {
    const ctx = propagation.extract(ROOT_CONTEXT, { baggage: 'user=alice,tier=gold;prop=1' });
    assert.equal(propagation.getBaggage(ctx)?.getEntry('user')?.value, 'alice');
  });
  for (const bad of ['=', ',,,', 'novalue', '%zz=1', 'k=%zz', ';;;', 'a'.repeat(9000) + '=1']) {
    test(`malformed baggage ignored without throwing: ${bad.slice(0, 12)}`, () => {
      const ctx = propagation.extract(ROOT_CONTEXT, { baggage: bad, traceparent: TP });
      assert.equal(trace.getSpanContext(ctx)?.traceId, T);
      const entries = propagation.getBaggage(ctx)?.getAllEntries() ?? [];
      for (const [k] of entries) assert.notEqual(k, '');
    });
  }
});

// The same rules on the wire: a real express server with our middleware calls a real stub.
describe('over HTTP: express in, fetch out', () => {
  let stub: http.Server;
  let gateway: http.Server;
  let gwPort: number;
  let stubPort: number;
  const seen: http.IncomingHttpHeaders[] = [];
  before(async () => {
    stub = http.createServer((req, res) => {
      seen.push(req.headers);
      res.end('ok');
    });
    stubPort = await listen(stub);
    const app = express();
    app.use(h.tracing.expressMiddleware());
    app.get('/hop', async (_req: Request, res: Response) => {
      const r = await fetch(`http://127.0.0.1:${stubPort}/down`);
      res.end(await r.text());
    });
    gateway = http.createServer(app);
    gwPort = await listen(gateway);
    h.tracing.enableHttpClientTracing();
  });
  after(async () => {
    await closeServer(gateway);
    await closeServer(stub);
  });

  /** Sends raw header lines (name case and repeats as given) and returns what the stub got. */
  async function hop(lines: Array<[string, string]>): Promise<http.IncomingHttpHeaders> {
    seen.length = 0;
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: gwPort, path: '/hop', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      const byName = new Map<string, string[]>();
      for (const [k, v] of lines) byName.set(k, [...(byName.get(k) ?? []), v]);
      for (const [k, vs] of byName) req.setHeader(k, vs.length === 1 ? vs[0]! : vs);
      req.on('error', reject);
      req.end();
    });
    await waitFor(() => seen.length === 1);
    return seen[0]!;
  }

  test('header names in any case; the trace continues with our parent-id', async () => {
    for (const name of ['TraceParent', 'TRACEPARENT', 'tRaCePaReNt']) {
      const got = await hop([[name, TP], ['TraceState', 'foo=1']]);
      assert.equal(String(got.traceparent).slice(3, 35), T, name);
      assert.notEqual(String(got.traceparent).slice(36, 52), P);
      assert.equal(got.tracestate, 'foo=1');
    }
  });
  test('wrong header names are not traceparent', async () => {
    for (const name of ['trace-parent', 'trace.parent']) {
      const got = await hop([[name, TP]]);
      assert.notEqual(String(got.traceparent).slice(3, 35), T, name);
    }
  });
  test('several tracestate header lines are combined in order; invalid members dropped alone', async () => {
    const got = await hop([['traceparent', TP], ['tracestate', 'foo=1,bar=2'], ['tracestate', 'BAD=1,rojo=1'], ['tracestate', 'baz=3,foo=9']]);
    assert.equal(got.tracestate, 'foo=1,bar=2,rojo=1,baz=3');
  });
  test('two traceparent header lines restart the trace and drop tracestate', async () => {
    const got = await hop([['traceparent', TP], ['traceparent', `00-${'1'.repeat(32)}-${P}-01`], ['tracestate', 'foo=1']]);
    assert.notEqual(String(got.traceparent).slice(3, 35), T);
    assert.notEqual(String(got.traceparent).slice(3, 35), '1'.repeat(32));
    assert.equal(got.tracestate, undefined);
  });
  test('a future version is downgraded to 00; the random flag travels, unknown flags do not', async () => {
    const got = await hop([['traceparent', `cc-${T}-${P}-0b-future`]]);
    assert.match(String(got.traceparent), new RegExp(`^00-${T}-[0-9a-f]{16}-03$`));
    const plain = await hop([['traceparent', `00-${T}-${P}-01`]]);
    assert.match(String(plain.traceparent), /-01$/);
    const fresh = await hop([]);
    assert.match(String(fresh.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-03$/);
  });
});
