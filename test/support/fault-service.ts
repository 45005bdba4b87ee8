// The service of the Collector-fault memory tests, run as a child with --expose-gc: an express app
// with instrument(), driving itself at a constant rate over keep-alive (every request makes a
// server and a client span), exporting to whatever OTEL_EXPORTER_OTLP_ENDPOINT points at. Every
// second it takes heap-after-GC, arrayBuffers and RSS; at the end it prints one JSON line with
// the samples, the requests served, tracing.stats() and the span export series of /metrics.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { instrument } from '@tailtrace/instrument';

export interface MemorySample { t: number; heapMb: number; arrayBuffersMb: number; rssMb: number }
export interface FaultServiceResult {
  samples: MemorySample[];
  sent: number;
  ok: number;
  errors: number;
  /** Why requests failed: error code or HTTP status, with counts. */
  why: Record<string, number>;
  /** Requests sent a second time after a reset on a reused keep-alive socket. */
  retried: number;
  stats: ReturnType<ReturnType<typeof instrument>['tracing']['stats']>;
  exposition: string[];
}

const seconds = Number(process.env.FAULT_SECONDS ?? 20);
const rate = Number(process.env.FAULT_RATE ?? 200);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const tt = instrument({ serviceName: 'fault-svc', quiet: true, heapProfile: false, evidence: false });
const app = express();
app.use(tt);
app.get('/work/:id', (req, res) => {
  res.json({ id: req.params.id, note: 'x'.repeat(200) });
});
const server = app.listen(0, '127.0.0.1');
await new Promise<void>((r) => server.once('listening', () => r()));
const { port } = server.address() as AddressInfo;
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

let sent = 0;
let ok = 0;
let errors = 0;
const why: Record<string, number> = {};
const failed = (reason: string): void => {
  errors++;
  why[reason] = (why[reason] ?? 0) + 1;
};
let retried = 0;
const one = (i: number, retry = false): void => {
  if (!retry) sent++;
  const req = http.get({ host: '127.0.0.1', port, path: `/work/${i}`, agent, timeout: 10_000 }, (res) => {
    res.resume();
    res.on('end', () => (res.statusCode === 200 ? ok++ : failed(`HTTP ${res.statusCode}`)));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (err: NodeJS.ErrnoException) => {
    // The keep-alive race every HTTP client meets (see the load driver in examples/load/clients.ts):
    // a GET on a reused socket the server closed never reached it; sent again once, and counted.
    if (!retry && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
      retried++;
      one(i, true);
      return;
    }
    failed(`${err.code ?? err.message}${req.reusedSocket ? ' (reused socket)' : ''}`);
  });
};

const mb = (n: number): number => n / 2 ** 20;
const samples: MemorySample[] = [];
const t0 = performance.now();
const sample = (): void => {
  gc();
  const m = process.memoryUsage();
  samples.push({ t: (performance.now() - t0) / 1000, heapMb: mb(m.heapUsed), arrayBuffersMb: mb(m.arrayBuffers), rssMb: mb(m.rss) });
};

// Constant rate: every 10 ms, send what is due by the clock (a late tick catches up; bounded:
// stops at `seconds`, at most one second's worth per tick).
const load = setInterval(() => {
  const due = Math.min(Math.floor(((performance.now() - t0) / 1000) * rate), Math.ceil(seconds * rate));
  for (let n = 0; sent < due && n < rate; n++) one(sent);
}, 10);
const sampler = setInterval(sample, 1000);
await new Promise((r) => setTimeout(r, seconds * 1000));
clearInterval(load);
clearInterval(sampler);
await new Promise((r) => setTimeout(r, 500)); // the last responses
sample();

const text = (await tt.metrics.render()).body;
const result: FaultServiceResult = {
  samples, sent, ok, errors, why, retried, stats: tt.tracing.stats(),
  exposition: text.split('\n').filter((l) => l.startsWith('tailtrace_span')),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
agent.destroy();
server.close();
await tt.shutdown(1000);
