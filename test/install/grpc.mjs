// A gRPC-only service (@grpc/grpc-js + @grpc/proto-loader, no express installed): a server and
// a client of it, both with the interceptors. The client's calls run before READY, so the test
// finds their spans and metrics. Protocol with test/install.test.ts: see express.mjs.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { instrument } from '@tailtrace/instrument';

const tt = instrument({ serviceName: process.env.SERVICE });
const definition = protoLoader.loadSync(fileURLToPath(new URL('./hello.proto', import.meta.url)), { keepCase: true, defaults: true });
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
// Registered before READY: the test may send SIGTERM as soon as it reads that line.
process.once('SIGTERM', async () => {
  client?.close();
  server.forceShutdown();
  await tt.shutdown();
  console.log('STOPPED');
});

const port = await new Promise((resolve, reject) => {
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
});

client = new Greeter(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { interceptors: [tt.grpcClientInterceptor] });
const reply = await new Promise((resolve, reject) => {
  client.SayHello({ name: 'grpc' }, (err, r) => (err ? reject(err) : resolve(r)));
});
const counted = await new Promise((resolve, reject) => {
  const got = [];
  client.Count({ n: 3 }).on('data', (m) => got.push(m.i)).on('end', () => resolve(got)).on('error', reject);
});
const metrics = await tt.startMetricsServer();
console.log(`READY ${JSON.stringify({ grpc: port, metrics: metrics.url, reply: reply.message, counted })}`);
