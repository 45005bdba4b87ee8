// A plain node:http service with neither express nor @grpc/grpc-js: `tt` as the first step of
// a request handler, and an outgoing fetch() to a second server (traced via diagnostics_channel).
// Protocol with test/install.test.ts: see express.mjs.
import { createServer } from 'node:http';
import { instrument } from '@tailtrace/instrument';

const tt = instrument({ serviceName: process.env.SERVICE });
const json = (res, body) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
};

const stock = createServer((req, res) => tt(req, res, () => json(res, { stock: 7 })));
const front = createServer((req, res) => tt(req, res, async () => {
  const r = await fetch(`http://127.0.0.1:${stock.address().port}/stock`);
  json(res, { front: true, stock: (await r.json()).stock });
}));

// Registered before READY: the test may send SIGTERM as soon as it reads that line.
process.once('SIGTERM', async () => {
  front.close();
  stock.close();
  await tt.shutdown();
  console.log('STOPPED');
});

await new Promise((resolve) => stock.listen(0, '127.0.0.1', resolve));
await new Promise((resolve) => front.listen(0, '127.0.0.1', resolve));
const metrics = await tt.startMetricsServer();
console.log(`READY ${JSON.stringify({ http: front.address().port, metrics: metrics.url })}`);
