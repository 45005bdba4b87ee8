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

// 'interceptorOnly': a pass-through interceptor, to show what grpc-js's interceptor machinery
// costs by itself (the floor for any interceptor-based instrumentation).
const passThrough: grpcTypes.ServerInterceptor = (_methodDescriptor, call) => new grpc.ServerInterceptingCall(call);
const interceptors = inst ? [inst.grpcServerInterceptor] : process.env.BENCH_VARIANT === 'interceptorOnly' ? [passThrough] : [];
const server = new grpc.Server({ interceptors });
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
  }, inst ? () => inst.tracing.stats() : undefined);
});
