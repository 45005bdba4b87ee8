// inventory: a plain express service the orders backend calls with fetch(). One request in a
// hundred waits a few milliseconds (a slow disk, say), which gives the latency a real tail.
import express from 'express';
import type { AddressInfo } from 'node:net';
import { startHost } from './host.ts';

const host = startHost('inventory');
const app = express();
app.use(host.inst);
app.use(host.scenarios.middleware);

let n = 0;
app.get('/stock/:sku', (req, res) => {
  n = (n + 1) % 1_000_000;
  const reply = () => res.json({ sku: req.params.sku, inStock: (n * 7919) % 97 });
  if (n % 100 === 0) setTimeout(reply, 4 + (n % 7));
  else reply();
});
app.get('/health', (_req, res) => {
  res.send('ok');
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  // /metrics and /debug/pprof on the service's own metrics port, never on the public app port.
  void host.metricsUrl(async () => (await host.inst.startMetricsServer()).url).then((url) => host.ready(port, url, () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); })));
});
