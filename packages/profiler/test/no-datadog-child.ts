// Child process for heap-sampler.test.ts: loads the profiler from a copy of its sources (argv[2],
// the index.ts of a copy outside any node_modules, so @datadog/pprof cannot be resolved) and
// reports what startHeapSampling does without the optional peer dependency.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const index = process.argv[2];
if (!index) throw new Error('usage: no-datadog-child.ts <path of the copied src/index.ts>');
const url = pathToFileURL(index).href;
let resolvable = true;
try {
  createRequire(url).resolve('@datadog/pprof');
} catch {
  resolvable = false;
}
const profiler = (await import(url)) as typeof import('@tailtrace/profiler');

let datadogError = '';
try {
  profiler.startHeapSampling({ backend: 'datadog' });
} catch (err) {
  datadogError = (err as Error).message;
}

const s = profiler.startHeapSampling({ intervalBytes: 65536 });
const keep: number[][] = [];
function retainWithoutDatadog(): void {
  for (let i = 0; i < 2000; i++) keep.push(new Array<number>(1000).fill(i));
}
retainWithoutDatadog();
const p = await s.profile();
const fn = p.functions.find((f) => f.name === 'retainWithoutDatadog');
const locs = new Set(p.locations.filter((l) => l.lines[0]!.functionId === fn?.id).map((l) => l.id));
const bytes = p.samples.filter((x) => locs.has(x.locationIds[0]!)).reduce((a, x) => a + x.values[1]!, 0);
await s.stop();
process.stdout.write(`${JSON.stringify({ resolvable, datadogError, backend: s.backend, comment: p.comments[0], bytes, kept: keep.length })}\n`);
