// express.mjs as CommonJS: require() of the ESM packages (require(esm)).
const express = require('express');
const { instrument } = require('@tailtrace/instrument');

const tt = instrument({ serviceName: process.env.SERVICE });
const app = express();
app.use(tt);
app.get('/hello/:name', (req, res) => {
  res.json({ hello: req.params.name });
});
app.use(tt.errorHandler);

const server = app.listen(0, '127.0.0.1', async () => {
  const metrics = await tt.startMetricsServer();
  console.log(`READY ${JSON.stringify({ http: server.address().port, metrics: metrics.url })}`);
});

process.once('SIGTERM', async () => {
  server.close();
  await tt.shutdown();
  console.log('STOPPED');
});
