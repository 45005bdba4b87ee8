// gateway.mjs as CommonJS.
const { join } = require('node:path');
const express = require('express');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { instrument } = require('@tailtrace/instrument');

const tt = instrument({ serviceName: process.env.SERVICE });
const definition = protoLoader.loadSync(join(__dirname, 'hello.proto'), { keepCase: true, defaults: true });
const { Greeter } = grpc.loadPackageDefinition(definition).hello;
let stop = async () => {};

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
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), async (err, port) => {
    if (err) throw err;
    const metrics = await tt.startMetricsServer();
    stop = async () => server.forceShutdown();
    console.log(`READY ${JSON.stringify({ grpc: port, metrics: metrics.url })}`);
  });
} else {
  const client = new Greeter(process.env.GRPC_TARGET, grpc.credentials.createInsecure(), { interceptors: [tt.grpcClientInterceptor] });
  const app = express();
  app.use(tt);
  app.get('/greet/:name', (req, res, next) => {
    client.SayHello({ name: req.params.name }, (err, reply) => (err ? next(err) : res.json({ greeting: reply.message })));
  });
  app.use(tt.errorHandler);
  const server = app.listen(0, '127.0.0.1', async () => {
    const metrics = await tt.startMetricsServer();
    stop = async () => {
      client.close();
      server.close();
    };
    console.log(`READY ${JSON.stringify({ http: server.address().port, metrics: metrics.url })}`);
  });
}

process.once('SIGTERM', async () => {
  await stop();
  await tt.shutdown();
  console.log('STOPPED');
});
