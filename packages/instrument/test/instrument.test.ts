import { after, afterEach, describe, test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePprof } from '@tailtrace/formats';
import type { EvidenceManifest, HistogramsFile } from '@tailtrace/profiler';
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
  test('app.use(instrument()) is all an express service needs: spans, /metrics (on the metrics server), exemplars', async () => {
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
    const text = await (await fetch((await inst.startMetricsServer()).url)).text();
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
    const text = await (await fetch((await inst.startMetricsServer()).url)).text();
    assert.equal(countOf(text, '/r/x'), 1);
  });

  test('by default the app port serves no /metrics (it is the app\'s); startMetricsServer serves it on its own port', async () => {
    inst = instrument({ serviceName: 'grpc-only', quiet: true, tracing: { exporter: 'none' } });
    const app = express();
    app.use(inst);
    app.get('/metrics', (_req, res) => {
      res.send('the app\'s own');
    });
    const base = await serve(app);
    assert.equal(await (await fetch(`${base}/metrics`)).text(), 'the app\'s own');
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

describe('instrument() heap evidence', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const evidenceDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'tailtrace-inst-evidence-'));
    dirs.push(d);
    return d;
  };

  test('/debug/pprof/heap on the metrics server is a heap profile the real `go tool pprof` reads; the app does not serve it by default', async () => {
    inst = instrument({ serviceName: 'pprof', quiet: true, tracing: { exporter: 'none' }, evidence: { dir: evidenceDir() } });
    assert.ok(inst.profiler.sampler, 'sampling heap profiler on by default');
    const app = express();
    app.use(inst);
    app.get('/x', (_req, res) => res.send('ok'));
    const base = await serve(app);
    assert.equal((await fetch(`${base}/debug/pprof/heap`)).status, 404, 'profiles stay off the public app unless pprof: "app"');
    const ms = await inst.startMetricsServer();
    const url = ms.url.replace(/\/metrics$/, '/debug/pprof/heap');
    const res = await fetch(url);
    assert.equal(res.status, 200);
    const profile = decodePprof(new Uint8Array(await res.arrayBuffer()));
    assert.deepEqual(profile.sampleTypes.map((t) => `${t.type}/${t.unit}`), ['inuse_objects/count', 'inuse_space/bytes']);
    // Asynchronously: the server answering go tool pprof lives in this process.
    const { stdout: top } = await execFileAsync(goBinary(), ['tool', 'pprof', '-top', '-sample_index=inuse_space', url], { encoding: 'utf8', timeout: 120_000 });
    assert.match(top, /Type: inuse_space/);
    assert.match(top, /flat%/);
    assert.equal((await fetch(ms.url.replace(/\/metrics$/, '/nope'))).status, 404);
    const collected = await fetch(`${url}?gc=1`);
    assert.equal(collected.status, 200);
    // A small test process may have no sampled live object at 512 KiB: the shape is what counts here.
    assert.equal(decodePprof(new Uint8Array(await collected.arrayBuffer())).sampleTypes[1]?.type, 'inuse_space');
  });

  test('pprof: "app" serves /debug/pprof on the app too, to requests with the debug token; heapProfile: false turns sampling off', async () => {
    inst = instrument({ serviceName: 'pprof-app', quiet: true, tracing: { exporter: 'none' }, pprof: 'app', debugToken: 'tok-123', evidence: false });
    const app = express();
    app.use(inst);
    const base = await serve(app);
    assert.equal((await fetch(`${base}/debug/pprof/heap`)).status, 401);
    assert.equal((await fetch(`${base}/debug/pprof/heap`, { headers: { authorization: 'Bearer tok-123' } })).status, 200);
    await inst.shutdown(1000);
    inst = instrument({ serviceName: 'no-heap', quiet: true, tracing: { exporter: 'none' }, heapProfile: false, evidence: false });
    assert.equal(inst.profiler.sampler, undefined);
  });

  test('the evidence endpoint (on the app port when asked) needs the configured token; a capture bumps tailtrace_evidence_triggers_total{trigger="endpoint"}', async () => {
    const dir = evidenceDir();
    inst = instrument({ serviceName: 'ev', quiet: true, tracing: { exporter: 'none' }, evidence: { dir, token: 's3cret-token' }, evidenceEndpoint: 'app', metricsPath: '/metrics' });
    const app = express();
    app.use(inst);
    app.get('/orders/:id', (_req, res) => res.send('ok'));
    const base = await serve(app);
    for (let i = 0; i < 20; i++) await fetch(`${base}/orders/${i}`);
    const endpoint = `${base}/debug/tailtrace/evidence`;
    assert.equal((await fetch(endpoint, { method: 'POST' })).status, 401);
    assert.equal((await fetch(endpoint, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status, 401);
    const ok = await fetch(endpoint, { method: 'POST', headers: { authorization: 'Bearer s3cret-token' } });
    assert.equal(ok.status, 200);
    const manifest = (await ok.json()) as EvidenceManifest;
    assert.equal(manifest.service, 'ev');
    assert.equal(manifest.trigger.kind, 'endpoint');
    const [bundle] = readdirSync(dir);
    const hist = JSON.parse(readFileSync(join(dir, bundle!, 'histograms.json'), 'utf8')) as HistogramsFile;
    const orders = hist.operations.find((o) => o.operation === 'GET /orders/:id');
    assert.equal(orders?.window.count, 20, 'the bundle holds the HDR window instrument() recorded');
    const metricsText = await (await fetch(`${base}/metrics`)).text();
    assert.match(metricsText, /tailtrace_evidence_triggers_total\{trigger="endpoint"\} 1\b/);
  });

  test('without a token the evidence endpoint does not exist; TAILTRACE_EVIDENCE=off turns evidence off', async () => {
    inst = instrument({ serviceName: 'noev', quiet: true, tracing: { exporter: 'none' }, evidence: { dir: evidenceDir() } });
    const app = express();
    app.use(inst);
    const base = await serve(app);
    assert.equal((await fetch(`${base}/debug/tailtrace/evidence`, { method: 'POST' })).status, 404);
    await inst.shutdown(1000);
    process.env.TAILTRACE_EVIDENCE = 'off';
    try {
      inst = instrument({ serviceName: 'off', quiet: true, tracing: { exporter: 'none' } });
      assert.equal((await inst.profiler.capture('signal')).status, 'disabled');
    } finally {
      delete process.env.TAILTRACE_EVIDENCE;
    }
  });
});

const execFileAsync = promisify(execFile);

function goBinary(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, 'go'))) return join(dir, 'go');
  return '/usr/local/go/bin/go';
}
