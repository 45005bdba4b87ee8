// The startup line says where spans go without printing credentials: userinfo, secret query
// values and header values are masked (a child process: the line goes to its real stderr).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

test('the startup line masks the credentials of the OTLP endpoint and says when signals flush', async () => {
  const script = `
    import { instrument } from '@tailtrace/instrument';
    const tt = instrument({ serviceName: 'masked', heapProfile: false, evidence: false, shutdownOnSignal: true });
    await tt.shutdown(200);
  `;
  const { stderr } = await run(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], {
    cwd: import.meta.dirname,
    timeout: 20_000,
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://svc-user:PASSWORD123@127.0.0.1:9/v1/traces?token=TOKEN456',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20HEADER789',
    },
  });
  for (const secret of ['PASSWORD123', 'svc-user', 'TOKEN456', 'HEADER789']) assert.ok(!stderr.includes(secret), `${secret} printed:\n${stderr}`);
  assert.match(stderr, /^\[tailtrace\] masked: spans -> http:\/\/REDACTED:REDACTED@127\.0\.0\.1:9\/v1\/traces\?token=REDACTED \(flushed on SIGTERM\/SIGINT\)$/m);
});
