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

async function main(): Promise<void> {
  if (cfg.warmupS > 0) {
    await Promise.all([
      constantRate({ rate: cfg.rate, durationS: cfg.warmupS, send: http.send, keepSlowest: 0 }),
      constantRate({ rate: cfg.rate, durationS: cfg.warmupS, send: grpc.send, keepSlowest: 0 }),
    ]);
  }
  const [h, g] = await Promise.all([
    constantRate({ rate: cfg.rate, durationS: cfg.durationS, send: http.send, onSlow }),
    constantRate({ rate: cfg.rate, durationS: cfg.durationS, send: grpc.send, onSlow }),
  ]);
  http.close();
  grpc.close();
  tell({ type: 'result', result: { http: h, grpc: g } }, () => process.exit(0));
}

void main();
