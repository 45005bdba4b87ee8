// Runs in a worker thread: POSTs OTLP request bodies that the main thread already encoded
// (compressing them here when asked).
// Keeping all HTTP client work in this isolate matters for speed: when the exporter's requests
// go through the same stream code as the service's responses, V8 re-optimizes that code for both
// kinds of object and every response of the service pays for it (measured: +10 µs per request
// with 10% sampling, +20 µs always-on, on a ~40 µs express request). Deadlines and the bound on
// requests in flight are the poster's (otlp-post.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { createPoster } from './otlp-post.ts';
import type { PostResult } from './otlp-post.ts';

export interface ExportWorkerData {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  maxInFlight: number;
  contentType?: string;
  compression?: 'gzip' | 'none';
}
export interface ExportJob {
  id: number;
  body: Uint8Array;
}
export type ExportReply = { id: number } & PostResult;

const data = workerData as ExportWorkerData;
const poster = createPoster(data);

parentPort!.on('message', (job: ExportJob) => {
  poster.post(job.body, (result) => {
    const reply: ExportReply = { id: job.id, ...result };
    parentPort!.postMessage(reply);
  });
});
