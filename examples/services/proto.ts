// Loads orders.proto once; both the orders server and its clients (gateway, load driver) use it.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const ORDERS_PROTO = fileURLToPath(new URL('../proto/orders.proto', import.meta.url));

export interface LineItem { sku: string; quantity: number; price_cents: number | string }
export interface Order {
  id: string;
  customer: string;
  items: LineItem[];
  total_cents: number | string;
  note: string;
  in_stock: number;
}
export interface GetOrderRequest { id: string; payload_bytes?: number }

export type OrderServiceClient = grpc.Client & {
  Get(req: GetOrderRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Order) => void): grpc.ClientUnaryCall;
  Get(req: GetOrderRequest, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: Order) => void): grpc.ClientUnaryCall;
  Get(req: GetOrderRequest, cb: (err: grpc.ServiceError | null, res?: Order) => void): grpc.ClientUnaryCall;
  List(req: { limit: number }, md?: grpc.Metadata): grpc.ClientReadableStream<Order>;
  Track(md?: grpc.Metadata): grpc.ClientDuplexStream<{ id: string }, { id: string; status: string }>;
};

type ClientCtor = new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ClientOptions) => OrderServiceClient;

export function loadOrders(): { service: grpc.ServiceDefinition; Client: ClientCtor } {
  const def = protoLoader.loadSync(ORDERS_PROTO, { keepCase: true, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { orders: { OrderService: ClientCtor & { service: grpc.ServiceDefinition } } };
  return { service: pkg.orders.OrderService.service, Client: pkg.orders.OrderService };
}
