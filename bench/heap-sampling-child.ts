// One measurement for bench/heap-sampling.ts, in a fresh process:
//   node heap-sampling-child.ts <off|inspector|datadog> <intervalBytes> <heapMb> <seconds> <collects>
// builds a heap of about heapMb of mixed objects, runs an allocation-heavy loop for `seconds`
// and reports ops/s, then times `collects` profile reads of our HeapSampler with that backend
// (collect, encode, gzip) and the size.
import { gzipSync } from 'node:zlib';
import { encodePprof } from '@tailtrace/formats';
import { startHeapSampling } from '@tailtrace/profiler';

const [mode = 'off', intervalArg = '524288', heapMbArg = '150', secondsArg = '4', collectsArg = '3'] = process.argv.slice(2);
const intervalBytes = Number(intervalArg);
const heapMb = Number(heapMbArg);
const seconds = Number(secondsArg);
const collects = Number(collectsArg);

let collect: (() => Promise<{ collectMs: number; encodeMs: number; gzipMs: number; bytes: number }>) | undefined;
if (mode === 'inspector' || mode === 'datadog') {
  // Our sampler with the given backend: collect = V8 read + conversion to our PprofProfile.
  const sampler = startHeapSampling({ intervalBytes, backend: mode });
  if (sampler.backend !== mode) throw new Error(`asked for backend ${mode}, got ${sampler.backend}`);
  collect = async () => {
    const t0 = performance.now();
    const p = await sampler.profile();
    const t1 = performance.now();
    const raw = encodePprof(p);
    const t2 = performance.now();
    const gz = gzipSync(raw);
    const t3 = performance.now();
    return { collectMs: t1 - t0, encodeMs: t2 - t1, gzipMs: t3 - t2, bytes: gz.length };
  };
}

// A long-lived heap like a service's caches: objects, strings, arrays, maps.
class Session {
  id: number;
  user: string;
  roles: string[];
  attrs: Record<string, number | string>;
  constructor(i: number) {
    this.id = i;
    this.user = `user-${i}-${(i * 2654435761) % 100000}`;
    this.roles = i % 3 === 0 ? ['admin', 'user'] : ['user'];
    this.attrs = { visits: i % 97, plan: i % 2 ? 'pro' : 'free', region: `r${i % 13}` };
  }
}
const cache = new Map<number, Session>();
const perItem = 330; // bytes per Session with its strings/arrays, measured on Node 24 x64
for (let i = 0; cache.size < (heapMb * 1024 * 1024) / perItem; i++) cache.set(i, new Session(i));

// Allocation-heavy work: request-shaped objects, a ring of recent ones survives a while.
const ring: unknown[] = new Array(20_000);
let ops = 0;
function handle(i: number): void {
  const req = { id: i, path: `/items/${i % 1000}`, headers: { host: 'x', accept: 'application/json' }, items: [] as { sku: string; qty: number }[] };
  for (let k = 0; k < 8; k++) req.items.push({ sku: `sku-${(i + k) % 5000}`, qty: k });
  ring[i % ring.length] = JSON.stringify(req);
  ops++;
}
const end = performance.now() + seconds * 1000;
let i = 0;
while (performance.now() < end) {
  for (let k = 0; k < 1000; k++) handle(i++);
}
const opsPerSec = ops / seconds;

const reads: { collectMs: number; encodeMs: number; gzipMs: number; bytes: number }[] = [];
for (let k = 0; collect && k < collects; k++) reads.push(await collect());
const heapUsedMb = process.memoryUsage().heapUsed / 1024 / 1024;
process.stdout.write(`${JSON.stringify({ mode, intervalBytes, opsPerSec, heapUsedMb, reads, cacheSize: cache.size })}\n`);
process.exit(0);
