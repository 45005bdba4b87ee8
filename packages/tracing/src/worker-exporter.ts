// OTLP/HTTP (JSON) span exporter whose network side runs in a worker thread (export-worker.ts).
// The main thread only turns a batch into bytes, with the same serializer the OpenTelemetry
// exporter uses, and transfers the buffer; it never touches a socket for telemetry. One worker
// per exporter, unref'd so it never keeps a process alive; if it dies, the batches in flight
// fail (and are counted by the processor) and the next batch starts a new one.
import { Worker } from 'node:worker_threads';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { ExportJob, ExportReply, ExportWorkerData } from './export-worker.ts';

type Done = (result: ExportResult) => void;
interface Pending {
  spans: ReadableSpan[];
  done: Done;
}

// Sources run as .ts (development, tests), the build as .js: the worker file sits beside us.
const workerFile = new URL(import.meta.url.endsWith('.ts') ? './export-worker.ts' : './export-worker.js', import.meta.url);

export class WorkerOtlpExporter implements SpanExporter {
  readonly #data: ExportWorkerData;
  readonly #pending = new Map<number, Pending>();
  readonly #fallback: () => SpanExporter;
  #inThread: SpanExporter | undefined;
  #worker: Worker | undefined;
  #workerAnswered = false;
  #nextId = 1;
  #shutdown = false;

  /** `fallback` makes the in-thread exporter used when no worker can start in this process. */
  constructor(url: string, timeoutMs: number, headers: Record<string, string>, fallback: () => SpanExporter) {
    this.#data = { url, headers, timeoutMs };
    this.#fallback = fallback;
  }

  export(spans: ReadableSpan[], done: Done): void {
    if (this.#shutdown) return done({ code: ExportResultCode.FAILED, error: new Error('exporter is shut down') });
    if (this.#inThread) return this.#inThread.export(spans, done);
    let body: Uint8Array | undefined;
    try {
      body = JsonTraceSerializer.serializeRequest(spans);
    } catch (err) {
      return done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
    if (body === undefined) return done({ code: ExportResultCode.FAILED, error: new Error('spans could not be serialized') });
    const id = this.#nextId++;
    this.#pending.set(id, { spans, done });
    const job: ExportJob = { id, body };
    // Transfer, not copy, when the bytes own their whole buffer (they do: TextEncoder output).
    const transfer = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer ? [body.buffer] : [];
    this.#ensureWorker().postMessage(job, transfer);
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    // A clean execArgv: the worker needs only Node built-ins, and must not inherit flags workers
    // reject (--input-type) or the application's --import/--require hooks (an APM agent would
    // otherwise trace our export requests).
    const worker = new Worker(workerFile, { workerData: this.#data, execArgv: [] });
    worker.on('message', (reply: ExportReply) => {
      this.#workerAnswered = true;
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      p.done(reply.ok ? { code: ExportResultCode.SUCCESS } : { code: ExportResultCode.FAILED, error: new Error(reply.error ?? 'export failed') });
    });
    const fail = (why: string): void => {
      if (this.#worker === worker) this.#worker = undefined;
      // A worker that never answered could not start here (some process flags make every
      // worker fail): export in this thread from now on, starting with what was waiting.
      const useInThread = !this.#workerAnswered && !this.#shutdown;
      if (useInThread) this.#inThread ??= this.#fallback();
      for (const [id, p] of this.#pending) {
        this.#pending.delete(id);
        if (useInThread) this.#inThread!.export(p.spans, p.done);
        else p.done({ code: ExportResultCode.FAILED, error: new Error(why) });
      }
    };
    worker.on('error', (err) => fail(`export worker failed: ${err.message}`));
    worker.on('exit', (code) => fail(`export worker exited (${code})`));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  async forceFlush(): Promise<void> {
    // The processor waits for each export's callback itself; nothing is buffered here.
  }

  async shutdown(): Promise<void> {
    this.#shutdown = true;
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
    await this.#inThread?.shutdown();
  }
}
