// The tailtrace Collector (built by scripts/ensure-collector.sh from collector/builder-config.yaml)
// for tests: validate shipped configs, run them on free loopback ports, and a "Tempo" stand-in
// (the same binary with an OTLP receiver and the test-only `file` exporter) whose output file
// shows exactly what the agent exported.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, startProc, waitFor } from './proc.ts';
import type { Proc } from './proc.ts';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
export const collectorDir = join(repoRoot, 'collector');

let cachedBin: string | undefined;
/** Path of the built Collector (builds it the first time; cached by manifest hash). */
export function collectorBinary(): string {
  if (cachedBin) return cachedBin;
  const fromEnv = process.env.TAILTRACE_OTELCOL_BIN;
  if (fromEnv && existsSync(fromEnv)) return (cachedBin = fromEnv);
  const out = execFileSync('bash', [join(repoRoot, 'scripts', 'ensure-collector.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  cachedBin = out.trim().split('\n').pop()!;
  return cachedBin;
}

export function validateConfig(configs: string[], env: Record<string, string> = {}): { status: number | null; output: string } {
  const r = spawnSync(collectorBinary(), ['validate', ...configs.map((c) => `--config=${c}`)], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    timeout: 60_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

export interface CollectorPorts {
  grpc: number;
  http: number;
  health: number;
  telemetry: number;
}

export interface RunningCollector {
  ports: CollectorPorts;
  /** host:port of the OTLP gRPC receiver */
  grpcEndpoint: string;
  /** http://127.0.0.1:port of the OTLP/HTTP receiver */
  httpUrl: string;
  telemetryUrl: string;
  proc: Proc;
  stop(): Promise<void>;
}

export async function allocatePorts(): Promise<CollectorPorts> {
  return { grpc: await freePort(), http: await freePort(), health: await freePort(), telemetry: await freePort() };
}

/**
 * Runs the Collector with the given config files (merged in order, as --config does) and
 * the receivers/health/telemetry endpoints on loopback ports; resolves once health_check
 * says the pipelines are up.
 */
export async function startCollector(opts: {
  configs: string[];
  env?: Record<string, string>;
  ports?: CollectorPorts;
  logFile: string;
  /** More command-line arguments after the --config flags (e.g. `--set=key=value` overrides). */
  args?: string[];
  /** Runs the Collector through another command (e.g. in a namespace): gets the binary and args, returns the command line. */
  wrap?: (bin: string, args: string[]) => [string, string[]];
}): Promise<RunningCollector> {
  const ports = opts.ports ?? (await allocatePorts());
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.grpc}`,
    OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.http}`,
    OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${ports.health}`,
    OTELCOL_TELEMETRY_HOST: '127.0.0.1',
    OTELCOL_TELEMETRY_PORT: String(ports.telemetry),
    // Go's runtime on 2 shared cores: keep the Collector from taking both.
    GOMAXPROCS: '1',
    ...opts.env,
  };
  const args = [...opts.configs.map((c) => `--config=${c}`), ...(opts.args ?? [])];
  const [cmd, argv] = opts.wrap ? opts.wrap(collectorBinary(), args) : [collectorBinary(), args];
  const proc = startProc(cmd, argv, { env, logFile: opts.logFile });
  try {
    await waitFor('Collector health_check', async () => {
      if (proc.exited()) throw new Error(`collector exited:\n${proc.log().slice(-4000)}`);
      const r = await fetch(`http://127.0.0.1:${ports.health}/`, { signal: AbortSignal.timeout(2000) });
      return r.ok;
    }, 30_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    ports,
    grpcEndpoint: `127.0.0.1:${ports.grpc}`,
    httpUrl: `http://127.0.0.1:${ports.http}`,
    telemetryUrl: `http://127.0.0.1:${ports.telemetry}/metrics`,
    proc,
    stop: () => proc.stop(),
  };
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
}

export interface TraceSink {
  collector: RunningCollector;
  file: string;
  /** Every span written so far, with its resource's service.name. */
  spans(): (OtlpSpan & { service: string })[];
  stop(): Promise<void>;
}

/**
 * A stand-in for Tempo: OTLP gRPC in, the `file` exporter (test-only component) out, one
 * JSON ExportTraceServiceRequest per line.
 */
export async function startTraceSink(dir: string, ports?: CollectorPorts): Promise<TraceSink> {
  const file = join(dir, 'sink-traces.jsonl');
  const config = join(dir, 'sink.yaml');
  writeFileSync(config, [
    'extensions:',
    '  health_check:',
    '    endpoint: ${env:OTELCOL_HEALTH_ENDPOINT}',
    'receivers:',
    '  otlp:',
    '    protocols:',
    '      grpc:',
    '        endpoint: ${env:OTLP_GRPC_ENDPOINT}',
    'exporters:',
    '  file:',
    `    path: ${file}`,
    '    format: json',
    '    flush_interval: 100ms',
    'service:',
    '  extensions: [health_check]',
    '  pipelines:',
    '    traces:',
    '      receivers: [otlp]',
    '      exporters: [file]',
    '  telemetry:',
    '    metrics:',
    '      level: none',
    '',
  ].join('\n'));
  const collector = await startCollector({ configs: [config], ports, logFile: join(dir, 'sink.log') });
  return {
    collector,
    file,
    spans() {
      if (!existsSync(file)) return [];
      const out: (OtlpSpan & { service: string })[] = [];
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        let req: { resourceSpans?: { resource?: { attributes?: { key: string; value: { stringValue?: string } }[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[] };
        try { req = JSON.parse(line); } catch { continue; } // a line still being written
        for (const rs of req.resourceSpans ?? []) {
          const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) out.push({ ...s, service });
        }
      }
      return out;
    },
    stop: () => collector.stop(),
  };
}

export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
