// OTLP export of our own spans: a sampled span is encoded (protobuf or JSON) into the open batch
// the moment it ends, so nothing of it outlives its request; full batches are sealed into request
// bodies and sent by the transport (a worker thread by default) under the export loop's bounds.
import type { ExportResult } from '@opentelemetry/core';
import { ExportLoop } from './export-loop.ts';
import type { QueueBackend, QueueOptions } from './export-loop.ts';
import type { RecordingSpan } from './span.ts';
import type { ExportStats } from './types.ts';

/** Request bodies built span by span (otlp-protobuf.ts, otlp-json.ts). */
export interface SpanBatch {
  readonly contentType: string;
  readonly count: number;
  add(span: RecordingSpan): void;
  seal(): Uint8Array;
}

/** Sends one request body; `done` is called once with the outcome. */
export interface Transport {
  send(body: Uint8Array, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

interface Sealed {
  body: Uint8Array;
  count: number;
}

class EncodedQueue implements QueueBackend<Uint8Array> {
  readonly open: SpanBatch;
  readonly #transport: Transport;
  readonly #sealed: Sealed[] = [];
  #sealedCount = 0;

  constructor(open: SpanBatch, transport: Transport) {
    this.open = open;
    this.#transport = transport;
  }

  get waiting(): number {
    return this.open.count + this.#sealedCount;
  }

  seal(): void {
    const count = this.open.count;
    if (count === 0) return;
    this.#sealed.push({ body: this.open.seal(), count });
    this.#sealedCount += count;
  }

  take(): { batch: Uint8Array; count: number } {
    if (this.#sealed.length === 0) this.seal();
    const s = this.#sealed.shift()!;
    this.#sealedCount -= s.count;
    return { batch: s.body, count: s.count };
  }

  send(body: Uint8Array, done: (result: ExportResult) => void): void {
    this.#transport.send(body, done);
  }

  shutdown(): Promise<void> {
    return this.#transport.shutdown();
  }
}

export class OtlpSpanExport {
  readonly #queue: EncodedQueue;
  readonly #loop: ExportLoop<Uint8Array>;

  constructor(batch: SpanBatch, transport: Transport, opts: QueueOptions) {
    this.#queue = new EncodedQueue(batch, transport);
    this.#loop = new ExportLoop(this.#queue, opts);
  }

  /** Called for every recording span that ends; only sampled ones are exported. */
  onEnd(span: RecordingSpan): void {
    if ((span.spanContext().traceFlags & 1) === 0 || !this.#loop.admit()) return;
    let ok = true;
    try {
      this.#queue.open.add(span);
    } catch {
      ok = false;
    }
    if (this.#queue.open.count >= this.#loop.maxExportBatchSize) this.#queue.seal();
    this.#loop.added(ok);
  }

  stats(): ExportStats {
    return this.#loop.stats();
  }

  forceFlush(): Promise<void> {
    return this.#loop.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#loop.shutdown();
  }

  abandon(): void {
    this.#loop.abandon();
  }
}
