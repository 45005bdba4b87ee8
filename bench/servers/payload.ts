// ~1 KB JSON body / gRPC message shared by every variant so only instrumentation differs.
export const ITEM = {
  id: 'order-42',
  customer: 'customer-42',
  items: Array.from({ length: 8 }, (_, i) => ({ sku: `sku-${i}`, quantity: i + 1, price_cents: 1000 + i })),
  total_cents: 8036,
  note: 'x'.repeat(560),
  in_stock: 7,
};
