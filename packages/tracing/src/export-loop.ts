// The export loop behind every span export path: a queue whose memory is bounded by construction
// (at most maxQueueSize spans waiting, plus at most maxInFlightBatches batches held by whoever
// sends them); anything beyond is dropped and counted, never buffered, never awaited by a
// request. What a batch is (encoded request bodies, or ReadableSpans for a user's exporter) is
// the backend's business; deadlines, the in-flight bound, counting and flushing are this file's.
import { context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ExportStats } from './types.ts';

export interface QueueOptions {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  /** A batch is given up after this long (counted as failed and abandoned). */
  exportTimeoutMillis: number;
  /**
   * Batches the sender may hold at once, abandoned ones included until it answers for them
   * (default 2). At the bound no new export starts: spans wait in the queue, which drops and
   * counts when full.
   */
  maxInFlightBatches?: number;
  /** Called once for the first failed export (so the operator learns spans are being lost). */
  onFirstExportError?: (err: Error) => void;
}

/** Holds the waiting spans in whatever form a batch takes, and sends batches. */
export interface QueueBackend<B> {
  /** Spans waiting, not yet taken. */
  readonly waiting: number;
  /** Removes up to `max` waiting spans (at least one) as one batch. */
  take(max: number): { batch: B; count: number };
  send(batch: B, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

export class ExportLoop<B> {
  readonly #backend: QueueBackend<B>;
  readonly #opts: Required<Omit<QueueOptions, 'onFirstExportError'>> & Pick<QueueOptions, 'onFirstExportError'>;
  #timer: NodeJS.Timeout | undefined;
  /** The export the loop waits for: settles on the sender's answer or at the deadline. */
  #active: Promise<void> | undefined;
  #activeSpans = 0;
  /** Batches handed over whose answer has not come yet (active + abandoned). */
  #held = 0;
  #abandoned = 0;
  #exported = 0;
  #queueFull = 0;
  #exportFailed = 0;
  #warned = false;
  #shutdown = false;
  /** Set by abandon(): no export starts any more. */
  #stopped = false;
  #backendClosed: Promise<void> | undefined;

  constructor(backend: QueueBackend<B>, opts: QueueOptions) {
    this.#backend = backend;
    this.#opts = {
      ...opts,
      maxExportBatchSize: Math.min(opts.maxExportBatchSize, opts.maxQueueSize),
      maxInFlightBatches: Math.max(1, Math.floor(opts.maxInFlightBatches ?? 2)),
    };
  }

  get maxExportBatchSize(): number {
    return this.#opts.maxExportBatchSize;
  }

  stats(): ExportStats {
    return {
      exported: this.#exported,
      dropped: { queueFull: this.#queueFull, exportFailed: this.#exportFailed },
      queued: this.#backend.waiting + this.#activeSpans,
      inFlightBatches: this.#held,
      abandonedBatches: this.#abandoned,
    };
  }

  /** Whether one more span may be queued; a full queue counts the drop. */
  admit(): boolean {
    if (this.#shutdown) return false;
    if (this.#backend.waiting >= this.#opts.maxQueueSize) {
      this.#queueFull++;
      return false;
    }
    return true;
  }

  /** The backend took a span it was admitted for (or failed to: then it is counted as failed). */
  added(ok: boolean): void {
    if (!ok) this.#count(1, { code: ExportResultCode.FAILED, error: new Error('a span could not be encoded') });
    if (this.#backend.waiting >= this.#opts.maxExportBatchSize) this.#kick();
    else this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#shutdown || this.#backend.waiting === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, this.#opts.scheduledDelayMillis);
    this.#timer.unref();
  }

  /** Start one export if none is running and the sender may take one more; when it ends, continue while spans wait. */
  #kick(): void {
    if (this.#stopped || this.#active !== undefined || this.#backend.waiting === 0 || this.#held >= this.#opts.maxInFlightBatches) return;
    this.#active = this.#exportOne().finally(() => {
      this.#active = undefined;
      this.#continue();
    });
  }

  #continue(): void {
    if (this.#backend.waiting >= this.#opts.maxExportBatchSize) this.#kick();
    else this.#schedule();
  }

  #exportOne(): Promise<void> {
    const { batch, count } = this.#backend.take(this.#opts.maxExportBatchSize);
    this.#activeSpans = count;
    this.#held++;
    return new Promise<void>((resolve) => {
      let settled = false;
      let answered = false;
      const settle = (result: ExportResult, abandoned: boolean): void => {
        settled = true;
        clearTimeout(timer);
        this.#activeSpans = 0;
        if (abandoned) this.#abandoned++;
        this.#count(count, result);
        resolve();
      };
      const onAnswer = (result: ExportResult): void => {
        if (answered) return; // a sender calling back twice must not free two slots
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
      // Suppressed context: the sender's own HTTP request must not be traced (it would feed
      // spans back into this queue forever).
      context.with(suppressTracing(context.active()), () => {
        try {
          this.#backend.send(batch, onAnswer);
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
   * deadline; it stops early when the sender holds all the batches it may.
   */
  async forceFlush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    let rounds = Math.ceil(this.#backend.waiting / this.#opts.maxExportBatchSize) + 1;
    while (rounds-- > 0 && (this.#active !== undefined || this.#backend.waiting > 0)) {
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
    await this.#closeBackend();
  }

  /**
   * Gives up at once, for a shutdown whose time is up: no export starts any more and the sender
   * is shut down, which ends its requests in flight. Without this, a request to a Collector that
   * does not answer would keep an in-thread exporter's socket, and so the process, alive until
   * its deadline, and the flush would go on to the next batch after it.
   */
  abandon(): void {
    this.#stopped = true;
    this.#shutdown = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    void this.#closeBackend();
  }

  #closeBackend(): Promise<void> {
    this.#backendClosed ??= (async () => {
      try {
        await this.#backend.shutdown();
      } catch {
        // a sender failing to shut down has nothing left for us to release
      }
    })();
    return this.#backendClosed;
  }
}
