// An express-only service (express@5, no @grpc/grpc-js installed), written as a user would.
// Protocol with test/install.test.ts: prints `READY {json}` once serving, shuts down on SIGTERM
// and prints `STOPPED`; the process must then end by itself.
import express from 'express';
import { instrument } from '@tailtrace/instrument';

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
