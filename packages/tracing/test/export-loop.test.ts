// ExportLoop.abandon(): what shutdown does when its time is up. The backend here is a stand-in for
// a sender whose Collector never answers (its shutdown fails what it holds, as OtlpTransport's does).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { ExportLoop } from '../src/export-loop.ts';
import type { QueueBackend } from '../src/export-loop.ts';

class SilentBackend implements QueueBackend<number> {
  waiting = 0;
  sent = 0;
  shutdowns = 0;
  readonly #held: Array<(r: ExportResult) => void> = [];

  take(max: number): { batch: number; count: number } {
    const count = Math.min(max, this.waiting);
    this.waiting -= count;
    return { batch: count, count };
  }

  send(_batch: number, done: (result: ExportResult) => void): void {
    this.sent++;
    this.#held.push(done);
  }

  async shutdown(): Promise<void> {
    this.shutdowns++;
    for (const done of this.#held.splice(0)) done({ code: ExportResultCode.FAILED, error: new Error('exporter is shut down') });
  }
}

function loopWith(backend: SilentBackend, spans: number): ExportLoop<number> {
  const loop = new ExportLoop(backend, { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 30_000, exportTimeoutMillis: 60_000, maxInFlightBatches: 2 });
  for (let i = 0; i < spans; i++) {
    assert.ok(loop.admit());
    backend.waiting++;
    loop.added(true);
  }
  return loop;
}

test('abandon() during a flush to a silent sender: the flush ends, no further batch is sent, the sender is shut down once', async () => {
  const backend = new SilentBackend();
  const loop = loopWith(backend, 1500);
  const sentBefore = backend.sent;
  assert.ok(sentBefore >= 1, 'full batches start exporting as they fill');
  let ended = false;
  const shutdown = loop.shutdown().then(() => (ended = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(ended, false, 'the flush waits for the sender');

  loop.abandon();
  await shutdown;
  assert.equal(backend.sent, sentBefore, 'nothing sent after abandon()');
  assert.equal(backend.shutdowns, 1, 'shutdown() after abandon() does not shut the sender down again');
  assert.equal(loop.admit(), false, 'no span is admitted after abandon()');
  const stats = loop.stats();
  assert.equal(stats.exported, 0);
  assert.equal(stats.dropped.exportFailed, sentBefore * 512, 'the batches in flight are counted as failed');
  assert.equal(stats.queued, 1500 - sentBefore * 512, 'what never left stays counted as queued');
});

test('abandon() with nothing in flight shuts the sender down and a later shutdown() resolves at once', async () => {
  const backend = new SilentBackend();
  const loop = loopWith(backend, 10);
  loop.abandon();
  await loop.shutdown();
  assert.equal(backend.sent, 0);
  assert.equal(backend.shutdowns, 1);
});
