import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import pino from 'pino';
import { currentTraceIds, isSampled, pinoMixin } from '../src/index.ts';
import { setup } from './helpers.ts';
import type { Harness } from './helpers.ts';

let h: Harness;
before(() => {
  h = setup({ httpClient: false });
});
after(async () => {
  await h.close();
});

function capture(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, stream };
}

test('currentTraceIds is empty outside a span and filled inside', () => {
  assert.deepEqual(currentTraceIds(), {});
  const span = h.tracing.tracer.startSpan('x');
  const ids = context.with(trace.setSpan(ROOT_CONTEXT, span), () => currentTraceIds());
  span.end();
  assert.deepEqual(ids, { trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId, trace_flags: '01' });
  assert.deepEqual(h.tracing.currentTraceIds(), {});
});

test('isSampled reflects the active span', () => {
  assert.equal(isSampled(), false);
  const span = h.tracing.tracer.startSpan('x');
  assert.equal(context.with(trace.setSpan(ROOT_CONTEXT, span), () => h.tracing.isSampled()), true);
  const unsampled = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 0 });
  assert.equal(context.with(trace.setSpan(ROOT_CONTEXT, unsampled), () => isSampled()), false);
  span.end();
});

test('pino mixin adds trace ids to log lines inside spans only', async () => {
  const { lines, stream } = capture();
  const log = pino({ mixin: pinoMixin() }, stream);
  log.info('outside');
  const span = h.tracing.tracer.startSpan('x');
  await context.with(trace.setSpan(ROOT_CONTEXT, span), async () => {
    await new Promise((r) => setTimeout(r, 1));
    log.info('inside');
  });
  span.end();
  const log2 = pino({ mixin: h.tracing.pinoMixin() }, stream);
  context.with(trace.setSpan(ROOT_CONTEXT, span), () => log2.info('via instance'));
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 3);
  assert.equal(lines[0]!.trace_id, undefined);
  assert.equal(lines[1]!.trace_id, span.spanContext().traceId);
  assert.equal(lines[1]!.span_id, span.spanContext().spanId);
  assert.equal(lines[1]!.trace_flags, '01');
  assert.equal(lines[2]!.span_id, span.spanContext().spanId);
});
