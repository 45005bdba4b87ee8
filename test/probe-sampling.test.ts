import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { startOtlpReceiver } from './support/otlp-receiver.ts';
test('probe', async () => {
  const rcv = await startOtlpReceiver();
  const child = spawn(process.execPath, ['../bench/servers/express.ts'], { env: { ...process.env, BENCH_VARIANT: 'sampled10', BENCH_SINK: rcv.url }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((r) => child.stdout!.once('data', (d) => r(Number(String(d).trim()))));
  for (let i = 0; i < 1000; i++) await (await fetch(`http://127.0.0.1:${port}/items/${i}`)).text();
  await new Promise((r) => setTimeout(r, 2500));
  console.log('SPANS', rcv.spans.length, rcv.spans.slice(0, 2).map((s) => s.name));
  child.kill();
  await rcv.close();
});
