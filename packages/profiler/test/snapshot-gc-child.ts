// Child process for the snapshot-GC test: `node snapshot-gc-child.ts DIR [keep]`. Measures the GC
// time of a fixed allocation workload before and after a bundle with a heap snapshot, and prints
// `{"before": ms, "after": ms, "snapshot": status}` (the least of 5 rounds each). Exits on its own
// after 60 s whatever happens.
import { PerformanceObserver } from 'node:perf_hooks';
import { createProfiler } from '@tailtrace/profiler';

const [dir, keep] = process.argv.slice(2);
const guard = setTimeout(() => process.exit(3), 60_000);
guard.unref();

let gcMs = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
obs.observe({ entryTypes: ['gc'] });
// A service's long-lived state, and its short-lived garbage per request.
const live = Array.from({ length: 200_000 }, (_, i) => ({ i, name: `live-${i}` }));

async function round(): Promise<number> {
  gcMs = 0;
  let junk: unknown[] = [];
  for (let i = 0; i < 2_000_000; i++) {
    junk.push({ a: i, b: [i] });
    if (junk.length > 50_000) junk = [];
  }
  await new Promise((r) => setTimeout(r, 50));
  return gcMs;
}
// The least GC time of 5 rounds: what the work costs the collector. A loaded machine only ever
// adds to a round's GC time (pauses are wall-clock, helper threads wait for a core), so the
// minimum is the reading least disturbed by it; a median of 3 let one busy stretch decide.
const rounds = async () => {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) xs.push(await round());
  return Math.min(...xs);
};

const profiler = createProfiler({
  serviceName: 'snapshot-gc',
  heapSampling: false,
  evidence: { dir: dir!, baselineEveryMs: false, heapGrowth: false, heapLimit: false, keepSnapshotObjectIds: keep === 'keep' },
});
await round(); // warm-up
const before = await rounds();
const r = await profiler.capture('signal', { snapshot: true });
const after = await rounds();
await profiler.stop();
obs.disconnect();
process.stdout.write(`${JSON.stringify({ before, after, snapshot: r.manifest?.snapshot.status, live: live.length })}\n`);
process.exit(0);
