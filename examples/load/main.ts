// The load driver as its own process (so it does not share a core's event loop with the
// services). Configuration arrives as JSON in argv[2]; results go back over IPC, or to stdout
// when started by hand.
import { constantRate } from './driver.ts';
import type { LoadResult } from './driver.ts';
import { grpcClient, httpClient } from './clients.ts';

export interface DriverConfig {
  gatewayUrl: string;
  ordersAddr: string;
  rate: number;
  /** gRPC requests per second to orders (default: rate; 0: none). */
  grpcRate?: number;
  durationS: number;
  warmupS: number;
}
export interface DriverResult {
  http: LoadResult;
  grpc: LoadResult;
}
export type DriverMessage = { type: 'slow'; traceId: string; latencyMs: number } | { type: 'result'; result: DriverResult };

const tell = (msg: DriverMessage, done: () => void = () => {}) => {
  if (process.send) process.send(msg, done);
  else if (msg.type === 'result') process.stdout.write(`${JSON.stringify(msg.result)}\n`, done);
};
const onSlow = (s: { traceId: string; latencyMs: number }) => tell({ type: 'slow', ...s });

const cfg = JSON.parse(process.argv[2] ?? '{}') as DriverConfig;
const http = httpClient(cfg.gatewayUrl, (i) => `/api/orders/${i % 1000}`);
const grpc = grpcClient(cfg.ordersAddr);

const grpcRate = cfg.grpcRate ?? cfg.rate;
const idle = (durationS: number): Promise<LoadResult> =>
  Promise.resolve({ requests: 0, errors: 0, timedOut: 0, durationS, rps: 0, avgMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, slowest: [], histogram: '' });

async function main(): Promise<void> {
  if (cfg.warmupS > 0) {
    await Promise.all([
      constantRate({ rate: cfg.rate, durationS: cfg.warmupS, send: http.send, keepSlowest: 0 }),
      grpcRate > 0 ? constantRate({ rate: grpcRate, durationS: cfg.warmupS, send: grpc.send, keepSlowest: 0 }) : idle(cfg.warmupS),
    ]);
  }
  const [h, g] = await Promise.all([
    constantRate({ rate: cfg.rate, durationS: cfg.durationS, send: http.send, onSlow }),
    grpcRate > 0 ? constantRate({ rate: grpcRate, durationS: cfg.durationS, send: grpc.send, onSlow }) : idle(cfg.durationS),
  ]);
  http.close();
  grpc.close();
  tell({ type: 'result', result: { http: h, grpc: g } }, () => process.exit(0));
}

void main();
