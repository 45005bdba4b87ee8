// ns per record(): with and without exemplar, the raw HDR record, and baselines from the same run
// (an empty function call, a bare prom-client Histogram.observe with labels, Date.now()).
// Run: node --conditions=tailtrace-source packages/metrics/bench/record.ts
import { Histogram, Registry } from 'prom-client';
import { createMetrics } from '@tailtrace/metrics';
import type { OperationRecord } from '@tailtrace/metrics';
import { createLayout } from '../src/hdr-layout.ts';
import { HdrWindow } from '../src/hdr-window.ts';

const N = Number(process.env.N ?? 2_000_000);
const ROUNDS = 5;

function measure(name: string, fn: (i: number) => void): number {
  for (let i = 0; i < 200_000; i++) fn(i); // warm up / optimize
  const results: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn(i);
    results.push(Number(process.hrtime.bigint() - t0) / N);
  }
  results.sort((a, b) => a - b);
  const median = results[Math.floor(ROUNDS / 2)]!;
  console.log(`${name.padEnd(48)} ${median.toFixed(1).padStart(7)} ns/op (min ${results[0]!.toFixed(1)})`);
  return median;
}

// Realistic shape: 20 routes x 2 status codes, durations 1-300 ms.
const routes = Array.from({ length: 20 }, (_, i) => `/api/v1/resource${i}/:id`);
const durations = Float64Array.from({ length: 4096 }, (_, i) => 0.001 + ((i * 7919) % 4096) / 4096 * 0.3);
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const recs: OperationRecord[] = Array.from({ length: 4096 }, (_, i) => ({
  kind: 'http_server', method: 'GET', route: routes[i % 20]!, statusCode: i % 17 === 0 ? 500 : 200, durationS: durations[i]!,
}));
const recsEx: OperationRecord[] = recs.map((r) => ({ ...r, traceId: TRACE, spanId: SPAN }));

let sink = 0;
function empty(x: number): void {
  sink += x;
}
const baseline = measure('baseline: empty function call', (i) => empty(i));
measure('baseline: Date.now()', () => {
  sink += Date.now();
});
const reg = new Registry();
const ph = new Histogram({ name: 'h', help: 'h', labelNames: ['m', 'r', 's'], registers: [reg], buckets: [0.001, 0.01, 0.1, 1] });
const promObserve = measure('baseline: prom-client Histogram.observe (3 labels)', (i) => {
  const r = recs[i & 4095]!;
  ph.observe({ m: r.method!, r: r.route!, s: r.statusCode! }, r.durationS);
});
// prom-client only allows exemplars on a registry in OpenMetrics mode (its typings lag behind).
const omReg = new (Registry as unknown as new (ct: string) => Registry)(Registry.OPENMETRICS_CONTENT_TYPE);
const phEx = new Histogram({ name: 'hx', help: 'h', labelNames: ['m', 'r', 's'], registers: [omReg], buckets: [0.001, 0.01, 0.1, 1], enableExemplars: true });
measure('baseline: prom-client observe with exemplar', (i) => {
  const r = recs[i & 4095]!;
  phEx.observe({ labels: { m: r.method!, r: r.route!, s: r.statusCode! }, value: r.durationS, exemplarLabels: { trace_id: TRACE, span_id: SPAN } } as never);
});

const layout = createLayout(1, 60e6, 3);
const w = new HdrWindow(layout, 6, 0);
const rawHdr = measure('raw HDR window record (ours)', (i) => {
  const d = durations[i & 4095]!;
  w.record(Math.round(d * 1e6), d, 0);
});
// hdr-histogram-js' own recordValue, for reference.
const { default: hdr } = await import('hdr-histogram-js');
const lib = hdr.build({ bitBucketSize: 32, autoResize: false, lowestDiscernibleValue: 1, highestTrackableValue: 60e6, numberOfSignificantValueDigits: 3 });
measure('hdr-histogram-js Int32 recordValue', (i) => lib.recordValue(Math.round(durations[i & 4095]! * 1e6)));

const m = createMetrics({ runtime: false });
const rec = measure('record() without exemplar', (i) => m.record(recs[i & 4095]!));
const recEx = measure('record() with exemplar', (i) => m.record(recsEx[i & 4095]!));
const m2 = createMetrics({ runtime: false, exemplars: false });
measure('record() exemplars disabled', (i) => m2.record(recsEx[i & 4095]!));
m.close();
m2.close();
console.log('');
console.log(`raw HDR record over baseline: ${(rawHdr - baseline).toFixed(1)} ns (bar < 100 ns)`);
console.log(`record() over baseline: ${(rec - baseline).toFixed(1)} ns; with exemplar ${(recEx - baseline).toFixed(1)} ns`);
console.log(`record() (histogram + HDR) vs one prom-client observe: ${(rec / promObserve).toFixed(2)}x`);
if (sink === 42) console.log('');
