// tracing.shutdown(timeoutMs) delivers everything queued and resolves within its timeout, also in
// a process with nothing else alive (child processes: ESM top-level await, CommonJS).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { afterEach, test } from 'node:test';
import { receiver, spansOf } from './helpers.ts';
import type { Receiver } from './helpers.ts';

let rcv: Receiver | undefined;
afterEach(async () => {
  await rcv?.close();
  rcv = undefined;
});

// Both export threads must deliver and end: the worker (default) and in-thread ('main', also
// where no worker can start).
const MODES = [
  { label: 'export worker', option: '' },
  { label: 'exportThread main', option: ` exportThread: 'main',` },
];

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...process.execArgv, ...args], { cwd: import.meta.dirname, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      setImmediate(() => resolve({ code, stdout, stderr }));
    });
  });
}

// 1500 spans: three batches of 512 and a remainder, all still queued when shutdown is called.
const body = (option: string): string => `
  const t = createTracing({ serviceName: 'job', sampler: 'always_on', httpClient: false, scheduledDelayMillis: 30000,${option} });
  for (let i = 0; i < 1500; i++) t.tracer.startSpan('job-' + i).end();
  const t0 = Date.now();
`;

for (const mode of MODES) {
  const BODY = body(mode.option);

  test(`ESM top-level await, ${mode.label}: shutdown delivers all 1500 queued spans and resolves; exit 0`, async () => {
    rcv = await receiver();
    const script = `import { createTracing } from '../src/index.ts';${BODY} await t.shutdown(5000); console.log('resolved ' + JSON.stringify(t.stats()));`;
    const r = await run(['--input-type=module', '-e', script], { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: rcv.url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /resolved .*"exported":1500/);
    assert.equal(spansOf(rcv).length, 1500);
  });

  test(`CommonJS, ${mode.label}: shutdown delivers all queued spans before the process ends`, async () => {
    rcv = await receiver();
    const script = `const { createTracing } = require('../src/index.ts');${BODY} t.shutdown(5000).then(() => console.log('resolved'));`;
    const r = await run(['--input-type=commonjs', '-e', script], { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: rcv.url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /resolved/);
    assert.equal(spansOf(rcv).length, 1500);
  });

  test(`a Collector that never answers, ${mode.label}: shutdown(600) resolves within its timeout, the process ends`, async () => {
    rcv = await receiver();
    rcv.mode = 'hang';
    const script = `import { createTracing } from '../src/index.ts';${BODY} await t.shutdown(600); console.log('took ' + (Date.now() - t0));`;
    const r = await run(['--input-type=module', '-e', script], { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: rcv.url });
    assert.equal(r.code, 0, r.stderr);
    const took = Number(/took (\d+)/.exec(r.stdout)?.[1]);
    assert.ok(took >= 550 && took < 1200, `shutdown(600) took ${took} ms`);
  });
}
