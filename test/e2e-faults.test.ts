// Telemetry must never be in the request path: with the OTLP endpoint down, slow or failing,
// the demo services keep serving every request, memory stays bounded and every dropped span is
// counted; random URLs never grow the metric series.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startStack } from '@tailtrace/examples/stack';
import { constantRate } from '@tailtrace/examples/load/driver';
import { httpClient } from '@tailtrace/examples/load/clients';
import { startOtlpReceiver } from './support/otlp-receiver.ts';
import { parseExposition } from './support/exposition.ts';

/** A port nothing listens on: bind, note it, close. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * A warm-up phase, then the measured phase of `requests`. Memory is compared after a full GC at
 * the end of each: what the services retain, not how far V8 chose to grow its heap.
 */
async function underLoad(otlp: string, requests: number, queue: string) {
  const stack = await startStack({
    otlp, quiet: true, stderr: false, execArgv: ['--expose-gc'],
    env: { OTEL_BSP_MAX_QUEUE_SIZE: queue, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_EXPORTER_OTLP_TIMEOUT: '300', TAILTRACE_DEMO_SPAN_RING: '256' },
  });
  try {
    const client = httpClient(stack.gatewayUrl, (i) => `/api/orders/${i}`);
    await constantRate({ rate: 400, durationS: 3, send: client.send });
    const before = await stack.report([], { gc: true });
    const load = await constantRate({ rate: 600, durationS: requests / 600, send: client.send });
    client.close();
    await new Promise((r) => setTimeout(r, 1500));
    const after = await stack.report([], { gc: true });
    return { load, before, after };
  } finally {
    await stack.stop();
  }
}

describe('OTLP endpoint faults', () => {
  test('endpoint down: every request served, drops counted, retained memory flat', async () => {
    const { load, before, after } = await underLoad(`http://127.0.0.1:${await deadPort()}`, 6000, '256');
    assert.equal(load.errors, 0);
    assert.equal(load.requests, 6000);
    const gw = after.find((s) => s.service === 'gateway')!;
    // (1200 + 6000) requests x 2 gateway spans; none can be exported, so each is dropped and counted
    // (but for what is still queued: at most one queue and one batch).
    assert.equal(gw.spansExported, 0);
    assert.ok(gw.spansDropped >= 2 * 7200 - 256 * 2, `gateway dropped ${gw.spansDropped} spans`);
    for (const svc of ['gateway', 'orders', 'inventory']) {
      const a = before.find((s) => s.service === svc)!;
      const b = after.find((s) => s.service === svc)!;
      const growth = b.heapUsedMb - a.heapUsedMb;
      // Measured noise is under 0.5 MB; a leak of 250 bytes per request would show 1.5 MB.
      assert.ok(growth < 1.5, `${svc} retained heap grew ${growth.toFixed(2)} MB over 6000 requests (${a.heapUsedMb.toFixed(1)} -> ${b.heapUsedMb.toFixed(1)})`);
    }
  });

  for (const mode of [{ status: 500 }, { delayMs: 2000 }]) {
    test(`endpoint ${mode.status ? 'answering 500' : 'slow (2 s)'}: requests unaffected, drops counted`, async () => {
      const receiver = await startOtlpReceiver(mode);
      try {
        const { load, after } = await underLoad(receiver.url, 2000, '256');
        assert.equal(load.errors, 0);
        assert.ok(load.p99Ms < 250, `P99 ${load.p99Ms.toFixed(1)} ms stays low`);
        const dropped = after.reduce((n, s) => n + s.spansDropped, 0);
        assert.ok(dropped > 0, 'drops counted');
      } finally {
        await receiver.close();
      }
    });
  }
});

describe('cardinality', () => {
  test('10,000 distinct random URLs keep the series bounded', async () => {
    const stack = await startStack({ quiet: true, stderr: false });
    try {
      const paths = (i: number) => (i % 2 ? `/no/such/${i}-${Math.random().toString(36).slice(2)}` : `/api/orders/${i}-${Math.random().toString(36).slice(2)}`);
      const client = httpClient(stack.gatewayUrl, paths);
      const load = await constantRate({ rate: 1000, durationS: 10, send: client.send });
      client.close();
      assert.equal(load.requests, 10_000);
      const samples = parseExposition(await (await fetch(stack.gateway.metricsUrl)).text());
      const routes = new Set(samples.filter((s) => s.name === 'http_server_request_duration_seconds_count').map((s) => s.labels.http_route));
      assert.deepEqual([...routes].sort(), ['(unmatched)', '/api/orders/:id']);
      const ops = new Set(samples.filter((s) => s.name === 'tailtrace_latency_seconds_count').map((s) => s.labels.operation));
      assert.ok(ops.size <= 4, `HDR operations bounded: ${[...ops].join(', ')}`);
    } finally {
      await stack.stop();
    }
  });
});
