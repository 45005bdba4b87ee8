// The metrics server from the OpenTelemetry Prometheus exporter variables, and the gate that
// limits debug work to one at a time with a quiet interval.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, test } from 'node:test';
import { instrument } from '@tailtrace/instrument';
import type { Instrumentation } from '@tailtrace/instrument';
import { prometheusEnv } from '../src/prometheus-env.ts';
import { rateGate } from '../src/rate-gate.ts';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('prometheusEnv', () => {
  test('unset: nothing; set: host (default 127.0.0.1) and port (default 9464)', () => {
    assert.equal(prometheusEnv({}), undefined);
    assert.equal(prometheusEnv({ OTEL_EXPORTER_PROMETHEUS_PORT: ' ' }), undefined);
    assert.deepEqual(prometheusEnv({ OTEL_EXPORTER_PROMETHEUS_PORT: '9500' }), { host: '127.0.0.1', port: 9500 });
    assert.deepEqual(prometheusEnv({ OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0' }), { host: '0.0.0.0', port: 9464 });
    assert.deepEqual(prometheusEnv({ OTEL_EXPORTER_PROMETHEUS_HOST: '[::1]', OTEL_EXPORTER_PROMETHEUS_PORT: '1' }), { host: '::1', port: 1 });
  });
  test('a bad value is one line naming the variable, and no server', () => {
    for (const port of ['x', '0', '65536', '-1', '9464.5', '1e3']) {
      const r = prometheusEnv({ OTEL_EXPORTER_PROMETHEUS_PORT: port });
      assert.ok(r !== undefined && 'error' in r, port);
      assert.match(r.error, /^OTEL_EXPORTER_PROMETHEUS_PORT=".*" is not a port \(1-65535\): the metrics server is not started$/);
    }
    const h = prometheusEnv({ OTEL_EXPORTER_PROMETHEUS_HOST: 'http://x/' });
    assert.ok(h !== undefined && 'error' in h);
    assert.match(h.error, /^OTEL_EXPORTER_PROMETHEUS_HOST=/);
  });
});

describe('OTEL_EXPORTER_PROMETHEUS_PORT starts the metrics server', () => {
  let inst: Instrumentation | undefined;
  afterEach(async () => {
    delete process.env.OTEL_EXPORTER_PROMETHEUS_PORT;
    await inst?.shutdown(1000);
    inst = undefined;
  });

  test('it serves /metrics and /debug/pprof; startMetricsServer() returns it; shutdown closes it', async () => {
    const port = await freePort();
    process.env.OTEL_EXPORTER_PROMETHEUS_PORT = String(port);
    inst = instrument({ serviceName: 'env', quiet: true, tracing: { exporter: 'none' }, evidence: false });
    const server = await inst.startMetricsServer();
    assert.equal(server.url, `http://127.0.0.1:${port}/metrics`);
    assert.equal(await inst.startMetricsServer({ port }), server);
    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /# TYPE tailtrace_latency_seconds summary/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/debug/pprof/heap`)).status, 200);
    // Another port is another server.
    const other = await inst.startMetricsServer({ port: 0 });
    assert.notEqual(other.url, server.url);
    await inst.shutdown(1000);
    inst = undefined;
    await assert.rejects(fetch(server.url));
    await assert.rejects(fetch(other.url));
  });

  test('it does not keep a process alive that has nothing else to do', async () => {
    const port = await freePort();
    const child = fileURLToPath(new URL('./prometheus-env-child.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--conditions=tailtrace-source', child], {
      env: { ...process.env, OTEL_EXPORTER_PROMETHEUS_PORT: String(port) },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.signal, null, 'ended on its own (not killed by the timeout)');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), `200 http://127.0.0.1:${port}/metrics`);
  });
});

describe('rateGate', () => {
  test('one at a time, then a quiet interval counted from the end of the last one', () => {
    let now = 1000;
    const gate = rateGate(10_000, () => now);
    const a = gate.enter();
    assert.equal(a.admitted, true);
    const busy = gate.enter();
    assert.equal(busy.admitted, false);
    assert.ok(!busy.admitted && /one at a time/.test(busy.reason) && busy.retryAfterS >= 1);
    now += 60_000;
    assert.equal(gate.enter().admitted, false, 'still running, however long it takes');
    if (a.admitted) a.release();
    if (a.admitted) a.release();
    now += 2_500;
    const early = gate.enter();
    assert.ok(!early.admitted && early.retryAfterS === 8, JSON.stringify(early));
    now += 7_500;
    const b = gate.enter();
    assert.equal(b.admitted, true);
  });
  test('a zero interval is one at a time only', () => {
    const gate = rateGate(0, () => 0);
    const a = gate.enter();
    assert.equal(gate.enter().admitted, false);
    if (a.admitted) a.release();
    assert.equal(gate.enter().admitted, true);
  });
});
