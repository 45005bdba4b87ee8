// A batch span processor whose memory is bounded by construction: one array of at most
// maxQueueSize spans plus at most maxInFlightBatches batches held by the exporter. Anything beyond
// that is dropped and counted, never buffered, never awaited by a request. We write our own
// instead of using the SDK's BatchSpanProcessor because that one neither counts failed exports
// nor bounds what a stuck exporter can hold (its timeout rejects, but the batch stays referenced
// and the next one is sent anyway).
import { context, TraceFlags } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { ExportStats } from './types.ts';

export interface BoundedProcessorOptions {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  /** The processor gives a batch up after this long (counted as failed and abandoned). */
  exportTimeoutMillis: number;
  /**
   * Batches the exporter may hold at once, abandoned ones included until it answers for them
   * (default 2). At the bound no new export starts: spans wait in the queue, which drops and
   * counts when full.
   */
  maxInFlightBatches?: number;
  /** Called once for the first failed export (so the operator learns spans are being lost). */
  onFirstExportError?: (err: Error) => void;
}

export class BoundedSpanProcessor implements SpanProcessor {
  readonly #exporter: SpanExporter;
  readonly #opts: Required<Omit<BoundedProcessorOptions, 'onFirstExportError'>> & Pick<BoundedProcessorOptions, 'onFirstExportError'>;
  #queue: ReadableSpan[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The export the loop waits for: settles on the exporter's answer or at the deadline. */
  #active: Promise<void> | undefined;
  #activeSpans = 0;
  /** Batches handed to the exporter whose callback has not come yet (active + abandoned). */
  #held = 0;
  #abandoned = 0;
  #exported = 0;
  #queueFull = 0;
  #exportFailed = 0;
  #warned = false;
  #shutdown = false;

  constructor(exporter: SpanExporter, opts: BoundedProcessorOptions) {
    this.#exporter = exporter;
    this.#opts = {
      ...opts,
      maxExportBatchSize: Math.min(opts.maxExportBatchSize, opts.maxQueueSize),
      maxInFlightBatches: Math.max(1, Math.floor(opts.maxInFlightBatches ?? 2)),
    };
  }

  stats(): ExportStats {
    return {
      exported: this.#exported,
      dropped: { queueFull: this.#queueFull, exportFailed: this.#exportFailed },
      queued: this.#queue.length + this.#activeSpans,
      inFlightBatches: this.#held,
      abandonedBatches: this.#abandoned,
    };
  }

  onStart(_span: Span): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#shutdown || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.#queue.length >= this.#opts.maxQueueSize) {
      this.#queueFull++;
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#opts.maxExportBatchSize) this.#kick();
    else this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#shutdown || this.#queue.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, this.#opts.scheduledDelayMillis);
    this.#timer.unref();
  }

  /** Start one export if none is running and the exporter may take one more; when it ends, continue while spans wait. */
  #kick(): void {
    if (this.#active !== undefined || this.#queue.length === 0 || this.#held >= this.#opts.maxInFlightBatches) return;
    this.#active = this.#exportOne().finally(() => {
      this.#active = undefined;
      this.#continue();
    });
  }

  #continue(): void {
    if (this.#queue.length >= this.#opts.maxExportBatchSize) this.#kick();
    else this.#schedule();
  }

  #exportOne(): Promise<void> {
    const batch = this.#queue.length <= this.#opts.maxExportBatchSize
      ? this.#queue
      : this.#queue.slice(0, this.#opts.maxExportBatchSize);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(batch.length);
    this.#activeSpans = batch.length;
    this.#held++;
    return new Promise<void>((resolve) => {
      let settled = false;
      let answered = false;
      const settle = (result: ExportResult, abandoned: boolean): void => {
        settled = true;
        clearTimeout(timer);
        this.#activeSpans = 0;
        if (abandoned) this.#abandoned++;
        this.#count(batch.length, result);
        resolve();
      };
      const onAnswer = (result: ExportResult): void => {
        if (answered) return; // an exporter calling back twice must not free two slots
        answered = true;
        this.#held--;
        // A late answer after our deadline was already counted; it only frees its slot.
        if (!settled) settle(result, false);
        else if (this.#active === undefined) this.#continue();
      };
      const timer = setTimeout(
        () => settle({ code: ExportResultCode.FAILED, error: new Error(`span export timed out after ${this.#opts.exportTimeoutMillis} ms`) }, true),
        this.#opts.exportTimeoutMillis,
      );
      timer.unref();
      // Suppressed context: the exporter's own HTTP request must not be traced (it would feed
      // spans back into this queue forever).
      context.with(suppressTracing(context.active()), () => {
        try {
          this.#exporter.export(batch, onAnswer);
        } catch (err) {
          onAnswer({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
        }
      });
    });
  }

  #count(spans: number, result: ExportResult): void {
    if (result.code === ExportResultCode.SUCCESS) {
      this.#exported += spans;
      return;
    }
    this.#exportFailed += spans;
    if (this.#warned) return;
    this.#warned = true;
    try {
      this.#opts.onFirstExportError?.(result.error ?? new Error('span export failed'));
    } catch {
      // a reporting hook must not break the export loop
    }
  }

  /**
   * Exports what is queued now. Bounded: at most queue/batch rounds, each bounded by the export
   * deadline; it stops early when the exporter holds all the batches it may.
   */
  async forceFlush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    let rounds = Math.ceil(this.#queue.length / this.#opts.maxExportBatchSize) + 1;
    while (rounds-- > 0 && (this.#active !== undefined || this.#queue.length > 0)) {
      if (this.#active === undefined) this.#kick();
      if (this.#active === undefined) break;
      await this.#active;
    }
  }

  async shutdown(): Promise<void> {
    if (this.#shutdown) return;
    await this.forceFlush();
    this.#shutdown = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    try {
      await this.#exporter.shutdown();
    } catch {
      // an exporter failing to shut down has nothing left for us to release
    }
  }
}
