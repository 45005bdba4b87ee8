import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { instrument, currentInstrumentation, currentTraceIds } from '@tailtrace/instrument';
import type { Instrumentation } from '@tailtrace/instrument';

let inst: Instrumentation | undefined;
let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  await inst?.shutdown(1000);
  inst = undefined;
});

async function serve(app: express.Express): Promise<string> {
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server!.once('listening', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function countOf(text: string, route: string): number {
  const line = text.split('\n').find((l) => l.startsWith('http_server_request_duration_seconds_count{') && l.includes(`http_route="${route}"`));
  return line ? Number(line.trim().split(/\s+/).pop()) : 0;
}

describe('instrument()', () => {
  test('app.use(instrument()) is all an express service needs: spans, /metrics, exemplars', async () => {
    inst = instrument({ serviceName: 'unit', quiet: true, tracing: { exporter: 'none' } });
    const app = express();
    app.use(inst);
    let ids: ReturnType<typeof currentTraceIds> = {};
    app.get('/users/:id', (_req, res) => {
      ids = currentTraceIds();
      res.send('ok');
    });
    const base = await serve(app);
    assert.equal((await fetch(`${base}/users/1`)).status, 200);
    assert.equal((await fetch(`${base}/users/2`)).status, 200);
    assert.match(String((ids as { trace_id?: string }).trace_id), /^[0-9a-f]{32}$/, 'handler runs inside the server span');
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.equal(countOf(text, '/users/:id'), 2);
    assert.ok(!text.includes('http_route="/metrics"'), 'the scrape itself is not a measured request');
  });

  test('calling instrument() twice, or mounting it twice, does not double-instrument', async () => {
    inst = instrument({ serviceName: 'unit', quiet: true, tracing: { exporter: 'none' } });
    const again = instrument({ serviceName: 'other', quiet: true });
    assert.equal(again, inst);
    assert.equal(currentInstrumentation(), inst);
    const app = express();
    app.use(inst);
    app.use(again);
    const router = express.Router();
    router.use(inst);
    router.get('/x', (_req, res) => {
      res.send('x');
    });
    app.use('/r', router);
    const base = await serve(app);
    assert.equal((await fetch(`${base}/r/x`)).status, 200);
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.equal(countOf(text, '/r/x'), 1);
  });

  test('metricsPath: false leaves /metrics to the app; startMetricsServer serves it on its own port', async () => {
    inst = instrument({ serviceName: 'grpc-only', quiet: true, metricsPath: false, tracing: { exporter: 'none' } });
    const app = express();
    app.use(inst);
    const base = await serve(app);
    assert.equal((await fetch(`${base}/metrics`)).status, 404);
    const ms = await inst.startMetricsServer();
    assert.match(ms.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(ms.url);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /process_resident_memory_bytes/);
    assert.equal((await fetch(ms.url.replace('/metrics', '/other'))).status, 404);
  });

  test('shutdown() clears the process instrumentation so a new one can be made', async () => {
    const first = instrument({ serviceName: 'a', quiet: true, tracing: { exporter: 'none' } });
    await first.shutdown(1000);
    await first.shutdown(1000);
    assert.equal(currentInstrumentation(), undefined);
    inst = instrument({ serviceName: 'b', quiet: true, tracing: { exporter: 'none' } });
    assert.notEqual(inst, first);
    assert.equal(inst.serviceName, 'b');
  });

  test('logMixin gives the active trace ids to log lines, and nothing outside a span', async () => {
    inst = instrument({ serviceName: 'logs', quiet: true, tracing: { exporter: 'none' } });
    assert.deepEqual(inst.logMixin(), {});
    const app = express();
    app.use(inst);
    let mixed: Record<string, string> = {};
    app.get('/log', (_req, res) => {
      mixed = inst!.logMixin();
      res.end();
    });
    const base = await serve(app);
    const tp = `00-${'a'.repeat(31)}1-${'b'.repeat(15)}2-01`;
    await fetch(`${base}/log`, { headers: { traceparent: tp } });
    assert.equal(mixed.trace_id, `${'a'.repeat(31)}1`);
    assert.match(mixed.span_id ?? '', /^[0-9a-f]{16}$/);
    assert.equal(mixed.trace_flags, '01');
  });
});

describe('instrument() errors', () => {
  test('errorHandler records the class of an error passed to next(err) on the span; the error reaches express', async () => {
    const seen: { name: string; attributes: Record<string, unknown>; status: number }[] = [];
    inst = instrument({
      serviceName: 'errs', quiet: true,
      tracing: { exporter: 'none', spanProcessors: [{ onStart() {}, onEnd: (s) => seen.push({ name: s.name, attributes: s.attributes, status: s.status.code }), forceFlush: async () => {}, shutdown: async () => {} }] },
    });
    class PaymentDeclined extends Error {}
    const app = express();
    app.use(inst);
    app.get('/pay/:id', (_req, _res, next) => next(new PaymentDeclined('no')));
    app.use(inst.errorHandler);
    const base = await serve(app);
    assert.equal((await fetch(`${base}/pay/1`)).status, 500);
    const span = seen.find((s) => s.name === 'GET /pay/:id')!;
    assert.equal(span.attributes['error.type'], 'PaymentDeclined');
    assert.equal(span.status, 2);
  });
});

describe('instrument() export target', () => {
  test('otlpEndpoint is a base URL: spans go to <base>/v1/traces, as with OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    inst = instrument({ serviceName: 'x', quiet: true, otlpEndpoint: 'http://127.0.0.1:4318/' });
    assert.equal(inst.tracing.exportTarget, 'http://127.0.0.1:4318/v1/traces');
  });
});
