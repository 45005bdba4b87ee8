// gateway: the express edge. GET /api/orders/:id calls orders.OrderService/Get over gRPC with
// the tailtrace client interceptor, so the trace continues into the backend.
import express from 'express';
import * as grpc from '@grpc/grpc-js';
import type { AddressInfo } from 'node:net';
import { env, startHost } from './host.ts';
import { loadOrders } from './proto.ts';
import { OrderSession, SessionHistory } from './leak.ts';

const host = startHost('gateway');
const { Client } = loadOrders();
const orders = new Client(env('ORDERS_ADDR'), grpc.credentials.createInsecure(), {
  interceptors: [host.inst.grpcClientInterceptor],
});
const payloadBytes = Number(process.env.PAYLOAD_BYTES ?? 1024);
// The leak scenario (`npm run demo -- --scenario leak`) switches this on over IPC.
const history = new SessionHistory();
host.onScenario('leak', () => history.enable());

const app = express();
app.use(host.inst);
app.use(host.scenarios.middleware);

const api = express.Router();
api.get('/orders/:id', (req, res, next) => {
  // x-deadline-ms lets a caller shorten the backend deadline (tests use it to see one expire).
  const deadline = Date.now() + Math.min(Number(req.get('x-deadline-ms')) || 2000, 2000);
  if (history.enabled) res.set('x-top-session', history.record(new OrderSession(req.params.id, req.get('user-agent') ?? '', req.ip ?? '')));
  orders.Get({ id: req.params.id, payload_bytes: payloadBytes }, new grpc.Metadata(), { deadline }, (err, order) => {
    if (err) {
      if (err.code === grpc.status.NOT_FOUND) return void res.status(404).json({ error: err.details });
      return next(err);
    }
    res.json(order);
  });
});
app.use('/api', api);
app.get('/health', (_req, res) => {
  res.send('ok');
});
// Errors from the backend become 502s (recorded on the span by errorHandler), not stack traces on
// stderr: under the leak scenario's overload, deadlines expire by the hundred.
app.use(host.inst.errorHandler);
app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
  const code = (err as { code?: unknown }).code;
  res.status(code === grpc.status.DEADLINE_EXCEEDED ? 504 : 502).json({ error: (err as Error).message ?? String(err) });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  // /metrics and /debug/pprof on the service's own metrics port, never on the public app port.
  void host.metricsUrl(async () => (await host.inst.startMetricsServer()).url).then((url) => host.ready(port, url, () => new Promise((r) => { orders.close(); server.close(() => r()); server.closeAllConnections(); })));
});
