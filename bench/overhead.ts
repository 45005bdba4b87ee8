// `npm run bench -- overhead [--json] [--rounds N] [--seconds S] [--only express|grpc]`
//
// What instrumentation costs a server, in one run: the server process is pinned to core 0, the
// load generator (wrk for HTTP, ghz for gRPC: both native, so the server is the bottleneck) and
// the OTLP sink to core 1, the load generators at lower priority (nice 10) so they never starve
// the sink: a starved sink makes exports time out and spans drop, which would hide the cost of
// exporting them (the table shows spans exported/dropped per variant). Variants alternate within each round so drift in the machine hits
// all of them alike; each figure is the median over rounds. CPU per request is the server's own
// user+system time between two marks, divided by the requests served in between.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const VARIANTS = ['bare', 'alwaysOn', 'sampled10', 'sampled10Heap', 'otelAuto'] as const;
// sampled10Heap = sampled10 + instrument({ heapProfile: {} }) (V8 sampling heap profiler at 512 KiB):
// compared with sampled10 round by round.
export type Variant = (typeof VARIANTS)[number] | 'alwaysOff' | 'interceptorOnly';
// Diagnostic extras: instrument() with nothing sampled (the fixed per-request cost), and for
// gRPC a pass-through interceptor (the floor grpc-js's interceptor API itself imposes).
const EXTRA: Record<Protocol, Variant[]> = { express: ['alwaysOff'], grpc: ['alwaysOff', 'interceptorOnly'] };
type Protocol = 'express' | 'grpc';

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
  /** tailtrace variants: spans exported and dropped (queue full or export failed), summed over rounds. */
  spansExported?: number;
  spansDropped?: number;
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

/** An OTLP/HTTP endpoint that accepts and discards spans, so export cost is real but cheap. */
function startSink(): Promise<{ url: string; requests: () => number; close: () => void }> {
  let requests = 0;
  const server = createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' });
      res.end(req.headers['content-type']?.includes('json') ? '{}' : '');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, requests: () => requests, close: () => server.close() });
    });
  });
}

interface ServerHandle {
  port: number;
  child: ChildProcess;
  request<T>(msg: { type: string }, reply: string): Promise<T>;
  stop(): Promise<void>;
}

function startServer(protocol: Protocol, variant: Variant, sink: string): Promise<ServerHandle> {
  const args = variant === 'otelAuto' ? ['--import', here('./servers/otel-auto.ts')] : [];
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_VARIANT: variant, BENCH_SINK: sink };
  if (variant === 'otelAuto') env.OTEL_NODE_ENABLED_INSTRUMENTATIONS = 'http,express,grpc';
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
  const r = JSON.parse(out) as { count: number; rps: number; latencyDistribution: { percentage: number; latency: number }[] };
  const at = (p: number) => (r.latencyDistribution.find((d) => d.percentage === p)?.latency ?? Number.NaN) / 1e6;
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
    },
  });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  const connections = Number(values.connections);
  const protocols: Protocol[] = values.only ? [values.only as Protocol] : ['express', 'grpc'];
  const { ghz: ghzBin } = ensureTools();
  spawnSync('taskset', ['-pc', '1', String(process.pid)]);
  const sink = await startSink();
  const log = (s: string) => process.stderr.write(`${s}\n`);

  const samples: Record<string, { rps: number[]; p50: number[]; p99: number[]; cpu: number[]; rss: number[]; exported: number; dropped: number; traced: boolean }> = {};
  for (let round = 0; round < rounds; round++) {
    for (const protocol of protocols) {
      // Rotate the order each round so no variant always runs first or last.
      const all: Variant[] = [...VARIANTS, ...EXTRA[protocol]];
      const order = all.map((_, i) => all[(i + round) % all.length]!);
      for (const variant of order) {
        const server = await startServer(protocol, variant, sink.url);
        try {
          const load = (s: number) => (protocol === 'express' ? wrk(server.port, s, connections) : ghz(ghzBin, server.port, s, connections));
          if (warmup > 0) await load(warmup);
          await server.request({ type: 'mark' }, 'marked');
          const fig = await load(seconds);
          const m = await server.request<{ cpuUs: number; rssMb: number; spans?: { exported: number; dropped: { queueFull: number; exportFailed: number } } }>({ type: 'measure' }, 'measured');
          const key = `${protocol}/${variant}`;
          const s = (samples[key] ??= { rps: [], p50: [], p99: [], cpu: [], rss: [], exported: 0, dropped: 0, traced: false });
          if (m.spans) {
            s.traced = true;
            s.exported += m.spans.exported;
            s.dropped += m.spans.dropped.queueFull + m.spans.dropped.exportFailed;
          }
          s.rps.push(fig.rps);
          s.p50.push(fig.p50Ms);
          s.p99.push(fig.p99Ms);
          s.cpu.push(m.cpuUs / Math.max(1, fig.requests));
          s.rss.push(m.rssMb);
          log(`round ${round + 1}/${rounds} ${key.padEnd(18)} ${fig.rps.toFixed(0).padStart(6)} req/s  p99 ${fig.p99Ms.toFixed(2)} ms  ${(m.cpuUs / Math.max(1, fig.requests)).toFixed(1)} µs CPU/req`);
        } finally {
          await server.stop();
        }
      }
    }
  }
  sink.close();

  const result = { meta: { rounds, seconds, connections, cores: 'server: core 0; load + sink: core 1', sinkRequests: sink.requests() } } as unknown as OverheadResult;
  const heapSampling: Partial<Record<Protocol, HeapSamplingRatios>> = {};
  for (const protocol of protocols) {
    const base = samples[`${protocol}/bare`]!;
    const b = { rps: median(base.rps), p99: median(base.p99), cpu: median(base.cpu) };
    const rows = {} as Record<Variant, VariantResult>;
    for (const variant of [...VARIANTS, ...EXTRA[protocol]]) {
      const s = samples[`${protocol}/${variant}`]!;
      const rps = median(s.rps);
      const p99 = median(s.p99);
      const cpu = median(s.cpu);
      rows[variant] = {
        rps, p50Ms: median(s.p50), p99Ms: p99, cpuUsPerReq: cpu, rssMb: median(s.rss),
        throughputRatio: rps / b.rps, p99Ratio: p99 / b.p99, cpuRatio: cpu / b.cpu, rounds: s.rps.length,
        ...(s.traced ? { spansExported: s.exported, spansDropped: s.dropped } : {}),
      };
    }
    result[protocol] = rows;
    heapSampling[protocol] = pairedRatios(samples[`${protocol}/sampled10Heap`]!, samples[`${protocol}/sampled10`]!);
  }
  result.meta.heapSampling = heapSampling;

  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    for (const protocol of protocols) {
      process.stdout.write(`\n${protocol} (median of ${rounds} rounds, ${seconds} s each, ${connections} connections)\n`);
      process.stdout.write('variant           req/s     P50 ms  P99 ms  CPU µs/req  RSS MB  throughput  P99     CPU    spans exported/dropped\n');
      for (const variant of [...VARIANTS, ...EXTRA[protocol]]) {
        const r = result[protocol]![variant];
        process.stdout.write(
          `${variant.padEnd(15)} ${r.rps.toFixed(0).padStart(7)}  ${r.p50Ms.toFixed(2).padStart(7)} ${r.p99Ms.toFixed(2).padStart(7)}  ${r.cpuUsPerReq.toFixed(1).padStart(10)}  ${r.rssMb.toFixed(0).padStart(6)}  ${r.throughputRatio.toFixed(2).padStart(9)}x  ${r.p99Ratio.toFixed(2)}x  ${r.cpuRatio.toFixed(2)}x  ${r.spansExported !== undefined ? `${r.spansExported}/${r.spansDropped}` : ''}\n`,
        );
      }
      const h = heapSampling[protocol]!;
      const fmt = (r: Spread) => `${r.median.toFixed(3)}x (rounds ${r.min.toFixed(3)}..${r.max.toFixed(3)})`;
      process.stdout.write(`heap sampling 512 KiB (sampled10Heap vs sampled10, paired by round): throughput ${fmt(h.throughput)}  P99 ${fmt(h.p99)}  CPU ${fmt(h.cpu)}\n`);
    }
  }
  return 0;
}

interface Spread { median: number; min: number; max: number }
interface HeapSamplingRatios { throughput: Spread; p99: Spread; cpu: Spread }

// Ratios of variant/base within each round (the two ran minutes apart at most), then their spread.
function pairedRatios(v: { rps: number[]; p99: number[]; cpu: number[] }, base: { rps: number[]; p99: number[]; cpu: number[] }): HeapSamplingRatios {
  const spread = (a: number[], b: number[]): Spread => {
    const r = a.map((x, i) => x / b[i]!);
    return { median: median(r), min: Math.min(...r), max: Math.max(...r) };
  };
  return { throughput: spread(v.rps, base.rps), p99: spread(v.p99, base.p99), cpu: spread(v.cpu, base.cpu) };
}
