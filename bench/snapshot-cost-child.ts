// One measurement for bench/snapshot-cost.ts: `node --expose-gc bench/snapshot-cost-child.ts MIX MB OUT`.
// Builds a heap of about MB MiB of heap used with the MIX of objects, then times one
// v8.writeHeapSnapshot() and reports the heap statistics the runtime guard can see beforehand,
// the pause, the file size and the RSS peak the snapshot caused, as one JSON line on stdout.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';

const [mix = 'mixed', mbArg = '50', out = 'cost.heapsnapshot'] = process.argv.slice(2);
const targetBytes = Number(mbArg) * 1024 * 1024;

class Customer {
  id: number;
  name: string;
  email: string;
  constructor(id: number) {
    this.id = id;
    this.name = `customer-${id}`;
    this.email = `c${id}@example.com`;
  }
}
class LineItem {
  sku: string;
  qty: number;
  price: number;
  constructor(i: number) {
    this.sku = `SKU-${i % 5000}`;
    this.qty = 1 + (i % 7);
    this.price = (i % 1000) / 10;
  }
}
class Order {
  id: number;
  customer: Customer;
  items: LineItem[];
  note: string;
  meta: Map<string, string>;
  constructor(id: number, customer: Customer) {
    this.id = id;
    this.customer = customer;
    this.items = [new LineItem(id), new LineItem(id + 1), new LineItem(id + 2)];
    this.note = id % 10 === 0 ? `note ${id} `.repeat(20 + (id % 40)) : '';
    this.meta = new Map([['source', id % 2 === 0 ? 'web' : 'app'], ['trace', `t${id}`]]);
  }
}
class Point {
  x: number;
  y: number;
  z: number;
  constructor(i: number) {
    this.x = i;
    this.y = i + 1;
    this.z = i + 2;
  }
}

const keep: unknown[] = [];
const byKey = new Map<string, unknown>();
let i = 0;

/** mixed: a realistic service cache; objects: only tiny instances (densest graph per byte); strings: mostly text. */
function grow(): void {
  if (mix === 'objects') {
    const arr: Point[] = [];
    for (let k = 0; k < 1000; k++) arr.push(new Point(i++));
    keep.push(arr);
  } else if (mix === 'strings') {
    for (let k = 0; k < 100; k++, i++) {
      byKey.set(`doc:${i}`, `${i}:`.padEnd(200 + (i % 4000), String.fromCharCode(97 + (i % 26))));
    }
  } else {
    for (let k = 0; k < 100; k++, i++) {
      const c = new Customer(i);
      const o = new Order(i, c);
      byKey.set(`order:${i}`, o);
      if (i % 5 === 0) keep.push([i, i * 2, i * 3, `tag-${i}`]);
      if (i % 50 === 0) keep.push('x'.repeat(100 + (i % 3000)) + i);
    }
  }
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
for (let rounds = 0; rounds < 10_000_000; rounds++) {
  grow();
  if (rounds % 50 === 0 && process.memoryUsage().heapUsed >= targetBytes) {
    gc();
    if (process.memoryUsage().heapUsed >= targetBytes) break;
  }
}
(globalThis as Record<string, unknown>).costState = { keep, byKey };
gc();

const status = (): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
    const m = /^(VmRSS|VmHWM):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * 1024;
  }
  return out;
};
// Writing 5 resets VmHWM to the current RSS (Linux >= 4.0), so the peak read after is the snapshot's.
let hwmReset = true;
try {
  writeFileSync('/proc/self/clear_refs', '5');
} catch {
  hwmReset = false;
}
const heap = getHeapStatistics();
const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
const mem = process.memoryUsage();
const before = status();
const t0 = performance.now();
writeHeapSnapshot(out);
const pauseMs = performance.now() - t0;
const after = status();
process.stdout.write(
  `${JSON.stringify({
    mix,
    targetMb: Number(mbArg),
    usedHeapBytes: heap.used_heap_size,
    totalHeapBytes: heap.total_heap_size,
    externalBytes: mem.external,
    largeObjectBytes: spaces['large_object_space'] ?? 0,
    rssBeforeBytes: before['VmRSS'],
    peakRssBytes: after['VmHWM'],
    peakGrowthBytes: (after['VmHWM'] ?? 0) - (before['VmRSS'] ?? 0),
    hwmReset,
    pauseMs: Math.round(pauseMs),
    fileBytes: statSync(out).size,
  })}\n`,
);
