import type * as grpcTypes from '@grpc/grpc-js';
import type * as loaderTypes from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { announce } from './control.ts';
import { answer } from './handler.ts';
import { grpcServerMode, requireCjs, tailtrace } from './variant.ts';

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
const service = def.orders.OrderService.service;
const impl = {
  Get(call: grpcTypes.ServerUnaryCall<{ id: string }, unknown>, cb: grpcTypes.sendUnaryData<unknown>) {
    answer(call.request.id, (item) => cb(null, item), (err) => cb(err));
  },
};
// tailtrace traces the unary handler it wraps (tt.grpcService) unless BENCH_GRPC_SERVER=interceptor
// asks for the interceptor alone: the two ways, compared in the same run.
server.addService(service, inst && grpcServerMode === 'service' ? inst.grpcService(service, impl) : impl);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  announce(port, async () => {
    server.forceShutdown();
    await inst?.shutdown(2000);
  }, inst ? { counts: () => inst.tracing.stats(), flush: () => inst.tracing.forceFlush() } : undefined);
});
