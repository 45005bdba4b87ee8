// `npm run bench -- overhead [--json] [--rounds N] [--seconds S] [--only express|grpc] [--handler hello|realistic|both]`
//
// What instrumentation costs a server, in one run: the server process is pinned to core 0, the
// load generator (wrk for HTTP, ghz for gRPC: both native, so the server is the bottleneck) and
// the OTLP sink to core 1, the load generators at lower priority (nice 10) so they never starve
// the sink: a starved sink makes exports time out and spans drop, which would hide the cost of
// exporting them (the table shows spans exported/dropped per variant). Variants alternate within each round so drift in the machine hits
// all of them alike; each figure is the median over rounds. CPU per request is the server's own
// user+system time between two marks, divided by the requests served in between.
//
// Peers run in the same rotation: OpenTelemetry's auto-instrumentation and Datadog's dd-trace,
// both keeping every trace (as alwaysOn does); the sink answers OTLP and plays dd-trace's agent
// (its trace intake) and counts what each sent. Two handlers: `hello` (the item at once) and
// `realistic` (~1 ms of CPU and one outgoing fetch to an upstream on core 1), whose variants are
// named `realistic:<variant>` and compared with `realistic:bare`.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, platform, release, totalmem } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const VARIANTS = ['bare', 'alwaysOn', 'sampled10', 'sampled10Heap', 'otelAuto', 'ddTrace'] as const;
// sampled10Heap = sampled10 + instrument({ heapProfile: {} }) (V8 sampling heap profiler at 512 KiB):
// compared with sampled10 round by round.
type Base = (typeof VARIANTS)[number] | 'alwaysOff' | 'interceptorOnly' | 'alwaysOnInterceptor';
/** A hello-world variant, or the same variant serving the realistic handler. */
export type Variant = Base | `realistic:${'bare' | 'alwaysOn' | 'sampled10' | 'otelAuto' | 'ddTrace'}`;
// Diagnostic extras: instrument() with nothing sampled (the fixed per-request cost), and for
// gRPC a pass-through interceptor (the floor grpc-js's interceptor API itself imposes) and
// tailtrace always-on traced by its server interceptor alone instead of wrapped handlers
// (tt.grpcService), the two ways compared in the same run.
const EXTRA: Record<Protocol, Variant[]> = { express: ['alwaysOff'], grpc: ['alwaysOff', 'interceptorOnly', 'alwaysOnInterceptor'] };
const REALISTIC: Variant[] = ['realistic:bare', 'realistic:alwaysOn', 'realistic:sampled10', 'realistic:otelAuto', 'realistic:ddTrace'];
type Protocol = 'express' | 'grpc';
type Handler = 'hello' | 'realistic';

export interface VariantResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerReq: number;
  rssMb: number;
  throughputRatio: number;
  p99Ratio: number;
  cpuRatio: number;
  rounds: number;
  /**
   * tailtrace variants, summed over rounds, read after a flush: spans exported, dropped (queue full
   * or export failed) and still queued. Every span created is one of the three, so dropped =
   * queued = 0 means exported = created.
   */
  spansExported?: number;
  spansDropped?: number;
  spansQueued?: number;
  /** Requests the server answered (warm-up and measured, summed over rounds): spans per request = spansExported / this. */
  requestsServed?: number;
  /** Peers: what the sink received from them, summed over rounds (OTLP spans; dd-trace traces). */
  sinkSpans?: number;
  sinkTraces?: number;
}
export type OverheadResult = Partial<Record<Protocol, Record<Variant, VariantResult>>> & { meta: Record<string, unknown> };

interface LoadFigures {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const root = process.env.TAILTRACE_ROOT ?? here('..');

function ghzPath(): string | undefined {
  const gopath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).stdout?.trim();
  const candidates = [gopath && join(gopath, 'bin', 'ghz'), '/root/go/bin/ghz'].filter(Boolean) as string[];
  return candidates.find((p) => existsSync(p));
}

function ensureTools(): { ghz: string } {
  execFileSync('bash', [join(root, 'scripts', 'ensure-bench-tools.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const ghz = ghzPath();
  if (!ghz || spawnSync('wrk', ['-v']).error) throw new Error('wrk and ghz are needed (scripts/ensure-bench-tools.sh)');
  return { ghz };
}

interface Sink {
  url: string;
  requests: () => number;
  /** Spans in OTLP/JSON bodies (the peers' exporters send JSON) and traces in dd-trace payloads. */
  received: () => { spans: number; traces: number };
  close: () => void;
}

/**
 * One local endpoint for everything the servers talk to, so export cost is real but cheap: OTLP
 * (accepts and discards), dd-trace's agent (PUT /v0.N/traces answered with the agent's sampling
 * rates, /info with its endpoints), and the realistic handler's upstream (a small JSON body).
 */
function startSink(): Promise<Sink> {
  let requests = 0;
  let spans = 0;
  let traces = 0;
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/upstream') {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"stock":7}');
      return;
    }
    const chunks: Buffer[] = [];
    const json = req.headers['content-type']?.includes('json') === true;
    req.on('data', (c: Buffer) => {
      if (json) chunks.push(c);
    });
    req.on('end', () => {
      requests++;
      if (/^\/v0\.\d\/traces$/.test(url)) {
        traces += Number(req.headers['x-datadog-trace-count'] ?? 0);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"rate_by_service":{"service:,env:":1}}');
        return;
      }
      if (url === '/info') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"version":"7.60.0","endpoints":["/v0.4/traces","/v0.5/traces"],"client_drop_p0s":false}');
        return;
      }
      if (json) spans += Buffer.concat(chunks).toString('latin1').split('"spanId":').length - 1;
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' });
      res.end(json ? '{}' : '');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, requests: () => requests, received: () => ({ spans, traces }), close: () => server.close() });
    });
  });
}

interface ServerHandle {
  port: number;
  child: ChildProcess;
  request<T>(msg: { type: string }, reply: string): Promise<T>;
  stop(): Promise<void>;
}

/** The server process of a variant: its instrumentation, handler and preloaded agent. */
function serverSetup(variant: Variant, sink: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const [handler, base] = variant.startsWith('realistic:') ? ['realistic', variant.slice('realistic:'.length)] : ['hello', variant];
  const env: NodeJS.ProcessEnv = {
    ...process.env, BENCH_VARIANT: base === 'alwaysOnInterceptor' ? 'alwaysOn' : base, BENCH_SINK: sink, BENCH_HANDLER: handler,
    BENCH_UPSTREAM: `${sink}/upstream`,
  };
  if (base === 'alwaysOnInterceptor') env.BENCH_GRPC_SERVER = 'interceptor';
  const args: string[] = [];
  if (base === 'otelAuto') {
    args.push('--import', here('./servers/otel-auto.ts'));
    env.OTEL_NODE_ENABLED_INSTRUMENTATIONS = 'http,express,grpc,undici';
  } else if (base === 'ddTrace') {
    args.push('--import', here('./servers/dd-trace.ts'));
    Object.assign(env, {
      BENCH_DD_AGENT: sink, DD_TRACE_STARTUP_LOGS: 'false', DD_RUNTIME_METRICS_ENABLED: 'false', DD_PROFILING_ENABLED: 'false',
      DD_APPSEC_ENABLED: 'false', DD_INSTRUMENTATION_TELEMETRY_ENABLED: 'false', DD_REMOTE_CONFIGURATION_ENABLED: 'false',
      DD_CRASHTRACKING_ENABLED: 'false', DD_DATA_STREAMS_ENABLED: 'false', DD_DYNAMIC_INSTRUMENTATION_ENABLED: 'false',
    });
  }
  return { args, env };
}

function startServer(protocol: Protocol, variant: Variant, sink: string): Promise<ServerHandle> {
  const { args, env } = serverSetup(variant, sink);
  const child = spawn('taskset', ['-c', '0', process.execPath, ...args, here(`./servers/${protocol}.ts`)], {
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const request = <T>(msg: { type: string }, reply: string) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${protocol}/${variant}: no '${reply}' within 30 s`)), 30_000);
      const on = (m: { type: string }) => {
        if (m.type !== reply) return;
        clearTimeout(timer);
        child.off('message', on);
        resolve(m as T);
      };
      child.on('message', on);
      if (msg.type !== 'none') child.send(msg);
    });
  return request<{ port: number }>({ type: 'none' }, 'ready').then(({ port }) => ({
    port,
    child,
    request,
    stop: () =>
      new Promise<void>((resolve) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.send({ type: 'stop' });
      }),
  }));
}

function wrkMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

// Async on purpose: the OTLP sink lives in this process and must keep answering while the load
// runs (a synchronous exec would stall it, exports would time out and spans be dropped).
const run = promisify(execFile);

async function wrk(port: number, seconds: number, connections: number): Promise<LoadFigures> {
  const { stdout: out } = await run('taskset', ['-c', '1', 'nice', '-n', '10', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/items/42`], {
    encoding: 'utf8',
  });
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '';
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '';
  return { requests, rps, p50Ms: wrkMs(p50), p99Ms: wrkMs(p99) };
}

async function ghz(bin: string, port: number, seconds: number, concurrency: number): Promise<LoadFigures> {
  const proto = join(root, 'examples', 'proto', 'orders.proto');
  const { stdout: out } = await run(
    'taskset',
    ['-c', '1', 'nice', '-n', '10', bin, '--insecure', '--proto', proto, '--call', 'orders.OrderService.Get', '-d', '{"id":"42","payload_bytes":0}',
      '-c', String(concurrency), '--connections', '4', '-z', `${seconds}s`, '--format', 'json', `127.0.0.1:${port}`],
    { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
  );
  const r = JSON.parse(out) as { count: number; rps: number; latencyDistribution: { percentage: number; latency: number }[] | null; statusCodeDistribution?: Record<string, number> };
  if (r.latencyDistribution === null) throw new Error(`ghz: no successful call (${JSON.stringify(r.statusCodeDistribution ?? {})})`);
  const at = (p: number) => (r.latencyDistribution!.find((d) => d.percentage === p)?.latency ?? Number.NaN) / 1e6;
  return { requests: r.count, rps: r.rps, p50Ms: at(50), p99Ms: at(99) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '6' },
      warmup: { type: 'string', default: '2' },
      only: { type: 'string' },
      connections: { type: 'string', default: '32' },
      handler: { type: 'string', default: 'both' },
    },
  });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  const connections = Number(values.connections);
  const protocols: Protocol[] = values.only ? [values.only as Protocol] : ['express', 'grpc'];
  const handlers: Handler[] = values.handler === 'hello' || values.handler === 'realistic' ? [values.handler] : ['hello', 'realistic'];
  const variantsOf = (protocol: Protocol): Variant[] => [
    ...(handlers.includes('hello') ? [...VARIANTS, ...EXTRA[protocol]] : []),
    ...(handlers.includes('realistic') ? REALISTIC : []),
  ];
  const { ghz: ghzBin } = ensureTools();
  spawnSync('taskset', ['-pc', '1', String(process.pid)]);
  const sink = await startSink();
  const log = (s: string) => process.stderr.write(`${s}\n`);

  const samples: Record<string, Samples> = {};
  for (let round = 0; round < rounds; round++) {
    for (const protocol of protocols) {
      // Rotate the order each round so no variant always runs first or last.
      const all = variantsOf(protocol);
      const order = all.map((_, i) => all[(i + round) % all.length]!);
      for (const variant of order) {
        const key = `${protocol}/${variant}`;
        const s = (samples[key] ??= newSamples());
        const load = (port: number, s: number) => (protocol === 'express' ? wrk(port, s, connections) : ghz(ghzBin, port, s, connections));
        const fig = await measureVariant(protocol, variant, sink, s, (port) => (warmup > 0 ? load(port, warmup) : Promise.resolve(undefined)), (port) => load(port, seconds));
        log(`round ${round + 1}/${rounds} ${key.padEnd(18)} ${fig.rps.toFixed(0).padStart(6)} req/s  p99 ${fig.p99Ms.toFixed(2)} ms  ${s.cpu.at(-1)!.toFixed(1)} µs CPU/req`);
      }
    }
  }
  sink.close();

  const result = {
    meta: {
      rounds, seconds, connections, handlers, cores: 'server: core 0; load + sink + upstream: core 1', sinkRequests: sink.requests(),
      machine: machine(), node: process.version, ddTrace: packageVersion('dd-trace'), otelAutoInstrumentations: packageVersion('@opentelemetry/auto-instrumentations-node'),
    },
  } as unknown as OverheadResult;
  const heapSampling: Partial<Record<Protocol, HeapSamplingRatios>> = {};
  for (const protocol of protocols) {
    result[protocol] = resultRows(protocol, variantsOf(protocol), samples);
    if (handlers.includes('hello')) heapSampling[protocol] = pairedRatios(samples[`${protocol}/sampled10Heap`]!, samples[`${protocol}/sampled10`]!);
  }
  result.meta.heapSampling = heapSampling;
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else for (const protocol of protocols) printTable(protocol, variantsOf(protocol), result, heapSampling[protocol], `median of ${rounds} rounds, ${seconds} s each, ${connections} connections`);
  return 0;
}

interface Spread { median: number; min: number; max: number }

/** What one variant measured, summed or listed over rounds. */
interface Samples {
  rps: number[]; p50: number[]; p99: number[]; cpu: number[]; rss: number[];
  exported: number; dropped: number; queued: number; traced: boolean; served: number; sinkSpans: number; sinkTraces: number;
}

function newSamples(): Samples {
  return { rps: [], p50: [], p99: [], cpu: [], rss: [], exported: 0, dropped: 0, queued: 0, traced: false, served: 0, sinkSpans: 0, sinkTraces: 0 };
}

interface Measured {
  cpuUs: number;
  rssMb: number;
  spans?: { exported: number; dropped: { queueFull: number; exportFailed: number }; queued: number };
}

/** One round of one variant: its own server process, warm-up, measured load, the server's CPU and spans. */
async function measureVariant(
  protocol: Protocol, variant: Variant, sink: Sink, s: Samples,
  warm: (port: number) => Promise<LoadFigures | undefined>, measure: (port: number) => Promise<LoadFigures>,
): Promise<LoadFigures> {
  const server = await startServer(protocol, variant, sink.url);
  try {
    const w = await warm(server.port);
    await server.request({ type: 'mark' }, 'marked');
    const before = sink.received();
    const fig = await measure(server.port);
    const m = await server.request<Measured>({ type: 'measure' }, 'measured');
    // What a peer sent while measured (its exporter may flush a little after; close enough to see drops).
    const after = sink.received();
    s.sinkSpans += after.spans - before.spans;
    s.sinkTraces += after.traces - before.traces;
    s.served += fig.requests + (w?.requests ?? 0);
    if (m.spans) {
      s.traced = true;
      s.exported += m.spans.exported;
      s.dropped += m.spans.dropped.queueFull + m.spans.dropped.exportFailed;
      s.queued += m.spans.queued;
    }
    s.rps.push(fig.rps);
    s.p50.push(fig.p50Ms);
    s.p99.push(fig.p99Ms);
    s.cpu.push(m.cpuUs / Math.max(1, fig.requests));
    s.rss.push(m.rssMb);
    return fig;
  } finally {
    await server.stop();
  }
}

/** Medians over rounds, as ratios to the bare server of the same handler. */
function resultRows(protocol: Protocol, variants: Variant[], samples: Record<string, Samples>): Record<Variant, VariantResult> {
  const rows = {} as Record<Variant, VariantResult>;
  for (const variant of variants) {
    const base = samples[`${protocol}/${variant.startsWith('realistic:') ? 'realistic:bare' : 'bare'}`]!;
    const s = samples[`${protocol}/${variant}`]!;
    const rps = median(s.rps);
    const p99 = median(s.p99);
    const cpu = median(s.cpu);
    rows[variant] = {
      rps, p50Ms: median(s.p50), p99Ms: p99, cpuUsPerReq: cpu, rssMb: median(s.rss),
      throughputRatio: rps / median(base.rps), p99Ratio: p99 / median(base.p99), cpuRatio: cpu / median(base.cpu), rounds: s.rps.length,
      ...(s.traced ? { spansExported: s.exported, spansDropped: s.dropped, spansQueued: s.queued, requestsServed: s.served } : {}),
      ...(variant.endsWith('otelAuto') ? { sinkSpans: s.sinkSpans } : {}),
      ...(variant.endsWith('ddTrace') ? { sinkTraces: s.sinkTraces } : {}),
    };
  }
  return rows;
}

function printTable(protocol: Protocol, variants: Variant[], result: OverheadResult, h: HeapSamplingRatios | undefined, caption: string): void {
  process.stdout.write(`\n${protocol} (${caption})\n`);
  process.stdout.write('variant                 req/s     P50 ms  P99 ms  CPU µs/req  RSS MB  throughput  P99     CPU    spans exported/dropped/queued, per request (peers: received)\n');
  for (const variant of variants) {
    const r = result[protocol]![variant];
    const spans = r.spansExported !== undefined ? `${r.spansExported}/${r.spansDropped}/${r.spansQueued}, ${(r.spansExported / Math.max(1, r.requestsServed ?? 1)).toFixed(2)}`
      : r.sinkSpans !== undefined ? `${r.sinkSpans} spans` : r.sinkTraces !== undefined ? `${r.sinkTraces} traces` : '';
    process.stdout.write(
      `${variant.padEnd(21)} ${r.rps.toFixed(0).padStart(7)}  ${r.p50Ms.toFixed(2).padStart(7)} ${r.p99Ms.toFixed(2).padStart(7)}  ${r.cpuUsPerReq.toFixed(1).padStart(10)}  ${r.rssMb.toFixed(0).padStart(6)}  ${r.throughputRatio.toFixed(2).padStart(9)}x  ${r.p99Ratio.toFixed(2)}x  ${r.cpuRatio.toFixed(2)}x  ${spans}\n`,
    );
  }
  const fmt = (r: Spread) => `${r.median.toFixed(3)}x (rounds ${r.min.toFixed(3)}..${r.max.toFixed(3)})`;
  if (h) process.stdout.write(`heap sampling 512 KiB (sampled10Heap vs sampled10, paired by round): throughput ${fmt(h.throughput)}  P99 ${fmt(h.p99)}  CPU ${fmt(h.cpu)}\n`);
}

/** What the figures were measured on, for the table's caption. */
function machine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}`;
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(here(`./node_modules/${name}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
interface HeapSamplingRatios { throughput: Spread; p99: Spread; cpu: Spread }

// Ratios of variant/base within each round (the two ran minutes apart at most), then their spread.
function pairedRatios(v: { rps: number[]; p99: number[]; cpu: number[] }, base: { rps: number[]; p99: number[]; cpu: number[] }): HeapSamplingRatios {
  const spread = (a: number[], b: number[]): Spread => {
    const r = a.map((x, i) => x / b[i]!);
    return { median: median(r), min: Math.min(...r), max: Math.max(...r) };
  };
  return { throughput: spread(v.rps, base.rps), p99: spread(v.p99, base.p99), cpu: spread(v.cpu, base.cpu) };
}
