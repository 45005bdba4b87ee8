// The packages as users get them (issues #10 and #15): packed with pnpm, installed with npm
// into apps in a temp dir outside this repository together with only what each kind of service
// has, then run on Node 22 and 24, as ESM and as CommonJS. Inside the monorepo every optional
// peer is always installed, so only this can show that an express-only service does not need
// @grpc/grpc-js, that the CLI needs no service-side package, and what an old Node does.
// Spans go to a real OTLP/HTTP receiver, metrics are scraped over HTTP, and every app must end
// by itself after SIGTERM -> `await tt.shutdown()`. Like dist.test.ts it packs the dist/ that
// `npm test` built first (run the build before running this file alone).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOtlpReceiver } from './support/otlp-receiver.ts';
import type { OtlpReceiver, ReceivedSpan } from './support/otlp-receiver.ts';
import { parseExposition } from './support/exposition.ts';
import {
  node22, node24, npmInstall, oldNode, packAll, publicPackages, readTarball, repoRoot, run, startApp, userEnv,
} from './support/install-packs.ts';
import type { App } from './support/install-packs.ts';
import { MIN_NODE_VERSION, unsupportedNodeMessage } from '../packages/instrument/src/unsupported-node.ts';
import { healthyOps, heapProfile, leakSnapshot, leakingOps, writeBundle } from '../packages/cli/test/evidence-fixtures.ts';

const SERVER = 2;
const CLIENT = 3;
const appsDir = join(import.meta.dirname, 'install');
const work = mkdtempSync(join(tmpdir(), 'tailtrace-install-'));
const old = oldNode();
let packs: Map<string, string>;
let receiver: OtlpReceiver;

/** A kind of service: what it installs besides our tarballs, and what it must not have. */
interface Shape {
  deps: string[];
  files: string[];
  absent: string[];
}
const SERVICE_PACKAGES = ['@tailtrace/instrument', '@tailtrace/tracing', '@tailtrace/metrics', '@tailtrace/profiler', '@tailtrace/formats'];
/** The CLI and what it depends on: the snapshot engine and the file formats, nothing of the runtime. */
const CLI_PACKAGES = ['@tailtrace/cli', '@tailtrace/heap', '@tailtrace/formats'];
const NEVER = ['@datadog/pprof', 'pino'];
const shapes: Record<string, Shape> = {
  express: { deps: ['express@5'], files: ['express.mjs', 'express.cjs'], absent: ['@grpc/grpc-js', '@grpc/proto-loader', ...NEVER] },
  grpc: { deps: ['@grpc/grpc-js@1', '@grpc/proto-loader@0.8'], files: ['grpc.mjs', 'grpc.cjs', 'hello.proto'], absent: ['express', ...NEVER] },
  http: { deps: [], files: ['http.mjs', 'http.cjs'], absent: ['express', '@grpc/grpc-js', ...NEVER] },
  gateway: { deps: ['express@5', '@grpc/grpc-js@1', '@grpc/proto-loader@0.8'], files: ['gateway.mjs', 'gateway.cjs', 'hello.proto'], absent: NEVER },
};
const installed = new Map<string, Promise<string>>();

/** Creates an app dir with the shape's entry files and installs tarballs + deps (once per name). */
function install(name: string, shape: Shape, tarballs: string[], nodeBin = node24, extraArgs: string[] = []): Promise<string> {
  let p = installed.get(name);
  if (p === undefined) {
    p = (async () => {
      const dir = join(work, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `tailtrace-install-${name}`, version: '0.0.0', private: true }, null, 2)}\n`);
      for (const f of shape.files) copyFileSync(join(appsDir, f), join(dir, f));
      const out = await npmInstall(dir, [...tarballs.map((t) => packs.get(t)!), ...shape.deps], nodeBin, extraArgs);
      writeFileSync(join(dir, 'npm-install.log'), `${out.stdout}${out.stderr}`);
      return dir;
    })();
    installed.set(name, p);
  }
  return p;
}

before(() => {
  assert.ok(!work.startsWith(repoRoot), `the apps must live outside the repository (${work})`);
  mkdirSync(join(work, 'packs'));
  packs = packAll(join(work, 'packs'));
});
after(async () => {
  await receiver?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the packed tarballs', () => {
  test('one per public package, holding only what runs: dist JS and .d.ts, README, LICENSE', () => {
    assert.deepEqual([...packs.keys()].sort(), publicPackages().map((d) => `@tailtrace/${d}`).sort());
    for (const [name, file] of packs) {
      const dir = name.replace('@tailtrace/', '');
      const files = [...readTarball(file).keys()];
      for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']) assert.ok(files.includes(f), `${name} has ${f}`);
      for (const f of files) {
        assert.match(f, /^(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts)|bin\/[^/]+\.js)$/, `${name}: ${f} does not run (sources, tests, maps, build info stay out)`);
        const m = /^dist\/(.+)\.(?:js|d\.ts)$/.exec(f);
        if (m) assert.ok(existsSync(join(repoRoot, 'packages', dir, 'src', `${m[1]}.ts`)), `${name}: ${f} has no source (stale build output)`);
      }
    }
  });

  test('package.json: real versions between our packages, exports without the source condition, publish metadata', () => {
    const versions = new Map([...packs].map(([name, file]) => [name, (JSON.parse(readTarball(file).get('package.json')!.toString()) as { version: string }).version]));
    for (const [name, file] of packs) {
      const contents = readTarball(file);
      const pkg = JSON.parse(contents.get('package.json')!.toString()) as Record<string, unknown> & {
        dependencies?: Record<string, string>; peerDependencies?: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }>;
        exports: Record<string, unknown>; main: string; types: string; bin?: Record<string, string>; engines: { node: string };
        repository: { url: string; directory: string }; keywords: string[]; sideEffects: boolean | string[]; publishConfig?: { access?: string };
      };
      assert.ok(!JSON.stringify(pkg).includes('workspace:'), `${name}: no workspace: protocol left`);
      for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) {
        if (dep.startsWith('@tailtrace/')) assert.equal(range, versions.get(dep), `${name} -> ${dep} is the packed version`);
      }
      assert.ok(!JSON.stringify(pkg.exports).includes('tailtrace-source'), `${name}: exports point into dist only`);
      const targets = [pkg.main, pkg.types, ...JSON.stringify(pkg.exports).match(/"\.\/[^"]+"/g)!.map((s) => JSON.parse(s) as string), ...Object.values(pkg.bin ?? {})];
      for (const t of targets.filter((x) => x !== './package.json')) {
        assert.ok(contents.has(t.replace(/^\.\//, '')), `${name}: ${t} is in the tarball`);
      }
      assert.ok(String(pkg.description).length > 20, `${name}: description`);
      assert.ok(pkg.keywords.length > 0, `${name}: keywords`);
      assert.match(pkg.repository.url, /^git\+https:\/\/.+\.git$/);
      assert.equal(pkg.repository.directory, `packages/${name.replace('@tailtrace/', '')}`);
      assert.equal(pkg.license, 'Apache-2.0');
      assert.equal(pkg.engines.node, `>=${MIN_NODE_VERSION}`, `${name}: engines agree with instrument()'s check`);
      assert.equal(pkg.publishConfig?.access, 'public');
      if (Array.isArray(pkg.sideEffects)) for (const f of pkg.sideEffects) assert.ok(contents.has(f.replace(/^\.\//, '')), `${name}: sideEffects lists ${f}`);
      else assert.equal(pkg.sideEffects, false);
    }
    const cliBin = readTarball(packs.get('@tailtrace/cli')!).get('bin/tailtrace.js')!.toString();
    assert.ok(cliBin.includes(`const MIN_NODE_VERSION = '${MIN_NODE_VERSION}';`), 'the CLI checks the same oldest Node');
  });

  test('every package a module imports is a dependency; what is loaded on demand is an optional peer', () => {
    const seen = new Set<string>();
    for (const [name, file] of packs) {
      const contents = readTarball(file);
      const pkg = JSON.parse(contents.get('package.json')!.toString()) as {
        dependencies?: Record<string, string>; peerDependencies?: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }>;
      };
      for (const [f, body] of contents) {
        if (!f.endsWith('.js')) continue;
        const text = body.toString();
        const imported = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)|^\s*import\s+["']([^"']+)["']/gm)]
          .map((m) => m[1] ?? m[2] ?? m[3]!);
        // ESM output has no require of its own: any require() is a createRequire one, run on demand.
        const onDemand = [...text.matchAll(/(?:createRequire\([^)]*\)|\brequire)\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
        for (const spec of imported) {
          if (spec.startsWith('.') || isBuiltin(spec)) continue;
          const dep = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (dep === name) continue; // the CLI's bin imports its own package by name
          assert.ok(pkg.dependencies?.[dep], `${name}/${f} imports ${dep} at load time: it must be a dependency (or be loaded on demand)`);
        }
        for (const spec of onDemand) {
          if (isBuiltin(spec)) continue;
          const optionalPeer = pkg.peerDependencies?.[spec] !== undefined && pkg.peerDependenciesMeta?.[spec]?.optional === true;
          assert.ok(optionalPeer || pkg.dependencies?.[spec], `${name}/${f} loads ${spec} on demand: an optional peer (or a dependency)`);
          seen.add(spec);
        }
      }
    }
    // The audit found the on-demand loads that exist today (so it can see one at all).
    for (const spec of ['@grpc/grpc-js', '@datadog/pprof']) assert.ok(seen.has(spec), `${spec} is loaded on demand`);
  });
});

/** `name{labels}` sample value from a text scrape (0 when absent). */
async function scrape(url: string): Promise<(name: string, labels: Record<string, string>) => number> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `scrape ${url}`);
  const samples = parseExposition(await res.text());
  return (name, labels) => samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

function spansOf(service: string): ReceivedSpan[] {
  return receiver.spans.filter((s) => s.service === service);
}

function only(spans: ReceivedSpan[], what: string): ReceivedSpan {
  assert.equal(spans.length, 1, `${what}: ${spans.length} spans ${JSON.stringify(spans.map((s) => s.name))}`);
  return spans[0]!;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return res.json();
}

/** Stops the app; it must have ended by itself (clean shutdown) with exit code 0 and no stack trace. */
async function stopCleanly(app: App, label: string): Promise<string> {
  const r = await app.stop();
  assert.ok(r.stopped, `${label}: printed STOPPED and ended by itself after SIGTERM:\n${r.stdout}${r.stderr}`);
  assert.equal(r.code, 0, `${label}: exit code\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at\s|Error/m, `${label}: no error or stack trace on stderr`);
  return r.stderr;
}

type Check = (dir: string, nodeBin: string, entry: string, service: string) => Promise<void>;

const checks: Record<string, Check> = {
  async express(dir, nodeBin, entry, service) {
    const app = await startApp(nodeBin, dir, [entry], env(nodeBin, service));
    for (const n of ['a', 'b', 'c']) assert.deepEqual(await getJson(`http://127.0.0.1:${app.ready.http}/hello/${n}`), { hello: n });
    const value = await scrape(String(app.ready.metrics));
    assert.equal(value('http_server_request_duration_seconds_count', { http_request_method: 'GET', http_route: '/hello/:name', http_response_status_code: '200' }), 3);
    await stopCleanly(app, service);
    await receiver.waitFor(() => spansOf(service).length >= 3);
    const spans = spansOf(service);
    assert.equal(spans.length, 3);
    for (const s of spans) {
      assert.equal(s.kind, SERVER);
      assert.equal(s.name, 'GET /hello/:name');
      assert.equal(s.attributes['http.route'], '/hello/:name');
      assert.equal(s.attributes['http.response.status_code'], 200);
    }
  },

  async grpc(dir, nodeBin, entry, service) {
    const app = await startApp(nodeBin, dir, [entry], env(nodeBin, service));
    assert.equal(app.ready.reply, 'hello grpc');
    assert.deepEqual(app.ready.counted, [0, 1, 2]);
    const value = await scrape(String(app.ready.metrics));
    for (const method of ['SayHello', 'Count']) {
      const labels = { rpc_service: 'hello.Greeter', rpc_method: method, rpc_grpc_status_code: '0' };
      assert.equal(value('rpc_server_duration_seconds_count', labels), 1, `server ${method}`);
      assert.equal(value('rpc_client_duration_seconds_count', labels), 1, `client ${method}`);
    }
    await stopCleanly(app, service);
    await receiver.waitFor(() => spansOf(service).length >= 4);
    for (const method of ['SayHello', 'Count']) {
      const named = spansOf(service).filter((s) => s.name === `hello.Greeter/${method}`);
      const client = only(named.filter((s) => s.kind === CLIENT), `${method} client`);
      const server = only(named.filter((s) => s.kind === SERVER), `${method} server`);
      assert.equal(server.traceId, client.traceId, `${method}: one trace`);
      assert.equal(server.parentSpanId, client.spanId, `${method}: the server span's parent is the client span`);
      assert.equal(server.attributes['rpc.system'], 'grpc');
    }
  },

  async http(dir, nodeBin, entry, service) {
    const app = await startApp(nodeBin, dir, [entry], env(nodeBin, service));
    for (let i = 0; i < 2; i++) assert.deepEqual(await getJson(`http://127.0.0.1:${app.ready.http}/front`), { front: true, stock: 7 });
    const value = await scrape(String(app.ready.metrics));
    assert.equal(value('http_server_request_duration_seconds_count', { http_request_method: 'GET', http_response_status_code: '200' }), 4, 'front and stock, twice');
    assert.equal(value('http_client_request_duration_seconds_count', { http_request_method: 'GET', http_response_status_code: '200' }), 2, 'the fetch, twice');
    await stopCleanly(app, service);
    await receiver.waitFor(() => spansOf(service).length >= 6);
    const spans = spansOf(service);
    const fronts = spans.filter((s) => s.kind === SERVER && s.attributes['url.path'] === '/front');
    assert.equal(fronts.length, 2);
    for (const front of fronts) {
      const client = only(spans.filter((s) => s.kind === CLIENT && s.parentSpanId === front.spanId), 'fetch span under the request');
      const stock = only(spans.filter((s) => s.kind === SERVER && s.parentSpanId === client.spanId), 'stock request under the fetch');
      assert.equal(client.traceId, front.traceId);
      assert.equal(stock.traceId, front.traceId);
      assert.equal(stock.attributes['url.path'], '/stock');
    }
  },

  async gateway(dir, nodeBin, entry, service) {
    const backend = await startApp(nodeBin, dir, [entry, 'backend'], env(nodeBin, `${service}-backend`));
    try {
      const gateway = await startApp(nodeBin, dir, [entry, 'gateway'], env(nodeBin, `${service}-gateway`, { GRPC_TARGET: `127.0.0.1:${backend.ready.grpc}` }));
      for (const n of ['x', 'y']) assert.deepEqual(await getJson(`http://127.0.0.1:${gateway.ready.http}/greet/${n}`), { greeting: `hello ${n}` });
      const gw = await scrape(String(gateway.ready.metrics));
      const be = await scrape(String(backend.ready.metrics));
      const rpc = { rpc_service: 'hello.Greeter', rpc_method: 'SayHello', rpc_grpc_status_code: '0' };
      assert.equal(gw('http_server_request_duration_seconds_count', { http_request_method: 'GET', http_route: '/greet/:name', http_response_status_code: '200' }), 2);
      assert.equal(gw('rpc_client_duration_seconds_count', rpc), 2);
      assert.equal(be('rpc_server_duration_seconds_count', rpc), 2);
      await stopCleanly(gateway, `${service}-gateway`);
    } finally {
      await stopCleanly(backend, `${service}-backend`);
    }
    await receiver.waitFor(() => spansOf(`${service}-gateway`).length >= 4 && spansOf(`${service}-backend`).length >= 2);
    const gwSpans = spansOf(`${service}-gateway`);
    const beSpans = spansOf(`${service}-backend`);
    const requests = gwSpans.filter((s) => s.kind === SERVER);
    assert.equal(requests.length, 2);
    for (const request of requests) {
      assert.equal(request.name, 'GET /greet/:name');
      const call = only(gwSpans.filter((s) => s.kind === CLIENT && s.parentSpanId === request.spanId), 'gRPC call under the request');
      assert.equal(call.name, 'hello.Greeter/SayHello');
      const handled = only(beSpans.filter((s) => s.parentSpanId === call.spanId), 'backend span under the call');
      assert.equal(handled.kind, SERVER);
      assert.equal(handled.name, 'hello.Greeter/SayHello');
      assert.equal(call.traceId, request.traceId);
      assert.equal(handled.traceId, request.traceId, 'one trace across both processes');
    }
  },
};

// The batch delay is longer than any run: spans reach the receiver only if shutdown() flushes them.
function env(nodeBin: string, service: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return userEnv(nodeBin, { SERVICE: service, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '600000', ...extra });
}

const runtimes = [['22', node22], ['24', node24]] as const;

describe('installed outside the repository, one app per kind of service', () => {
  before(async () => {
    receiver = await startOtlpReceiver();
    // Two installs at a time (npm is mostly waiting on the cache and the registry).
    const names = Object.keys(shapes);
    const pool = async (queue: string[]) => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) await install(n, shapes[n]!, SERVICE_PACKAGES).catch(() => {});
    };
    await Promise.all([pool(names), pool(names)]);
  });

  for (const [shapeName, shape] of Object.entries(shapes)) {
    test(`${shapeName}: installs with exactly its own dependencies`, async () => {
      const dir = await install(shapeName, shape, SERVICE_PACKAGES);
      const req = createRequire(join(dir, 'package.json'));
      for (const pkg of shape.absent) assert.throws(() => req.resolve(pkg), `${pkg} must not be installed in the ${shapeName} app`);
      const lock = JSON.parse(readFileSync(join(dir, 'node_modules', '.package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> };
      for (const pkg of SERVICE_PACKAGES) {
        assert.match(lock.packages[`node_modules/${pkg}`]?.resolved ?? '', /^file:/, `${pkg} comes from our tarball, not a registry`);
      }
      const nested = Object.keys(lock.packages).filter((p) => /node_modules\/.+\/node_modules\/@tailtrace\//.test(p));
      assert.deepEqual(nested, [], 'one copy of each @tailtrace package');
    });

    for (const [version, nodeBin] of runtimes) {
      for (const entry of shape.files.filter((f) => /\.[cm]js$/.test(f))) {
        const kind = entry.endsWith('.mjs') ? 'ESM' : 'CommonJS';
        test(`${shapeName} on Node ${version} as ${kind}: starts, serves, exports spans, is scraped, shuts down cleanly`, async () => {
          assert.ok(existsSync(nodeBin), `Node ${version} is installed by the bootstrap (${nodeBin})`);
          const dir = await install(shapeName, shape, SERVICE_PACKAGES);
          await checks[shapeName]!(dir, nodeBin, entry, `${shapeName}-${version}-${kind.toLowerCase()}`);
        });
      }
    }
  }
});

describe('the CLI installed alone', () => {
  let dir: string;
  let snapshot: string;
  let base: string;
  let cur: string;
  before(async () => {
    dir = await install('cli', { deps: [], files: [], absent: [] }, CLI_PACKAGES);
    const fixtures = join(work, 'cli-fixtures');
    mkdirSync(fixtures);
    const T0 = Date.UTC(2025, 5, 3, 10, 0, 0);
    snapshot = leakSnapshot(fixtures, 'small', 300);
    base = writeBundle(fixtures, 'base', {
      pid: 100, trigger: 'baseline', endMs: T0, seed: 1, ops: healthyOps(), runtime: { gcMsPerMin: 300, elP99Ms: 12, heapMB: [40] },
      heapAfterGcMB: [40, 40, 41, 40], snapshot: leakSnapshot(fixtures, 'base', 20), profile: heapProfile(0.5),
    });
    cur = writeBundle(fixtures, 'cur', {
      pid: 200, trigger: 'p99_regression', endMs: T0 + 86_400_000, seed: 2, ops: leakingOps(),
      runtime: { gcMsPerMin: 1020, elP99Ms: 31, heapMB: [80, 100, 120], baseGcMsPerMin: 400, baseElP99Ms: 14 },
      heapAfterGcMB: [60, 80, 100, 120], snapshot: snapshot, profile: heapProfile(6),
    });
  });

  test('has no service-side package: no profiler, tracing, metrics, instrument, express, grpc-js, pprof, pino', () => {
    const req = createRequire(join(dir, 'package.json'));
    for (const pkg of ['@tailtrace/profiler', '@tailtrace/tracing', '@tailtrace/metrics', '@tailtrace/instrument', 'prom-client', '@opentelemetry/api', 'express', '@grpc/grpc-js', ...NEVER]) {
      assert.throws(() => req.resolve(pkg), `${pkg} must not be installed with the CLI`);
    }
  });

  for (const [version, nodeBin] of runtimes) {
    test(`Node ${version}: npx tailtrace heap summary and tailtrace diagnose`, async () => {
      const summary = await run('npx', ['--no', '--', 'tailtrace', 'heap', 'summary', snapshot], { cwd: dir, env: userEnv(nodeBin), timeoutMs: 120_000 });
      assert.equal(summary.code, 0, summary.stderr);
      assert.match(summary.stdout, /LeakedSession/);
      const diagnose = await run('npx', ['--no', '--', 'tailtrace', 'diagnose', base, cur], { cwd: dir, env: userEnv(nodeBin), timeoutMs: 120_000 });
      assert.equal(diagnose.code, 0, diagnose.stderr);
      assert.match(diagnose.stdout, /GET \/orders\/:id regressed/);
      assert.match(diagnose.stdout, /LeakedSession/);
    });
  }
});

describe(`a Node older than ${MIN_NODE_VERSION}`, { skip: old === undefined ? 'no Node older than 22 on PATH' : false }, () => {
  const shape: Shape = { ...shapes.gateway!, files: [...shapes.gateway!.files, 'grpc.mjs', 'grpc.cjs'] };
  before(async () => {
    receiver ??= await startOtlpReceiver();
  });

  test(`npm on Node ${old?.version} installs the tarballs with an engine warning (engine-strict off, npm's default)`, async () => {
    const dir = await install('old-node', shape, SERVICE_PACKAGES, old!.bin, ['--engine-strict=false']);
    assert.match(readFileSync(join(dir, 'npm-install.log'), 'utf8'), /EBADENGINE/);
  });

  for (const entry of ['gateway.mjs', 'gateway.cjs']) {
    test(`${entry} on Node ${old?.version}: one line, then an instrumentation that passes everything through`, async () => {
      const dir = await install('old-node', shape, SERVICE_PACKAGES, old!.bin, ['--engine-strict=false']);
      const service = `old-${entry.replace('.', '-')}`;
      const line = unsupportedNodeMessage(old!.version);
      const backend = await startApp(old!.bin, dir, [entry, 'backend'], env(old!.bin, `${service}-backend`));
      const gateway = await startApp(old!.bin, dir, [entry, 'gateway'], env(old!.bin, `${service}-gateway`, { GRPC_TARGET: `127.0.0.1:${backend.ready.grpc}` }));
      // The middleware calls next(), both interceptors pass the call through.
      assert.deepEqual(await getJson(`http://127.0.0.1:${gateway.ready.http}/greet/old`), { greeting: 'hello old' });
      assert.equal(gateway.ready.metrics, '', 'no metrics port is opened');
      for (const [app, name] of [[gateway, 'gateway'], [backend, 'backend']] as const) {
        const stderr = await stopCleanly(app, `${service}-${name}`);
        assert.deepEqual(stderr.split('\n').filter(Boolean), [line], `${name}: exactly one line on stderr`);
      }
      // Both processes have ended: whatever they would have exported has arrived.
      assert.equal(receiver.spans.filter((s) => s.service.startsWith(service)).length, 0, 'nothing exported');
    });
  }

  for (const entry of ['grpc.mjs', 'grpc.cjs']) {
    test(`${entry} on Node ${old?.version}: unary and server-streaming calls pass through both interceptors`, async () => {
      const dir = await install('old-node', shape, SERVICE_PACKAGES, old!.bin, ['--engine-strict=false']);
      const service = `old-${entry.replace('.', '-')}`;
      const app = await startApp(old!.bin, dir, [entry], env(old!.bin, service));
      assert.equal(app.ready.reply, 'hello grpc');
      assert.deepEqual(app.ready.counted, [0, 1, 2]);
      const stderr = await stopCleanly(app, service);
      assert.deepEqual(stderr.split('\n').filter(Boolean), [unsupportedNodeMessage(old!.version)]);
      assert.equal(receiver.spans.filter((s) => s.service === service).length, 0, 'nothing exported');
    });
  }

  test(`the CLI on Node ${old?.version}: one line and exit code 1`, async () => {
    const dir = await install('cli', { deps: [], files: [], absent: [] }, CLI_PACKAGES);
    const r = await run('npx', ['--no', '--', 'tailtrace', '--version'], { cwd: dir, env: userEnv(old!.bin) });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `tailtrace: Node ${old!.version} is older than ${MIN_NODE_VERSION}, the oldest version tailtrace supports\n`);
  });
});
