// What each port serves, whatever the spelling of the path: raw requests (node:http with the path
// exactly as given, no client normalisation) to a real express app with app.use(instrument()) and
// to the real metrics server, for every pprof setting, with and without a debug token.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import express from 'express';
import { decodePprof } from '@tailtrace/formats';
import { instrument } from '@tailtrace/instrument';
import type { Instrumentation, InstrumentOptions } from '@tailtrace/instrument';

const TOKEN = 'gate-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request with the path sent byte for byte as given. */
function raw(port: number, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer to ${path} within 30 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** A profile, not an index page, an error or the app's own 404. */
function isProfile(r: Reply): boolean {
  if (r.status !== 200 || r.headers['content-type'] !== 'application/octet-stream') return false;
  try {
    return decodePprof(new Uint8Array(r.body)).sampleTypes.length > 0;
  } catch {
    return false;
  }
}

function isExposition(r: Reply): boolean {
  return r.status === 200 && r.body.toString('utf8').includes('# TYPE tailtrace_latency_seconds summary');
}

let inst: Instrumentation | undefined;
let server: Server | undefined;
const dirs: string[] = [];
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  await inst?.shutdown(1000);
  inst = undefined;
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** instrument() with `opts`, an express app using it (its own 404 says "app 404"), and a metrics server. */
async function setUp(opts: InstrumentOptions): Promise<{ app: number; metrics: number }> {
  inst = instrument({ serviceName: 'gate', quiet: true, tracing: { exporter: 'none' }, evidence: false, ...opts });
  const app = express();
  app.use(inst);
  app.get('/users/:id', (_req, res) => {
    res.send('user');
  });
  app.use((_req, res) => {
    res.status(404).send('app 404');
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server!.once('listening', () => r()));
  const ms = await inst.startMetricsServer();
  return { app: (server.address() as AddressInfo).port, metrics: Number(new URL(ms.url).port) };
}

const HEAP_FORMS = [
  '/debug/pprof/heap',
  '/debug/./pprof/heap',
  '/debug/%2e/pprof/heap',
  '/debug/%2E/pprof/heap',
  '/debug/x/../pprof/heap',
  '/debug/x/%2e%2e/pprof/heap',
  '//debug/pprof/heap',
  '/debug%2fpprof/heap',
  '/debug%2Fpprof%2Fheap',
  '/debug%5cpprof/heap',
  '/debug\\pprof\\heap',
  '/DEBUG/pprof/heap',
  '/Debug/PPROF/Heap',
  '/debug/pprof/./heap',
  '/debug/pprof//heap',
  '/debug/pprof/heap/',
  '/%64ebug/pprof/heap',
  'http://elsewhere.example/debug/./pprof/heap',
];
// Queries that do not collect garbage: ?gc=1 is rate limited (its own test below).
const QUERIES = ['', '?gc=0', '?debug=1&x=%2e'];
const PROFILE_FORMS = ['/debug/%2e/pprof/profile?seconds=1', '//DEBUG/pprof//profile?seconds=1'];

const CONFIGS: Array<{ pprof: InstrumentOptions['pprof'] | undefined; token: string | undefined }> = [
  { pprof: 'app', token: TOKEN },
  { pprof: 'app', token: undefined },
  { pprof: undefined, token: TOKEN },
  { pprof: 'metrics-server', token: undefined },
  { pprof: false, token: TOKEN },
  { pprof: false, token: undefined },
];

describe('no spelling of /debug/pprof reaches a profile where it is off; every spelling reaches it where it is on', () => {
  for (const cfg of CONFIGS) {
    const name = `pprof: ${cfg.pprof === undefined ? '(default)' : JSON.stringify(cfg.pprof)}, ${cfg.token ? 'debug token set' : 'no token'}`;
    test(name, async () => {
      const opts: InstrumentOptions = {};
      if (cfg.pprof !== undefined) opts.pprof = cfg.pprof;
      if (cfg.token !== undefined) opts.debugToken = cfg.token;
      const ports = await setUp(opts);
      assert.equal(inst!.profiler.sampler?.backend, 'datadog', 'this table assumes the @datadog/pprof backend (plain heap reads collect nothing)');
      const onApp = cfg.pprof === 'app' && cfg.token !== undefined;
      const onServer = cfg.pprof !== false;
      const failures: string[] = [];
      // Off on the app means the app answers as if tailtrace were not there; on it without the
      // token means 401; off on the metrics server means its 404.
      const check = (where: 'app' | 'app+token' | 'metrics-server', path: string, r: Reply): void => {
        const want = where === 'metrics-server' ? onServer : where === 'app+token' && onApp;
        if (isProfile(r) !== want) {
          failures.push(`${where} ${path}: ${r.status} ${want ? 'is not a profile' : 'is a profile'}`);
          return;
        }
        if (want) return;
        const text = r.body.toString();
        const ok = where === 'metrics-server' ? r.status === 404 && text === 'not found\n'
          : where === 'app' && onApp ? r.status === 401 && r.headers['www-authenticate'] === 'Bearer'
          : r.status === 404 && text === 'app 404';
        if (!ok) failures.push(`${where} ${path}: ${r.status} ${JSON.stringify(text.slice(0, 60))}`);
      };
      for (const form of HEAP_FORMS) {
        for (const q of QUERIES) {
          const path = form + q;
          check('app', path, await raw(ports.app, path));
          check('app+token', path, await raw(ports.app, path, { headers: AUTH }));
          if (onApp) check('app', path, await raw(ports.app, path, { headers: { authorization: `Bearer ${TOKEN}x` } }));
          check('metrics-server', path, await raw(ports.metrics, path));
        }
      }
      for (const path of PROFILE_FORMS) {
        check('app', path, await raw(ports.app, path));
        check('app+token', path, await raw(ports.app, path, { headers: AUTH }));
        check('metrics-server', path, await raw(ports.metrics, path));
      }
      assert.deepEqual(failures, []);
    });
  }
});

describe('/metrics on the app port only when asked for, under any spelling', () => {
  const FORMS = ['/metrics', '/./metrics', '/%2e/metrics', '/x/../metrics', '//metrics', '/METRICS', '/metrics/', '/%6detrics', '/metrics?x=1'];

  test('by default the app serves no /metrics: every spelling reaches the app; the metrics server has it', async () => {
    const ports = await setUp({});
    for (const path of FORMS) {
      const r = await raw(ports.app, path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body.toString(), 'app 404', path);
      assert.ok(isExposition(await raw(ports.metrics, path)), `metrics server ${path}`);
    }
  });

  test("metricsPath: '/metrics' serves it on the app under every spelling (not traced as a request)", async () => {
    const ports = await setUp({ metricsPath: '/metrics' });
    for (const path of FORMS) {
      const r = await raw(ports.app, path);
      assert.ok(isExposition(r), `${path}: ${r.status}`);
      assert.ok(!r.body.toString().includes('http_route="/metrics"'), path);
    }
    assert.equal((await raw(ports.app, '/metrics', { method: 'POST' })).body.toString(), 'app 404', 'GET only');
  });
});

describe('the evidence endpoint', () => {
  const evidenceDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'tailtrace-gate-evidence-'));
    dirs.push(d);
    return d;
  };
  const FORMS = ['/debug/tailtrace/evidence', '/debug/./tailtrace/evidence', '/debug/%2e/tailtrace/evidence', '//DEBUG/tailtrace//evidence'];

  test('on the app port only with evidenceEndpoint: "app" and the token; never without', async () => {
    const dir = evidenceDir();
    const ports = await setUp({ evidence: { dir }, debugToken: TOKEN });
    for (const path of FORMS) {
      const r = await raw(ports.app, path, { method: 'POST', headers: AUTH });
      assert.equal(r.body.toString(), 'app 404', `app ${path}`);
    }
    assert.deepEqual(readdirSync(dir), [], 'no bundle written through the app port');
    // The metrics server has it (with the token).
    assert.equal((await raw(ports.metrics, FORMS[2]!, { method: 'POST' })).status, 401);
    const ok = await raw(ports.metrics, FORMS[3]!, { method: 'POST', headers: AUTH });
    assert.equal(ok.status, 200, ok.body.toString());
  });

  test('with evidenceEndpoint: "app": token required, one capture per interval (refusals counted), no host or pid in the answer', async () => {
    const dir = evidenceDir();
    const ports = await setUp({ evidence: { dir }, debugToken: TOKEN, evidenceEndpoint: 'app' });
    assert.equal((await raw(ports.app, FORMS[1]!, { method: 'POST' })).status, 401);
    assert.equal((await raw(ports.app, FORMS[1]!, { method: 'POST', headers: { authorization: 'Bearer nope' } })).status, 401);
    const ok = await raw(ports.app, FORMS[2]!, { method: 'POST', headers: AUTH });
    assert.equal(ok.status, 200, ok.body.toString());
    const body = JSON.parse(ok.body.toString()) as Record<string, unknown>;
    assert.equal((body.trigger as { kind: string }).kind, 'endpoint');
    for (const key of ['host', 'pid', 'versions']) assert.ok(!(key in body), `${key} is not in the answer`);
    assert.ok(!ok.body.toString().includes(String(process.pid)), 'the pid appears nowhere');
    const again = await raw(ports.app, FORMS[0]!, { method: 'POST', headers: AUTH });
    assert.equal(again.status, 429);
    assert.ok(Number(again.headers['retry-after']) >= 1);
    const onServer = await raw(ports.metrics, FORMS[0]!, { method: 'POST', headers: AUTH });
    assert.equal(onServer.status, 429, 'one limit for every port');
    assert.equal(readdirSync(dir).length, 1);
    const text = (await raw(ports.metrics, '/metrics')).body.toString();
    assert.match(text, /^tailtrace_debug_requests_refused_total\{endpoint="evidence"\} 2$/m);
  });
});

describe('what costs the service a full GC or a CPU profile is one at a time and rate limited, on every port', () => {
  test('?gc=1: the second within the interval is refused with 429 and counted, on either port', async () => {
    const ports = await setUp({ pprof: 'app', debugToken: TOKEN });
    const first = await raw(ports.metrics, '/debug/pprof/heap?gc=1');
    assert.ok(isProfile(first), String(first.status));
    const second = await raw(ports.app, '/debug/%2e/pprof/heap?gc=1', { headers: AUTH });
    assert.equal(second.status, 429);
    assert.ok(Number(second.headers['retry-after']) >= 1);
    assert.equal((await raw(ports.metrics, '/debug/pprof/heap?gc=true')).status, 429);
    // Reads that collect nothing are not limited.
    assert.ok(isProfile(await raw(ports.metrics, '/debug/pprof/heap')));
    const text = (await raw(ports.metrics, '/metrics')).body.toString();
    assert.match(text, /^tailtrace_debug_requests_refused_total\{endpoint="heap_gc"\} 2$/m);
  });

  test('two CPU profiles at once: the second is refused and counted', async () => {
    const ports = await setUp({});
    const both = await Promise.all([raw(ports.metrics, '/debug/pprof/profile?seconds=1'), raw(ports.metrics, '/debug/%2e/pprof/profile?seconds=1')]);
    // Whichever came first is profiled for its second; the other is refused at once.
    assert.deepEqual(both.map((r) => (isProfile(r) ? 'profile' : r.status)).sort(), [429, 'profile']);
    const text = (await raw(ports.metrics, '/metrics')).body.toString();
    assert.match(text, /^tailtrace_debug_requests_refused_total\{endpoint="cpu_profile"\} 1$/m);
  });
});

describe('pprof: "app" without a token', () => {
  test('is not served on the app port, and instrument() says so in one line', async () => {
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    let ports: { app: number; metrics: number };
    try {
      ports = await setUp({ pprof: 'app' });
    } finally {
      process.stderr.write = write;
    }
    const said = lines.filter((l) => l.includes('pprof'));
    assert.equal(said.length, 1, JSON.stringify(lines));
    assert.match(said[0]!, /TAILTRACE_DEBUG_TOKEN/);
    assert.equal((await raw(ports.app, '/debug/pprof/heap')).body.toString(), 'app 404');
    assert.ok(isProfile(await raw(ports.metrics, '/debug/pprof/heap')));
  });
});
