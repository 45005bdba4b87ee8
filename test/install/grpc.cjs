// grpc.mjs as CommonJS.
const { join } = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { instrument } = require('@tailtrace/instrument');

const tt = instrument({ serviceName: process.env.SERVICE });
const definition = protoLoader.loadSync(join(__dirname, 'hello.proto'), { keepCase: true, defaults: true });
const { Greeter } = grpc.loadPackageDefinition(definition).hello;

const server = new grpc.Server({ interceptors: [tt.grpcServerInterceptor] });
server.addService(Greeter.service, {
  SayHello(call, callback) {
    callback(null, { message: `hello ${call.request.name}` });
  },
  Count(call) {
    for (let i = 0; i < call.request.n; i++) call.write({ i });
    call.end();
  },
});

let client;
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  client = new Greeter(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { interceptors: [tt.grpcClientInterceptor] });
  client.SayHello({ name: 'grpc' }, (err2, reply) => {
    if (err2) throw err2;
    const counted = [];
    client.Count({ n: 3 })
      .on('data', (m) => counted.push(m.i))
      .on('error', (err3) => {
        throw err3;
      })
      .on('end', async () => {
        const metrics = await tt.startMetricsServer();
        console.log(`READY ${JSON.stringify({ grpc: port, metrics: metrics.url, reply: reply.message, counted })}`);
      });
  });
});

process.once('SIGTERM', async () => {
  client?.close();
  server.forceShutdown();
  await tt.shutdown();
  console.log('STOPPED');
});
