// orders: the gRPC backend. Get looks up stock with fetch() (an outgoing HTTP hop, traced
// through diagnostics_channel) and answers an order padded to the requested payload size.
import * as grpc from '@grpc/grpc-js';
import { env, startHost } from './host.ts';
import { loadOrders } from './proto.ts';
import type { GetOrderRequest, Order } from './proto.ts';

const host = startHost('orders');
const inventory = env('INVENTORY_URL');
const { service } = loadOrders();
const pad = (n: number) => 'x'.repeat(Math.min(n, 64 * 1024));

async function getOrder(req: GetOrderRequest): Promise<Order> {
  const sku = `sku-${req.id}`;
  const r = await fetch(`${inventory}/stock/${encodeURIComponent(sku)}`);
  if (!r.ok) throw Object.assign(new Error(`inventory answered ${r.status}`), { code: grpc.status.UNAVAILABLE });
  const stock = (await r.json()) as { inStock: number };
  return {
    id: req.id,
    customer: `customer-${req.id}`,
    items: [{ sku, quantity: 2, price_cents: 1250 }],
    total_cents: 2500,
    note: pad(req.payload_bytes ?? 0),
    in_stock: stock.inStock,
  };
}

const server = new grpc.Server({ interceptors: [host.inst.grpcServerInterceptor] });
server.addService(service, {
  Get(call: grpc.ServerUnaryCall<GetOrderRequest, Order>, cb: grpc.sendUnaryData<Order>) {
    if (call.request.id === 'missing') return cb({ code: grpc.status.NOT_FOUND, details: 'no such order' });
    // 'slow' lets tests and users see a deadline expire on the caller's side.
    if (call.request.id === 'slow') return void setTimeout(() => cb(null, { id: 'slow', customer: '', items: [], total_cents: 0, note: '', in_stock: 0 }), 300);
    getOrder(call.request).then(
      (order) => cb(null, order),
      (err: Error & { code?: number }) => cb({ code: err.code ?? grpc.status.INTERNAL, details: err.message }),
    );
  },
  List(call: grpc.ServerWritableStream<{ limit: number }, Order>) {
    const limit = Math.min(call.request.limit || 3, 100);
    for (let i = 0; i < limit; i++) {
      call.write({ id: String(i), customer: `customer-${i}`, items: [], total_cents: 0, note: '', in_stock: 0 });
    }
    call.end();
  },
  Track(call: grpc.ServerDuplexStream<{ id: string }, { id: string; status: string }>) {
    call.on('data', (m: { id: string }) => call.write({ id: m.id, status: 'shipped' }));
    call.on('end', () => call.end());
  },
});

server.bindAsync(`127.0.0.1:${process.env.PORT ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  void host.metricsUrl(async () => (await host.inst.startMetricsServer()).url).then((url) => {
    host.ready(port, url, () => new Promise((r) => server.tryShutdown(() => r())));
  });
});
