// Memory stays flat under load against a Collector that is down, refuses connections, answers
// 500, hangs, trickles its answer or resets connections mid-response; every request is served
// and every lost span counted, in stats() and on /metrics. Each fault is played by a real server
// (test/support/fault-collector.ts); the service is a child process with --expose-gc
// (test/support/fault-service.ts) sampling heap-after-GC, arrayBuffers and RSS every second.
//
// TAILTRACE_FAULT_SECONDS sets the load duration (default 20; the "5 minutes" is 300).
// Time is compressed so the default still sees many export cycles: batches every 50 ms and a
// 100 ms export deadline, so each fault meets its deadline (or its failure) over a hundred times.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFaultCollector } from './support/fault-collector.ts';
import type { FaultMode } from './support/fault-collector.ts';
import type { FaultServiceResult, MemorySample } from './support/fault-service.ts';

const SECONDS = Number(process.env.TAILTRACE_FAULT_SECONDS) > 0 ? Number(process.env.TAILTRACE_FAULT_SECONDS) : 20;
const RATE = 200;
const SERVICE = fileURLToPath(new URL('./support/fault-service.ts', import.meta.url));

function runService(endpoint: string): Promise<FaultServiceResult> {
  const child = spawn(process.execPath, [...process.execArgv, '--expose-gc', SERVICE], {
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_EXPORTER_OTLP_TIMEOUT: '100',
      FAULT_SECONDS: String(SECONDS),
      FAULT_RATE: String(RATE),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), (SECONDS + 30) * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`service exited ${code ?? signal}: ${stderr}`));
      else resolve(JSON.parse(line) as FaultServiceResult);
    });
  });
}

/** Least-squares slope in MB per minute of one series over the samples given. */
function slopePerMin(samples: MemorySample[], pick: (s: MemorySample) => number): number {
  const n = samples.length;
  const mt = samples.reduce((a, s) => a + s.t, 0) / n;
  const mv = samples.reduce((a, s) => a + pick(s), 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - mt) * (pick(s) - mv);
    den += (s.t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

function metric(exposition: string[], name: string): number {
  const line = exposition.find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? Number.NaN : Number(line.trim().split(/\s+/).pop());
}

// Bounds on the growth rate over the second half (after warm-up), per minute. The trickling
// Collector without deadlines grew the heap 26 MB/min at this load (the issue measured heap +91,
// arrayBuffers +85 and RSS +288 MB/min at its load); steady state measures under 1 MB/min of heap.
// arrayBuffers include the request bodies handed (transferred) to the export worker until that
// worker's next GC, a sawtooth of a few MB; RSS still climbs through a 20 s run as the allocator
// warms up: 12-41 MB/min measured over the second half of healthy short runs (the upper end on a
// loaded machine), flat from the second minute on in the 5-minute runs. Short runs are judged
// loosely on those two (RSS at 100 MB/min: over twice that warm-up, a third of the defect's
// 288 MB/min), the long (TAILTRACE_FAULT_SECONDS >= 120) runs tightly.
const LONG = SECONDS >= 120;
const MAX_HEAP_MB_PER_MIN = LONG ? 1 : 3;
const MAX_ARRAY_BUFFERS_MB_PER_MIN = LONG ? 3 : 30;
const MAX_RSS_MB_PER_MIN = LONG ? 5 : 100;

const FAULTS: Array<[string, FaultMode]> = [
  ['down (nothing listening)', { kind: 'down' }],
  ['refusing connections (reset on accept)', { kind: 'refuse' }],
  ['answering 500', { kind: 'status', status: 500 }],
  ['hanging (accepts, never answers)', { kind: 'hang' }],
  ['trickling (headers, then a byte every 20 ms)', { kind: 'trickle', everyMs: 20 }],
  ['resetting connections mid-response', { kind: 'reset' }],
];

describe(`Collector faults, ${SECONDS} s of load at ${RATE} requests/s each`, () => {
  for (const [name, mode] of FAULTS) {
    test(`${name}: every request served, memory flat, every lost span counted`, async () => {
      const fc = await startFaultCollector(mode);
      let r: FaultServiceResult;
      try {
        r = await runService(fc.url);
      } finally {
        await fc.close();
      }
      const first = r.samples[0]!;
      const last = r.samples.at(-1)!;
      const half = r.samples.slice(Math.floor(r.samples.length / 2));
      const slopes = { heap: slopePerMin(half, (s) => s.heapMb), arrayBuffers: slopePerMin(half, (s) => s.arrayBuffersMb), rss: slopePerMin(half, (s) => s.rssMb) };
      const shown = `heap ${first.heapMb.toFixed(1)} -> ${last.heapMb.toFixed(1)} MB, arrayBuffers ${first.arrayBuffersMb.toFixed(1)} -> ${last.arrayBuffersMb.toFixed(1)} MB, `
        + `RSS ${first.rssMb.toFixed(0)} -> ${last.rssMb.toFixed(0)} MB; second-half slopes/min heap ${slopes.heap.toFixed(2)}, `
        + `arrayBuffers ${slopes.arrayBuffers.toFixed(2)}, RSS ${slopes.rss.toFixed(1)}; stats ${JSON.stringify(r.stats)}; collector ${JSON.stringify(fc.stats())}`;
      process.stdout.write(`# ${name}: ${shown}; served ${r.ok}/${r.sent}, retried ${r.retried}\n`);

      assert.equal(r.errors, 0, `requests failed: ${JSON.stringify(r.why)}; ${shown}`);
      assert.ok(r.ok >= SECONDS * RATE * 0.95, `served ${r.ok} of ${r.sent}`);
      // Telemetry breaking the app's connections would show here first.
      assert.ok(r.retried <= r.sent * 0.002, `${r.retried} requests retried after a reset on a reused socket`);
      assert.ok(slopes.heap < MAX_HEAP_MB_PER_MIN, `heap grows: ${shown}`);
      assert.ok(slopes.arrayBuffers < MAX_ARRAY_BUFFERS_MB_PER_MIN, `arrayBuffers grow: ${shown}`);
      assert.ok(slopes.rss < MAX_RSS_MB_PER_MIN, `RSS grows: ${shown}`);

      // Nothing exported, every span accounted for: dropped (counted) or still queued.
      const st = r.stats;
      assert.equal(st.exported, 0, shown);
      assert.ok(st.dropped.exportFailed > 0, shown);
      assert.ok(st.inFlightBatches <= 2, shown);
      // The same figures on /metrics.
      const failedLine = r.exposition.find((l) => l.startsWith('tailtrace_spans_dropped_total{reason="export_failed"}'));
      assert.equal(Number(failedLine?.split(' ').pop()), st.dropped.exportFailed, r.exposition.join('\n'));
      assert.equal(metric(r.exposition, 'tailtrace_span_export_batches_abandoned_total'), st.abandonedBatches, r.exposition.join('\n'));
      assert.equal(metric(r.exposition, 'tailtrace_span_export_batches_in_flight'), st.inFlightBatches, r.exposition.join('\n'));
      if (mode.kind === 'hang' || mode.kind === 'trickle') {
        // Each export met its deadline: many were sent, each given up, none still holding a socket.
        assert.ok(fc.stats().requests >= SECONDS * 3, `only ${fc.stats().requests} export requests reached the Collector: ${shown}`);
        assert.ok(st.abandonedBatches > 0, shown);
      }
    });
  }
});
