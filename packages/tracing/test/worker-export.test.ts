// The default exporter sends from a worker thread; these check what reaches a real OTLP/HTTP
// receiver from it (both protocols, gzip), the OTEL_EXPORTER_OTLP_*HEADERS variables, and the
// in-thread alternative.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { afterEach, test } from 'node:test';
import { createTracing } from '../src/index.ts';
import type { Tracing } from '../src/index.ts';
import { otlpHeaders } from '../src/env.ts';
import { receiver, spansOf, waitFor } from './helpers.ts';
import type { Receiver } from './helpers.ts';

let tracing: Tracing | undefined;
let rcv: Receiver | undefined;

afterEach(async () => {
  await tracing?.shutdown(1000);
  tracing = undefined;
  await rcv?.close();
  rcv = undefined;
});

const names = (r: Receiver) => spansOf(r).map((x) => x.name);

test('OTEL_EXPORTER_OTLP_HEADERS, overridden by the _TRACES_ variant, are percent-decoded', () => {
  assert.deepEqual(otlpHeaders({ OTEL_EXPORTER_OTLP_HEADERS: 'a=1,authorization=Basic%20eA%3D%3D', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'a=2' }), {
    a: '2',
    authorization: 'Basic eA==',
  });
  assert.deepEqual(otlpHeaders({}), {});
});

for (const thread of ['worker', 'main'] as const) {
  for (const [env, contentType] of [[{}, 'application/x-protobuf'], [{ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }, 'application/json']] as const) {
    test(`exportThread ${thread}: spans arrive as ${contentType}${'OTEL_EXPORTER_OTLP_COMPRESSION' in env ? ' (gzip)' : ''} with the configured headers`, async () => {
      rcv = await receiver();
      tracing = createTracing({
        env: { OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=blue,x-key=s%3Dcret,Content-Type=text/plain', ...env },
        endpoint: rcv.url, exportThread: thread, scheduledDelayMillis: 10, httpClient: false, sampler: 'always_on',
      });
      for (let i = 0; i < 5; i++) tracing.tracer.startSpan(`op-${i}`).end();
      const r = rcv;
      await waitFor(() => names(r).length >= 5, 5000);
      assert.deepEqual(names(r).sort(), ['op-0', 'op-1', 'op-2', 'op-3', 'op-4']);
      assert.equal(r.bodies[0]!.headers['x-tenant'], 'blue');
      assert.equal(r.bodies[0]!.headers['x-key'], 's=cret');
      // The body's own headers are ours whatever the configured ones say.
      assert.equal(r.bodies[0]!.contentType, contentType);
      assert.equal(r.bodies[0]!.encoding, 'OTEL_EXPORTER_OTLP_COMPRESSION' in env ? 'gzip' : undefined);
      // The receiver has the spans; the success reply travels back from the worker a moment later.
      await waitFor(() => tracing!.stats().exported === 5, 5000);
      assert.deepEqual(tracing.stats().dropped, { queueFull: 0, exportFailed: 0 });
    });
  }
}

test('the export worker never keeps the process alive, and a process that cannot start workers still exports', async () => {
  rcv = await receiver();
  const r = rcv;
  const script = `
    import { createTracing } from '@tailtrace/tracing';
    const t = createTracing({ env: {}, endpoint: ${JSON.stringify(r.url)}, scheduledDelayMillis: 10, httpClient: false, sampler: 'always_on', onFirstExportError: (e) => console.error('unexpected export failure:', e.message) });
    t.tracer.startSpan('from-child').end();
    setTimeout(() => {}, 1000);
  `;
  // Async, so this process's receiver can answer while the child runs. `--input-type` is one of
  // the flags with which no worker can start: the exporter falls back to sending in-thread.
  const child = spawn(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], { cwd: import.meta.dirname, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(-1);
    }, 10_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, 'exited by itself within 10 s');
  assert.ok(names(r).includes('from-child'), 'and its span was exported before it ended');
});
