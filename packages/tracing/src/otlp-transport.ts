// Sends encoded OTLP request bodies from a worker thread (export-worker.ts): the main thread only
// transfers the bytes (no copy) and never touches a socket for telemetry. One worker per
// transport, unref'd so it never keeps a process alive; if it dies, the batches in flight fail
// (and are counted by the export loop) and the next batch starts a new one. Where no worker can
// start (some process flags forbid them), or when asked to, the same poster runs in this thread.
// Nothing here throws to the caller or into an event listener: every failure becomes a FAILED
// result for the batch.
import { Worker } from 'node:worker_threads';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ExportJob, ExportReply, ExportWorkerData } from './export-worker.ts';
import type { Transport } from './otlp-export.ts';
import { createPoster } from './otlp-post.ts';
import type { Poster, PostResult } from './otlp-post.ts';

type Done = (result: ExportResult) => void;
interface Pending {
  body: Uint8Array | undefined;
  done: Done;
  /** Fails the batch if the worker never answers (it answers by its own deadline unless it died or hangs). */
  guard: NodeJS.Timeout;
}

// Sources run as .ts (development, tests), the build as .js: the worker file sits beside us.
const workerFile = new URL(import.meta.url.endsWith('.ts') ? './export-worker.ts' : './export-worker.js', import.meta.url);

/** How long past the request deadline we wait for the worker's answer before giving the batch up. */
const GUARD_GRACE_MS = 1000;

export interface TransportOptions {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  contentType: string;
  compression: 'gzip' | 'none';
  /** Export requests in flight at once (default 2). */
  maxInFlight?: number;
  /** 'main' never starts a worker (default 'worker'). */
  thread?: 'worker' | 'main';
}

function failed(error: string): ExportResult {
  return { code: ExportResultCode.FAILED, error: new Error(error) };
}

function safeDone(done: Done, result: ExportResult): void {
  try {
    done(result);
  } catch {
    // the export loop's callback never throws; nothing may reach a listener
  }
}

function resultOf(r: PostResult): ExportResult {
  return r.ok ? { code: ExportResultCode.SUCCESS } : failed(r.error);
}

/** Transferable when the bytes own their whole buffer (the batches' bodies do). */
function transferList(body: Uint8Array): ArrayBuffer[] {
  return body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer ? [body.buffer] : [];
}

export class OtlpTransport implements Transport {
  readonly #data: ExportWorkerData & { maxInFlight: number };
  readonly #pending = new Map<number, Pending>();
  #inThread: Poster | undefined;
  #inThreadError: string | undefined;
  #worker: Worker | undefined;
  #workerAnswered = false;
  #useThread: boolean;
  #nextId = 1;
  #shutdown = false;

  constructor(opts: TransportOptions) {
    this.#data = {
      url: opts.url, headers: opts.headers, timeoutMs: opts.timeoutMs, maxInFlight: Math.max(1, opts.maxInFlight ?? 2),
      contentType: opts.contentType, compression: opts.compression,
    };
    this.#useThread = opts.thread === 'main';
  }

  send(body: Uint8Array, done: Done): void {
    if (this.#shutdown) return safeDone(done, failed('exporter is shut down'));
    if (this.#pending.size >= this.#data.maxInFlight) return safeDone(done, failed(`${this.#data.maxInFlight} exports already in flight`));
    const worker = this.#useThread ? undefined : this.#ensureWorker();
    if (worker === undefined) return this.#postInThread(body, done);
    const id = this.#nextId++;
    const guard = setTimeout(() => this.#answer(id, failed(`the export worker did not answer within ${this.#data.timeoutMs + GUARD_GRACE_MS} ms`)),
      this.#data.timeoutMs + GUARD_GRACE_MS);
    guard.unref();
    const job: ExportJob = { id, body };
    // A transferred body is gone from this thread. Until the worker has answered once it may be
    // one that cannot start here, so its first bodies are copied and kept to be sent in-thread.
    const transfer = this.#workerAnswered ? transferList(body) : [];
    this.#pending.set(id, { body: transfer.length === 0 ? body : undefined, done, guard });
    try {
      worker.postMessage(job, transfer);
    } catch (err) {
      this.#answer(id, failed(`could not hand the batch to the export worker: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  #answer(id: number, result: ExportResult): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#pending.delete(id);
    clearTimeout(p.guard);
    safeDone(p.done, result);
  }

  #postInThread(body: Uint8Array, done: Done): void {
    if (this.#inThread === undefined && this.#inThreadError === undefined) {
      try {
        this.#inThread = createPoster(this.#data);
      } catch (err) {
        this.#inThreadError = `cannot export to this endpoint: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    if (this.#inThread === undefined) return safeDone(done, failed(this.#inThreadError ?? 'no exporter'));
    this.#inThread.post(body, (r) => safeDone(done, resultOf(r)));
  }

  /** The running worker, a new one, or undefined when none can start here (then this thread exports). */
  #ensureWorker(): Worker | undefined {
    if (this.#worker) return this.#worker;
    let worker: Worker;
    try {
      // A clean execArgv: the worker needs only Node built-ins, and must not inherit flags workers
      // reject (--input-type) or the application's --import/--require hooks (an APM agent would
      // otherwise trace our export requests).
      worker = new Worker(workerFile, { workerData: this.#data, execArgv: [] });
    } catch {
      this.#useThread = true;
      return undefined;
    }
    worker.on('message', (reply: ExportReply) => {
      this.#workerAnswered = true;
      this.#answer(reply.id, resultOf(reply));
    });
    worker.on('error', (err) => this.#workerGone(worker, `export worker failed: ${err.message}`));
    worker.on('exit', (code) => this.#workerGone(worker, `export worker exited (${code})`));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  #workerGone(worker: Worker, why: string): void {
    try {
      if (this.#worker === worker) this.#worker = undefined;
      // A worker that never answered could not start here (some process flags make every
      // worker fail): export in this thread from now on, starting with what was waiting.
      const moveToThread = !this.#workerAnswered && !this.#shutdown;
      if (moveToThread) this.#useThread = true;
      for (const [id, p] of [...this.#pending]) {
        this.#pending.delete(id);
        clearTimeout(p.guard);
        if (moveToThread && p.body !== undefined) this.#postInThread(p.body, p.done);
        else safeDone(p.done, failed(why));
      }
    } catch {
      // never into the worker's 'error'/'exit' listener: that would be an uncaught exception
    }
  }

  async shutdown(): Promise<void> {
    this.#shutdown = true;
    const worker = this.#worker;
    this.#worker = undefined;
    for (const id of [...this.#pending.keys()]) this.#answer(id, failed('exporter is shut down'));
    this.#inThread?.close();
    if (worker) await worker.terminate().catch(() => undefined);
  }
}
