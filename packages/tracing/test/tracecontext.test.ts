// Conformance with https://www.w3.org/TR/trace-context/ (cases follow the W3C test suite).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { sanitizeTraceState } from '../src/index.ts';
import { setup } from './helpers.ts';
import type { Harness } from './helpers.ts';

const T = '0af7651916cd43dd8448eb211c80319c';
const P = 'b7ad6b7169203331';

let h: Harness;
before(() => {
  h = setup({ httpClient: false });
});
after(async () => {
  await h.close();
});

function extract(headers: Record<string, string | string[]>) {
  return trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers));
}

describe('traceparent', () => {
  const valid: Array<[string, string]> = [
    ['version 00', `00-${T}-${P}-01`],
    ['unsampled', `00-${T}-${P}-00`],
    ['unknown flags bits are accepted', `00-${T}-${P}-09`],
    ['future version, same length', `cc-${T}-${P}-01`],
    ['future version with more data after a dash', `cc-${T}-${P}-01-what-the-future-will-be-like`],
  ];
  for (const [name, tp] of valid) {
    test(`accepts: ${name}`, () => {
      const sc = extract({ traceparent: tp });
      assert.equal(sc?.traceId, T);
      assert.equal(sc?.spanId, P);
      assert.equal(sc?.isRemote, true);
    });
  }
  test('sampled flag is read from bit 0 only', () => {
    assert.equal(extract({ traceparent: `00-${T}-${P}-09` })?.traceFlags, 1);
    assert.equal(extract({ traceparent: `00-${T}-${P}-02` })?.traceFlags, 0);
  });
  const invalid: Array<[string, string]> = [
    ['version ff', `ff-${T}-${P}-01`],
    ['version 00 with extra data', `00-${T}-${P}-01-extra`],
    ['future version with data not after a dash', `cc-${T}-${P}-01.what`],
    ['uppercase trace id', `00-${T.toUpperCase()}-${P}-01`],
    ['uppercase parent id', `00-${T}-${P.toUpperCase()}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${P}-01`],
    ['all-zero parent id', `00-${T}-${'0'.repeat(16)}-01`],
    ['short trace id', `00-${T.slice(1)}-${P}-01`],
    ['long parent id', `00-${T}-${P}0-01`],
    ['short flags', `00-${T}-${P}-1`],
    ['non-hex flags', `00-${T}-${P}-0g`],
    ['non-hex version', `0g-${T}-${P}-01`],
    ['wrong delimiter', `00_${T}_${P}_01`],
    ['empty', ''],
    ['garbage', 'hello'],
  ];
  for (const [name, tp] of invalid) {
    test(`rejects: ${name}`, () => {
      assert.equal(extract({ traceparent: tp, tracestate: 'foo=1' }), undefined);
    });
  }
  test('two traceparent values are ambiguous and ignored', () => {
    assert.equal(extract({ traceparent: [`00-${T}-${P}-01`, `00-${T}-${P}-01`] }), undefined);
  });
  test('inject writes version 00 with lower-case hex', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: T, spanId: P, traceFlags: 1 });
    const carrier: Record<string, string> = {};
    propagation.inject(ctx, carrier);
    assert.equal(carrier.traceparent, `00-${T}-${P}-01`);
  });
});

describe('tracestate', () => {
  const tp = `00-${T}-${P}-01`;
  const stateOf = (ts: string | string[]) => extract({ traceparent: tp, tracestate: ts })?.traceState?.serialize();

  test('valid header is kept in order; OWS and empty members are allowed', () => {
    assert.equal(stateOf('foo=1, bar=2 ,\t,baz=3'), 'foo=1,bar=2,baz=3');
  });
  test('several headers are combined', () => {
    assert.equal(stateOf(['foo=1', 'bar=2']), 'foo=1,bar=2');
  });
  test('multi-tenant keys and all allowed value characters', () => {
    const value = '!"#$%&\'()*+-./0123456789:;<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~';
    assert.equal(stateOf(`t1@sys=${value}`), `t1@sys=${value}`);
    assert.equal(stateOf(`${'a'.repeat(241)}@${'b'.repeat(14)}=x`), `${'a'.repeat(241)}@${'b'.repeat(14)}=x`);
  });
  const discard: Array<[string, string]> = [
    ['duplicate keys', 'foo=1,foo=1'],
    ['upper-case key', 'FOO=1'],
    ['illegal key char', 'foo.bar=1'],
    ['key starting with a digit (no tenant)', '1foo=1'],
    ['key too long', `${'a'.repeat(257)}=1`],
    ['tenant too long', `${'a'.repeat(242)}@b=1`],
    ['system too long', `a@${'b'.repeat(15)}=1`],
    ['empty value', 'foo='],
    ['value with =', 'foo=bar=baz'],
    ['value with trailing space inside', 'foo=bar \u0001'],
    ['member without =', 'foo'],
    ['33 members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
  ];
  for (const [name, ts] of discard) {
    test(`discarded (traceparent still used): ${name}`, () => {
      const sc = extract({ traceparent: tp, tracestate: ts });
      assert.equal(sc?.traceId, T);
      assert.equal(sc?.traceState, undefined);
    });
  }
  test('32 members are kept', () => {
    const ts = Array.from({ length: 32 }, (_, i) => `k${i}=v`).join(',');
    assert.equal(stateOf(ts), ts);
  });
  test('over 512 chars: entries > 128 chars dropped first, then from the end', () => {
    const big = `big=${'x'.repeat(200)}`;
    const small = Array.from({ length: 30 }, (_, i) => `key${String(i).padStart(2, '0')}=${'v'.repeat(10)}`);
    const out = sanitizeTraceState([small.slice(0, 5).join(','), big, small.slice(5).join(',')].join(','));
    assert.ok(out !== undefined && out.length <= 512, String(out?.length));
    assert.ok(!out.includes('big='));
    assert.ok(out.startsWith('key00='));
    assert.equal(out.split(',').length, 30); // 30 * 16 + 29 = 509 fits once big is gone
    const tooMany = Array.from({ length: 32 }, (_, i) => `k${String(i).padStart(2, '0')}=${'v'.repeat(20)}`).join(',');
    const trimmed = sanitizeTraceState(tooMany)!;
    assert.ok(trimmed.length <= 512);
    assert.ok(trimmed.startsWith('k00=') && !trimmed.includes('k31='));
  });
  test('tracestate is ignored without a valid traceparent', () => {
    assert.equal(extract({ traceparent: 'bad', tracestate: 'foo=1' }), undefined);
  });
  test('tracestate is re-injected', () => {
    const ctx = propagation.extract(ROOT_CONTEXT, { traceparent: tp, tracestate: 'foo=1,bar=2' });
    const carrier: Record<string, string> = {};
    propagation.inject(ctx, carrier);
    assert.equal(carrier.tracestate, 'foo=1,bar=2');
  });
});

describe('baggage', () => {
  test('valid baggage is extracted', () => {
    const ctx = propagation.extract(ROOT_CONTEXT, { baggage: 'user=alice,tier=gold;prop=1' });
    assert.equal(propagation.getBaggage(ctx)?.getEntry('user')?.value, 'alice');
  });
  for (const bad of ['=', ',,,', 'novalue', '%zz=1', 'k=%zz', ';;;', 'a'.repeat(9000) + '=1']) {
    test(`malformed baggage ignored without throwing: ${bad.slice(0, 12)}`, () => {
      const ctx = propagation.extract(ROOT_CONTEXT, { baggage: bad, traceparent: tp() });
      assert.equal(trace.getSpanContext(ctx)?.traceId, T);
      const entries = propagation.getBaggage(ctx)?.getAllEntries() ?? [];
      for (const [k] of entries) assert.notEqual(k, '');
    });
  }
  function tp() {
    return `00-${T}-${P}-01`;
  }
});
