// Configuration errors never crash: every OTEL_* variable and option we read is validated; an
// unusable value gets one line naming it and the safe default. The crash cases run in child
// processes, as a service would: it must keep serving and exit 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { afterEach, test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createTracing } from '../src/index.ts';
import type { Tracing, TracingOptions } from '../src/index.ts';
import { receiver, spansOf, waitFor } from './helpers.ts';
import type { Receiver } from './helpers.ts';

let tracing: Tracing | undefined;
let rcv: Receiver | undefined;
afterEach(async () => {
  await tracing?.shutdown(500);
  tracing = undefined;
  await rcv?.close();
  rcv = undefined;
});

interface ChildResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs an ESM script in a child (this package's modules resolvable), bounded by `timeoutMs`. */
function runChild(script: string, env: Record<string, string>, timeoutMs = 20_000): Promise<ChildResult> {
  const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], {
    cwd: import.meta.dirname, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Let the pipes drain.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
}

/** A service: express with tracing, serving 30 requests to itself over ~1.5 s, then shutting down. */
const SERVICE = `
  import http from 'node:http';
  import express from 'express';
  import { createTracing } from '../src/index.ts';
  const opts = process.env.T_OPTIONS ? JSON.parse(process.env.T_OPTIONS) : {};
  const t = createTracing({ serviceName: 'cfg', sampler: 'always_on', ...opts });
  const app = express();
  app.use(t.expressMiddleware());
  app.get('/x/:i', (_req, res) => { res.end('ok'); });
  const server = app.listen(0, '127.0.0.1', async () => {
    const port = server.address().port;
    let ok = 0;
    for (let i = 0; i < 30; i++) {
      const res = await fetch('http://127.0.0.1:' + port + '/x/' + i);
      if (res.status === 200) ok++;
      await res.text();
      await new Promise((r) => setTimeout(r, 50));
    }
    server.close();
    await t.shutdown(1000);
    console.log('served ' + ok + ' target ' + t.exportTarget);
  });
`;

const BAD_ENDPOINTS: Array<[string, Record<string, string>, string]> = [
  ['not a url (traces variable)', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'],
  ['http://[::1 (traces variable)', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://[::1' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'],
  ['ftp://x (traces variable)', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'],
  ['not a url (generic variable)', { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  ['http://[::1 (generic variable)', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://[::1' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  ['empty string (option)', { T_OPTIONS: JSON.stringify({ endpoint: '' }) }, 'option endpoint'],
  ['ftp://x (option)', { T_OPTIONS: JSON.stringify({ endpoint: 'ftp://x' }) }, 'option endpoint'],
];

for (const [name, env, variable] of BAD_ENDPOINTS) {
  test(`a bad endpoint, ${name}: one line naming it, exporter none, the service keeps serving and exits 0`, async () => {
    const r = await runChild(SERVICE, { OTEL_BSP_SCHEDULE_DELAY: '100', ...env });
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
    assert.match(r.stdout, /served 30 target nowhere \(invalid endpoint\)/);
    const lines = r.stderr.trim().split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0]!.startsWith(`[tailtrace] ${variable}=`), lines[0]);
    assert.match(lines[0]!, /spans will not be exported \(exporter none\)$/);
  });
}

test('an empty endpoint variable means unset, as the OTel SDK spec says: the default endpoint, no line', () => {
  const warnings: string[] = [];
  tracing = createTracing({ env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '  ', OTEL_EXPORTER_OTLP_ENDPOINT: '' }, httpClient: false, onConfigWarning: (m) => warnings.push(m) });
  assert.equal(tracing.exportTarget, 'http://localhost:4318/v1/traces');
  assert.deepEqual(warnings, []);
});

// [variables, the name the one line must start with]
const BAD_VALUES: Array<[Record<string, string>, string]> = [
  [{ OTEL_SDK_DISABLED: 'yes' }, 'OTEL_SDK_DISABLED='],
  [{ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER='],
  [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: 'half' }, 'OTEL_TRACES_SAMPLER_ARG='],
  [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG='],
  [{ OTEL_PROPAGATORS: 'tracecontext,xray' }, 'OTEL_PROPAGATORS:'],
  [{ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER:'],
  [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL='],
  [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'carrier-pigeon' }, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='],
  [{ OTEL_EXPORTER_OTLP_COMPRESSION: 'brotli' }, 'OTEL_EXPORTER_OTLP_COMPRESSION='],
  [{ OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'zstd' }, 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION='],
  [{ OTEL_RESOURCE_ATTRIBUTES: 'team=core,broken,x=%zz' }, 'OTEL_RESOURCE_ATTRIBUTES:'],
  [{ OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cr3t,nokey' }, 'OTEL_EXPORTER_OTLP_HEADERS:'],
  [{ OTEL_EXPORTER_OTLP_HEADERS: 'bad header=1' }, 'OTEL_EXPORTER_OTLP_HEADERS:'],
  [{ OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-key=a%0Db' }, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS:'],
  [{ OTEL_BSP_MAX_QUEUE_SIZE: 'lots' }, 'OTEL_BSP_MAX_QUEUE_SIZE='],
  [{ OTEL_BSP_MAX_QUEUE_SIZE: '-5' }, 'OTEL_BSP_MAX_QUEUE_SIZE='],
  [{ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '0' }, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE='],
  [{ OTEL_BSP_SCHEDULE_DELAY: '1.5' }, 'OTEL_BSP_SCHEDULE_DELAY='],
  [{ OTEL_BSP_EXPORT_TIMEOUT: 'soon' }, 'OTEL_BSP_EXPORT_TIMEOUT='],
  [{ OTEL_EXPORTER_OTLP_TIMEOUT: '10s' }, 'OTEL_EXPORTER_OTLP_TIMEOUT='],
  [{ OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '0' }, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT='],
  [{ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: 'big' }, 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT='],
  [{ OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '-1' }, 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT='],
  [{ OTEL_ATTRIBUTE_COUNT_LIMIT: '2.5' }, 'OTEL_ATTRIBUTE_COUNT_LIMIT='],
  [{ OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: 'x' }, 'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT='],
  [{ OTEL_SPAN_EVENT_COUNT_LIMIT: 'x' }, 'OTEL_SPAN_EVENT_COUNT_LIMIT='],
  [{ OTEL_SPAN_LINK_COUNT_LIMIT: 'x' }, 'OTEL_SPAN_LINK_COUNT_LIMIT='],
  [{ OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: 'x' }, 'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT='],
  [{ OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: 'x' }, 'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT='],
];

for (const [env, name] of BAD_VALUES) {
  test(`${Object.entries(env).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}: one line naming ${name.slice(0, -1)}, no value of a header in it`, async () => {
    const warnings: string[] = [];
    const exporter = new InMemorySpanExporter();
    // OTLP (so endpoint and headers are judged) with nothing listening; spans also go to memory.
    tracing = createTracing({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', ...env }, httpClient: false, onConfigWarning: (m) => warnings.push(m),
      spanProcessors: [{ onStart: () => {}, onEnd: (s) => exporter.export([s], () => {}), forceFlush: async () => {}, shutdown: async () => {} }],
      onFirstExportError: () => {},
    });
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.ok(warnings[0]!.startsWith(name), warnings[0]);
    assert.ok(!warnings[0]!.includes('\n'));
    assert.ok(!warnings[0]!.includes('s3cr3t') && !warnings[0]!.includes('Bearer'), warnings[0]);
    // And the SDK still works with the defaults.
    tracing.tracer.startSpan('still-works').end();
    assert.equal(exporter.getFinishedSpans().length, 1);
  });
}

const BAD_OPTIONS: Array<[Partial<Record<keyof TracingOptions, unknown>>, string]> = [
  [{ sampler: 'sometimes' }, 'option sampler='],
  [{ samplerRatio: 2 }, 'option samplerRatio='],
  [{ propagators: 'tracecontext' }, 'option propagators='],
  [{ propagators: ['tracecontext', 'xray'] }, 'option propagators:'],
  [{ maxQueueSize: 0 }, 'option maxQueueSize='],
  [{ maxExportBatchSize: Number.NaN }, 'option maxExportBatchSize='],
  [{ scheduledDelayMillis: -1 }, 'option scheduledDelayMillis='],
  [{ exportTimeoutMillis: '5000' }, 'option exportTimeoutMillis='],
  [{ maxInFlightBatches: 0.5 }, 'option maxInFlightBatches='],
  [{ exportThread: 'both' }, 'option exportThread='],
  [{ protocol: 'grpc' }, 'option protocol='],
  [{ compression: 'lz4' }, 'option compression='],
  [{ exporter: 'zipkin' }, 'option exporter='],
  [{ spanLimits: 5 }, 'option spanLimits '],
  [{ spanLimits: { attributeValueLengthLimit: -3 } }, 'option spanLimits.attributeValueLengthLimit='],
  [{ resourceAttributes: { ok: 'x', bad: { nested: true } } }, 'option resourceAttributes.bad='],
  [{ redactQueryKeys: 'token' }, 'option redactQueryKeys '],
  [{ spanProcessors: [{}] }, 'option spanProcessors:'],
  [{ onOperation: 'log' }, 'option onOperation '],
];

for (const [opts, name] of BAD_OPTIONS) {
  test(`option ${JSON.stringify(opts)}: one line naming it, defaults kept`, () => {
    const warnings: string[] = [];
    tracing = createTracing({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }, httpClient: false, onConfigWarning: (m) => warnings.push(m), onFirstExportError: () => {}, ...(opts as TracingOptions) });
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.ok(warnings[0]!.startsWith(name), warnings[0]);
    tracing.tracer.startSpan('still-works').end();
  });
}

test('the first export failure is printed once, with the credentials and header values masked', async () => {
  const dead = await receiver();
  await dead.close();
  const url = dead.url.replace('http://', 'http://svc-user:PASSWORD123@') + '?api_key=KEY456';
  const script = `
    import { createTracing } from '../src/index.ts';
    const t = createTracing({ serviceName: 'mask', sampler: 'always_on', httpClient: false, scheduledDelayMillis: 10, exportTimeoutMillis: 500 });
    for (let i = 0; i < 3; i++) t.tracer.startSpan('s').end();
    await t.forceFlush();
    t.tracer.startSpan('s').end();
    await t.forceFlush();
    console.log('endpoint ' + t.endpoint + ' target ' + t.exportTarget);
    await t.shutdown(500);
  `;
  const r = await runChild(script, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url, OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20TOKEN789' });
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout + r.stderr;
  for (const secret of ['PASSWORD123', 'svc-user', 'KEY456', 'TOKEN789']) assert.ok(!out.includes(secret), `${secret} printed:\n${out}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^\[tailtrace\] span export to http:\/\/REDACTED:REDACTED@127\.0\.0\.1:\d+\/v1\/traces\?api_key=REDACTED failed \(/);
});

test('headers with values HTTP forbids are dropped with a line; export still works', async () => {
  rcv = await receiver();
  const warnings: string[] = [];
  tracing = createTracing({
    env: { OTEL_EXPORTER_OTLP_HEADERS: 'x-ok=1,x-bad=a%0D%0Ainjected:1' }, endpoint: rcv.url, scheduledDelayMillis: 5, httpClient: false, sampler: 'always_on',
    onConfigWarning: (m) => warnings.push(m),
  });
  tracing.tracer.startSpan('arrives').end();
  const r = rcv;
  await waitFor(() => spansOf(r).length === 1, 5000);
  assert.equal(r.bodies[0]!.headers['x-ok'], '1');
  assert.equal(r.bodies[0]!.headers['x-bad'], undefined);
  assert.equal(r.bodies[0]!.headers.injected, undefined);
  assert.deepEqual(warnings, ['OTEL_EXPORTER_OTLP_HEADERS: the value of header "x-bad" has characters HTTP does not allow (ignored)']);
});
