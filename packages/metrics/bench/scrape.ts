// Time of a full /metrics render (runtime defaults included). Bar: 2,000 series < 10 ms.
// "Series" is counted two ways and both are printed:
//  A. Prometheus series (one per sample line): 65 histogram label sets x 24 lines + 65 HDR
//     operations x 6 lines = 1,950 series, + ~100 runtime series.
//  B. 2,000 label sets: 1,000 histogram label sets (24 lines each, exemplars) + 1,000 HDR
//     operations — ~30,000 sample lines, ~4 MB.
// prom-client's own registry.metrics() on the same data is printed for reference.
// Run: node --conditions=tailtrace-source packages/metrics/bench/scrape.ts
import { createMetrics } from '@tailtrace/metrics';
import type { Metrics } from '@tailtrace/metrics';

const ROUNDS = 30;
const OM = 'application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3';

function populate(m: Metrics, labelSets: number, hdrOnly: number): void {
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
  // One histogram label set and one HDR operation per client host.
  for (let i = 0; i < labelSets; i++) {
    for (let k = 0; k < 50; k++) {
      m.record({ kind: 'http_client', method: 'GET', serverAddress: `backend-${i}.svc.cluster.local`, statusCode: 200, durationS: 0.001 + ((k * 7919 + i) % 997) / 997 * 0.4, traceId: k % 10 === 0 ? trace : undefined, spanId: '00f067aa0ba902b7' });
    }
  }
  // HDR-only operations are not possible through record(); use extra rpc label sets whose
  // histogram series are counted in the totals printed below.
  for (let i = 0; i < hdrOnly; i++) {
    for (let k = 0; k < 50; k++) {
      m.record({ kind: 'rpc_client', rpcService: `svc${i % 50}.S`, rpcMethod: `M${Math.floor(i / 50)}`, grpcStatusCode: 0, durationS: 0.0005 + (k % 97) / 97 * 0.2 });
    }
  }
}

async function time(label: string, fn: () => Promise<number>): Promise<number> {
  for (let i = 0; i < 5; i++) await fn();
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    bytes = await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ROUNDS / 2)]!;
  console.log(`${label.padEnd(58)} median ${median.toFixed(2).padStart(6)} ms  p90 ${ms[Math.floor(ROUNDS * 0.9)]!.toFixed(2).padStart(6)} ms  ${(bytes / 1024).toFixed(0)} KiB`);
  return median;
}

const scenarios: [string, number, number][] = [
  ['A: ~2,000 Prometheus series (65 histogram label sets + 65 HDR ops + runtime)', 65, 0],
  ['B: 1,000 histogram label sets + 1,000 HDR ops', 1000, 0],
];
for (const [name, sets, extra] of scenarios) {
  const m = createMetrics({ maxSeriesPerMetric: 5000 });
  populate(m, sets, extra);
  const lines = (await m.render()).body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  console.log(`${name}: ${lines} sample lines, ${m.hdr.operations().length} HDR ops`);
  const om = await time('  OpenMetrics', async () => (await m.render(OM)).body.length);
  const text = await time('  classic text', async () => (await m.render()).body.length);
  await time('  prom-client registry.metrics() (reference)', async () => (await m.registry.metrics()).length);
  console.log(`  bar < 10 ms: OpenMetrics ${om < 10 ? 'PASS' : 'FAIL'}, classic ${text < 10 ? 'PASS' : 'FAIL'}`);
  m.close();
}
