import type * as grpcTypes from '@grpc/grpc-js';
import type * as loaderTypes from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { announce } from './control.ts';
import { ITEM } from './payload.ts';
import { requireCjs, tailtrace } from './variant.ts';

const inst = await tailtrace('bench-grpc');
const grpc = requireCjs('@grpc/grpc-js') as typeof grpcTypes;
const loader = requireCjs('@grpc/proto-loader') as typeof loaderTypes;
const proto = fileURLToPath(new URL('../../examples/proto/orders.proto', import.meta.url));
const def = grpc.loadPackageDefinition(loader.loadSync(proto, { keepCase: true, longs: Number, defaults: true })) as unknown as {
  orders: { OrderService: { service: grpcTypes.ServiceDefinition } };
};

const server = new grpc.Server(inst ? { interceptors: [inst.grpcServerInterceptor] } : {});
server.addService(def.orders.OrderService.service, {
  Get(call: grpcTypes.ServerUnaryCall<{ id: string }, unknown>, cb: grpcTypes.sendUnaryData<unknown>) {
    cb(null, { ...ITEM, id: call.request.id });
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  announce(port, async () => {
    server.forceShutdown();
    await inst?.shutdown(2000);
  });
});
