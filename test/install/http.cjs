// http.mjs as CommonJS.
const { createServer } = require('node:http');
const { instrument } = require('@tailtrace/instrument');

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

stock.listen(0, '127.0.0.1', () => {
  front.listen(0, '127.0.0.1', async () => {
    const metrics = await tt.startMetricsServer();
    console.log(`READY ${JSON.stringify({ http: front.address().port, metrics: metrics.url })}`);
  });
});

process.once('SIGTERM', async () => {
  front.close();
  stock.close();
  await tt.shutdown();
  console.log('STOPPED');
});
