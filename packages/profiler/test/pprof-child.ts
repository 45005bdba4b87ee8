// Child process for heap-sampler.test.ts: samples its heap, retains a known amount in a named
// function, serves /debug/pprof on 127.0.0.1 and spins a named hot function on request.
import { createServer } from 'node:http';
import { createDebugHandler, startHeapSampling } from '@tailtrace/profiler';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const intervalBytes = Number(process.env.TT_INTERVAL ?? 65536);
const arrays = Number(process.env.TT_ARRAYS ?? 4000);
const backend = (process.env.TT_BACKEND ?? 'auto') as 'auto' | 'inspector' | 'datadog';
const sampler = startHeapSampling({ intervalBytes, backend });

const retained: number[][] = [];
function allocateRetained(n: number): void {
  for (let i = 0; i < n; i++) retained.push(new Array<number>(1000).fill(i));
}
gc();
const before = process.memoryUsage().heapUsed;
allocateRetained(arrays);
gc();
// Ground truth independent of the sampler: what the retained arrays added to the heap.
const retainedBytes = process.memoryUsage().heapUsed - before;

let sink = 0;
let spinUntil = 0;
let spinTimer: NodeJS.Timeout | undefined;
// The timer callback itself, so V8 cannot inline it into a caller and credit the caller instead.
function spinHot(): void {
  if (Date.now() > spinUntil) {
    clearInterval(spinTimer);
    return;
  }
  const end = performance.now() + 8;
  let x = sink;
  // Mostly arithmetic between clock reads, so the profile's flat time lands here.
  while (performance.now() < end) for (let i = 0; i < 20_000; i++) x = Math.sqrt(x + i) * 1.0000001;
  sink = x;
}

const pprof = createDebugHandler({ sampler, maxCpuSeconds: 10 });
const server = createServer((req, res) => {
  if (pprof(req, res)) return;
  if (req.url?.startsWith('/spin')) {
    // ~80% of one core in 8 ms slices, so the server still answers while the profile runs.
    spinUntil = Date.now() + 1000 * Number(new URL(req.url, 'http://x').searchParams.get('seconds') ?? '3');
    clearInterval(spinTimer);
    spinTimer = setInterval(spinHot, 10);
    res.end('spinning\n');
    return;
  }
  res.writeHead(404).end();
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ port, retainedBytes, arrays, retainedLength: retained.length, backend: sampler.backend })}\n`);
});
process.on('SIGTERM', () => {
  clearInterval(spinTimer);
  server.close();
  void sampler.stop().then(() => process.exit(0));
});
