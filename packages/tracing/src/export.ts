// A batch span processor whose memory is bounded by construction: one array of at most
// maxQueueSize spans plus at most one batch in flight. Anything beyond that is dropped and
// counted, never buffered, never awaited by a request. We write our own instead of using the
// SDK's BatchSpanProcessor because that one neither counts failed exports nor bounds the time a
// stuck exporter can hold a batch (its timeout rejects, but the batch stays referenced).
import { context, TraceFlags } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { ExportStats } from './types.ts';

export interface BoundedProcessorOptions {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
  /** Called once for the first failed export (so the operator learns spans are being lost). */
  onFirstExportError?: (err: Error) => void;
}

export class BoundedSpanProcessor implements SpanProcessor {
  readonly #exporter: SpanExporter;
  readonly #opts: BoundedProcessorOptions;
  #queue: ReadableSpan[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #exported = 0;
  #queueFull = 0;
  #exportFailed = 0;
  #inFlightCount = 0;
  #warned = false;
  #shutdown = false;

  constructor(exporter: SpanExporter, opts: BoundedProcessorOptions) {
    this.#exporter = exporter;
    this.#opts = { ...opts, maxExportBatchSize: Math.min(opts.maxExportBatchSize, opts.maxQueueSize) };
  }

  stats(): ExportStats {
    return {
      exported: this.#exported,
      dropped: { queueFull: this.#queueFull, exportFailed: this.#exportFailed },
      queued: this.#queue.length + this.#inFlightCount,
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
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#kick();
      }, this.#opts.scheduledDelayMillis);
      this.#timer.unref();
    }
  }

  /** Start one export if none is running; when it ends, continue while spans are waiting. */
  #kick(): void {
    if (this.#inFlight !== undefined || this.#queue.length === 0) return;
    this.#inFlight = this.#exportOne().finally(() => {
      this.#inFlight = undefined;
      if (this.#queue.length >= this.#opts.maxExportBatchSize) this.#kick();
      else if (this.#queue.length > 0 && this.#timer === undefined && !this.#shutdown) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#kick();
        }, this.#opts.scheduledDelayMillis);
        this.#timer.unref();
      }
    });
  }

  #exportOne(): Promise<void> {
    const batch = this.#queue.length <= this.#opts.maxExportBatchSize
      ? this.#queue
      : this.#queue.slice(0, this.#opts.maxExportBatchSize);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(batch.length);
    this.#inFlightCount = batch.length;
    return new Promise<void>((resolve) => {
      let settled = false;
      const finish = (result: ExportResult): void => {
        if (settled) return; // a late callback after our timeout must not be counted twice
        settled = true;
        clearTimeout(timer);
        this.#inFlightCount = 0;
        if (result.code === ExportResultCode.SUCCESS) this.#exported += batch.length;
        else {
          this.#exportFailed += batch.length;
          if (!this.#warned) {
            this.#warned = true;
            try {
              this.#opts.onFirstExportError?.(result.error ?? new Error('span export failed'));
            } catch {
              // a reporting hook must not break the export loop
            }
          }
        }
        resolve();
      };
      const timer = setTimeout(
        () => finish({ code: ExportResultCode.FAILED, error: new Error(`span export timed out after ${this.#opts.exportTimeoutMillis} ms`) }),
        this.#opts.exportTimeoutMillis,
      );
      timer.unref();
      // Suppressed context: the exporter's own HTTP request must not be traced (it would feed
      // spans back into this queue forever).
      context.with(suppressTracing(context.active()), () => {
        try {
          this.#exporter.export(batch, finish);
        } catch (err) {
          finish({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
        }
      });
    });
  }

  async forceFlush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    // Drain what is queued now (bounded: at most queue/batch rounds, each bounded by the timeout).
    let rounds = Math.ceil(this.#queue.length / this.#opts.maxExportBatchSize) + 1;
    while (rounds-- > 0 && (this.#inFlight !== undefined || this.#queue.length > 0)) {
      if (this.#inFlight === undefined) this.#kick();
      await this.#inFlight;
    }
  }

  async shutdown(): Promise<void> {
    if (this.#shutdown) return;
    await this.forceFlush();
    this.#shutdown = true;
    await this.#exporter.shutdown();
  }
}
