// `npm run demo [-- --duration S --rate R --otlp URL --json FILE]`
// Starts gateway (express) -> orders (gRPC) -> inventory (HTTP via fetch), drives constant-rate
// load at the gateway over HTTP and at orders over gRPC, then prints latency per protocol hop,
// the slowest requests' traces, and writes the same as JSON.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runLeakScenario } from './leak.ts';
import { startStack } from './stack.ts';
import type { Stack } from './stack.ts';
import type { DriverConfig, DriverMessage, DriverResult } from './load/main.ts';
import { renderHops, renderTraces, hopRows } from './report.ts';
import type { DemoReport } from './report.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '30' },
    rate: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '2' },
    otlp: { type: 'string' },
    'metrics-port': { type: 'string' },
    'metrics-host': { type: 'string', default: '127.0.0.1' },
    json: { type: 'string' },
    scenario: { type: 'string' },
    window: { type: 'string', default: '5' },
    'evidence-dir': { type: 'string' },
    timeout: { type: 'string', default: '120' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  process.stdout.write(`usage: npm run demo -- [--duration S] [--rate R] [--warmup S] [--otlp URL] [--json FILE]
  --duration  seconds of measured load (default 30)
  --rate      requests per second on each protocol (default 200)
  --warmup    seconds of unmeasured load first (default 2)
  --otlp      export spans to this OTLP/HTTP endpoint (e.g. http://localhost:4318)
  --metrics-port BASE  serve /metrics and /debug/pprof/ of gateway, orders, inventory on BASE, BASE+1, BASE+2
              (9464 matches collector/targets/services.json of the bundled stack; default: free
              ports, printed at start)
  --metrics-host ADDR  address those listen on (default 127.0.0.1; 0.0.0.0 for the compose stack)
  --json      where to write the report (default .tailtrace/demo-report.json)

npm run demo -- --scenario leak [--rate R] [--window S] [--timeout S] [--evidence-dir DIR]
  The services capture evidence on their own: after each writes its baseline bundle, the
  gateway's GET /api/orders/:id starts leaking; its P99-regression / heap-growth trigger writes a
  bundle with a heap snapshot, and the demo runs \`tailtrace diagnose\` on the two.
  --window        evaluation window in seconds (default 5; production default is 60)
  --timeout       give up when nothing triggers this many seconds after the leak starts (default 120)
  --evidence-dir  where bundles go (default .tailtrace/evidence/leak-<time>)
`);
  process.exit(0);
}

function positive(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`demo: --${name} must be a positive number, got '${raw}'\n`);
    process.exit(2);
  }
  return n;
}

const durationS = positive('duration', values.duration);
const rate = positive('rate', values.rate);
const warmupS = Number(values.warmup) || 0;
const root = process.env.TAILTRACE_ROOT ?? resolve(dirname(fileURLToPath(import.meta.url)), '..');
const jsonPath = resolve(values.json ?? join(root, '.tailtrace', 'demo-report.json'));

function runDriver(cfg: DriverConfig, onSlow: (traceId: string, latencyMs: number) => void): Promise<DriverResult> {
  const child = fork(fileURLToPath(new URL('./load/main.ts', import.meta.url)), [JSON.stringify(cfg)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolvePromise, reject) => {
    child.on('message', (msg: DriverMessage) => {
      if (msg.type === 'slow') onSlow(msg.traceId, msg.latencyMs);
      else resolvePromise(msg.result);
    });
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load driver exited with code ${code}`));
    });
  });
}

async function leakScenario(): Promise<void> {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  const evidenceDir = resolve(values['evidence-dir'] ?? join(root, '.tailtrace', 'evidence', `leak-${stamp}`));
  const reportBase = join(dirname(jsonPath), `diagnose-leak-${stamp}`);
  mkdirSync(dirname(reportBase), { recursive: true });
  const result = await runLeakScenario({
    rate,
    evidenceDir,
    reportBase,
    timeoutS: positive('timeout', values.timeout),
    windowMs: positive('window', values.window) * 1000,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`\nreport: ${result.reportFiles.join(', ')}\n`);
  process.exit(0);
}

async function main(): Promise<void> {
  if (values.scenario !== undefined) {
    if (values.scenario !== 'leak') {
      process.stderr.write(`demo: unknown --scenario '${values.scenario}' (known: leak)\n`);
      process.exit(2);
    }
    return leakScenario();
  }
  const base = values['metrics-port'] !== undefined ? positive('metrics-port', values['metrics-port']) : undefined;
  const metricsEnv = (offset: number): Record<string, string> =>
    base === undefined ? {} : { METRICS_PORT: String(base + offset), METRICS_HOST: values['metrics-host'] };
  const stack: Stack = await startStack({
    ...(values.otlp ? { otlp: values.otlp } : {}),
    quiet: false,
    serviceEnv: { gateway: metricsEnv(0), orders: metricsEnv(1), inventory: metricsEnv(2) },
  });
  let exitCode = 0;
  try {
    // Each service's own metrics port: the app ports serve neither /metrics nor /debug/pprof.
    const running = [stack.gateway, stack.orders, stack.inventory];
    const width = Math.max(...running.map((s) => s.metricsUrl.length));
    for (const svc of running) {
      process.stdout.write(`${svc.name.padEnd(9)} metrics: ${svc.metricsUrl.padEnd(width)}   pprof: ${svc.pprofUrl}\n`);
    }
    process.stdout.write(
      `\nload: ${rate} req/s over HTTP to gateway and ${rate} req/s over gRPC to orders, ${durationS} s (+${warmupS} s warm-up)\n`,
    );
    const load = await runDriver({ gatewayUrl: stack.gatewayUrl, ordersAddr: stack.ordersAddr, rate, durationS, warmupS }, stack.pin);
    const slowest = [
      ...load.http.slowest.map((s) => ({ ...s, via: 'HTTP -> gateway' })),
      ...load.grpc.slowest.map((s) => ({ ...s, via: 'gRPC -> orders' })),
    ]
      .sort((a, b) => b.latencyMs - a.latencyMs)
      .slice(0, 5);
    const services = await stack.report(slowest.map((s) => s.traceId));
    const report: DemoReport = {
      startedAt: new Date().toISOString(),
      durationS,
      rate,
      otlp: values.otlp ?? null,
      hops: hopRows(load, services),
      slowest: slowest.map((s) => ({ ...s, spans: services.flatMap((r) => r.spans.filter((sp) => sp.traceId === s.traceId)) })),
      services: services.map(({ spans: _spans, ...rest }) => rest),
    };
    process.stdout.write(`\n${renderHops(report.hops)}\n`);
    process.stdout.write(`\n${renderTraces(report.slowest)}\n`);
    const dropped = services.reduce((n, s) => n + s.spansDropped, 0);
    const exported = services.reduce((n, s) => n + s.spansExported, 0);
    if (values.otlp) process.stdout.write(`\nspans exported to ${values.otlp}: ${exported}, dropped: ${dropped}\n`);
    mkdirSync(dirname(jsonPath), { recursive: true });
    writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\nreport: ${jsonPath}\n`);
    if (load.http.requests === 0 || load.grpc.requests === 0) exitCode = 1;
  } finally {
    await stack.stop();
  }
  process.exit(exitCode);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
