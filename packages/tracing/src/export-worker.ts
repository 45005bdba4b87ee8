// Runs in a worker thread: POSTs OTLP request bodies that the main thread already serialized.
// Keeping all HTTP client work in this isolate matters for speed: when the exporter's requests
// go through the same stream code as the service's responses, V8 re-optimizes that code for both
// kinds of object and every response of the service pays for it (measured: +10 µs per request
// with 10% sampling, +20 µs always-on, on a ~40 µs express request).
import http from 'node:http';
import https from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';

export interface ExportWorkerData {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
}
export interface ExportJob {
  id: number;
  body: Uint8Array;
}
export interface ExportReply {
  id: number;
  ok: boolean;
  error?: string;
}

const { url, headers, timeoutMs } = workerData as ExportWorkerData;
const target = new URL(url);
const client = target.protocol === 'https:' ? https : http;
// Keep-alive with at most two connections, like the OTLP exporter's concurrency limit.
const agent = new client.Agent({ keepAlive: true, maxSockets: 2 });

function post(job: ExportJob, retried = false): void {
  let done = false;
  const reply = (ok: boolean, error?: string): void => {
    if (done) return;
    done = true;
    const r: ExportReply = error === undefined ? { id: job.id, ok } : { id: job.id, ok, error };
    parentPort!.postMessage(r);
  };
  const req = client.request(
    target,
    {
      method: 'POST',
      agent,
      timeout: timeoutMs,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': job.body.byteLength },
    },
    (res) => {
      res.resume();
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) reply(true);
        else reply(false, `the OTLP endpoint answered HTTP ${status}`);
      });
      res.on('error', (err) => reply(false, err.message));
    },
  );
  req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
  req.on('error', (err: NodeJS.ErrnoException) => {
    // A kept-alive socket the server closed just as we reused it (the race Node's docs describe
    // under request.reusedSocket): the request never reached the server, so send it once more.
    if (!retried && !done && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
      done = true;
      post(job, true);
      return;
    }
    reply(false, err.code ?? err.message);
  });
  req.end(job.body);
}

parentPort!.on('message', (job: ExportJob) => post(job));
