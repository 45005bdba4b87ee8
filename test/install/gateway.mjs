// An express + gRPC service pair: `node gateway.mjs backend` serves hello.Greeter over gRPC,
// `node gateway.mjs gateway` (GRPC_TARGET=host:port) answers GET /greet/:name by calling it.
// One trace must span both processes. Protocol with test/install.test.ts: see express.mjs.
import { fileURLToPath } from 'node:url';
import express from 'express';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { instrument } from '@tailtrace/instrument';

const tt = instrument({ serviceName: process.env.SERVICE });
const definition = protoLoader.loadSync(fileURLToPath(new URL('./hello.proto', import.meta.url)), { keepCase: true, defaults: true });
const { Greeter } = grpc.loadPackageDefinition(definition).hello;
let stop = async () => {};
// Registered before READY: the test may send SIGTERM as soon as it reads that line.
process.once('SIGTERM', async () => {
  await stop();
  await tt.shutdown();
  console.log('STOPPED');
});

if (process.argv[2] === 'backend') {
  const server = new grpc.Server({ interceptors: [tt.grpcServerInterceptor] });
  server.addService(Greeter.service, {
    SayHello(call, callback) {
      callback(null, { message: `hello ${call.request.name}` });
    },
    Count(call) {
      call.end();
    },
  });
  const port = await new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  const metrics = await tt.startMetricsServer();
  stop = async () => server.forceShutdown();
  console.log(`READY ${JSON.stringify({ grpc: port, metrics: metrics.url })}`);
} else {
  const client = new Greeter(process.env.GRPC_TARGET, grpc.credentials.createInsecure(), { interceptors: [tt.grpcClientInterceptor] });
  const app = express();
  app.use(tt);
  app.get('/greet/:name', (req, res, next) => {
    client.SayHello({ name: req.params.name }, (err, reply) => (err ? next(err) : res.json({ greeting: reply.message })));
  });
  app.use(tt.errorHandler);
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const metrics = await tt.startMetricsServer();
  stop = async () => {
    client.close();
    server.close();
  };
  console.log(`READY ${JSON.stringify({ http: server.address().port, metrics: metrics.url })}`);
}
