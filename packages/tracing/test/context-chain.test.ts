// The linked contexts our instrumentations start requests in behave as the API's: values set
// are read back (newest wins), deletes hide values below them, nothing leaks between siblings,
// and past the flattening depth every value is still there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createContextKey, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { CHAIN_ROOT } from '../src/context-chain.ts';

const A = createContextKey('test a');
const B = createContextKey('test b');

test('set, read, override, delete, siblings: as the API\'s BaseContext', () => {
  for (const root of [ROOT_CONTEXT, CHAIN_ROOT]) {
    assert.equal(root.getValue(A), undefined);
    const a1 = root.setValue(A, 1);
    const a2 = a1.setValue(A, 2);
    const b = a1.setValue(B, 'b');
    assert.deepEqual([a1.getValue(A), a2.getValue(A), b.getValue(A), b.getValue(B), a2.getValue(B)], [1, 2, 1, 'b', undefined]);
    const gone = b.deleteValue(A);
    assert.deepEqual([gone.getValue(A), gone.getValue(B), b.getValue(A)], [undefined, 'b', 1]);
    assert.equal(gone.setValue(A, 3).getValue(A), 3);
    assert.equal(root.getValue(B), undefined, 'the root never changes');
  }
});

test('spans set with the API are found with the API', () => {
  const span = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 });
  const ctx = trace.setSpan(CHAIN_ROOT, span);
  assert.equal(trace.getSpan(ctx), span);
  assert.equal(trace.getSpan(trace.deleteSpan(ctx)), undefined);
  assert.equal(trace.getSpan(CHAIN_ROOT), undefined);
});

test('a long chain is flattened and keeps every value, deletes included', () => {
  const keys = Array.from({ length: 40 }, (_, i) => createContextKey(`k${i}`));
  let ctx: Context = CHAIN_ROOT;
  for (let i = 0; i < keys.length; i++) ctx = ctx.setValue(keys[i]!, i);
  ctx = ctx.deleteValue(keys[3]!).setValue(keys[5]!, 'five');
  for (let i = 0; i < 20; i++) ctx = ctx.setValue(A, i);
  for (let i = 0; i < keys.length; i++) assert.equal(ctx.getValue(keys[i]!), i === 3 ? undefined : i === 5 ? 'five' : i, `k${i}`);
  assert.equal(ctx.getValue(A), 19);
});
