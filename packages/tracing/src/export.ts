// Export through a SpanExporter the user supplied (the OTLP path encodes spans itself, see
// otlp-export.ts): ReadableSpans wait in one array of at most maxQueueSize, and the export loop
// hands them over in batches with its deadlines and bounds. We write our own instead of using the
// SDK's BatchSpanProcessor because that one neither counts failed exports nor bounds what a
// stuck exporter can hold (its timeout rejects, but the batch stays referenced and the next one
// is sent anyway).
import { TraceFlags } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import { ExportLoop } from './export-loop.ts';
import type { QueueBackend, QueueOptions } from './export-loop.ts';
import type { ExportStats } from './types.ts';

export type BoundedProcessorOptions = QueueOptions;

class SpanArrayQueue implements QueueBackend<ReadableSpan[]> {
  readonly #exporter: SpanExporter;
  queue: ReadableSpan[] = [];

  constructor(exporter: SpanExporter) {
    this.#exporter = exporter;
  }

  get waiting(): number {
    return this.queue.length;
  }

  take(max: number): { batch: ReadableSpan[]; count: number } {
    const batch = this.queue.length <= max ? this.queue : this.queue.slice(0, max);
    this.queue = batch === this.queue ? [] : this.queue.slice(batch.length);
    return { batch, count: batch.length };
  }

  send(batch: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#exporter.export(batch, done);
  }

  shutdown(): Promise<void> {
    return this.#exporter.shutdown();
  }
}

export class BoundedSpanProcessor implements SpanProcessor {
  readonly #queue: SpanArrayQueue;
  readonly #loop: ExportLoop<ReadableSpan[]>;

  constructor(exporter: SpanExporter, opts: BoundedProcessorOptions) {
    this.#queue = new SpanArrayQueue(exporter);
    this.#loop = new ExportLoop(this.#queue, opts);
  }

  stats(): ExportStats {
    return this.#loop.stats();
  }

  onStart(_span: Span): void {}

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0 || !this.#loop.admit()) return;
    this.#queue.queue.push(span);
    this.#loop.added(true);
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
