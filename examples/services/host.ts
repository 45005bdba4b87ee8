// What every demo service shares: instrument() with the demo's options, the in-memory span
// ring, and the IPC protocol with the demo orchestrator (ready / report / shutdown). A service
// started by hand (no IPC channel) prints its ready line as JSON on stdout instead.
import { join } from 'node:path';
import { instrument } from '@tailtrace/instrument';
import type { Instrumentation, InstrumentOptions } from '@tailtrace/instrument';
import { Scenarios } from './scenarios.ts';
import { SpanRing } from './span-ring.ts';
import type { SpanView } from './span-ring.ts';

export interface HopStats {
  kind: string;
  operation: string;
  count: number;
  errors: number;
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export interface ServiceReport {
  service: string;
  pid: number;
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  hops: HopStats[];
  spans: SpanView[];
  spansExported: number;
  spansDropped: number;
}

export type ParentMessage =
  | { type: 'report'; traceIds: string[]; gc?: boolean }
  | { type: 'pin'; traceId: string; latencyMs: number }
  | { type: 'scenario'; name: string }
  | { type: 'shutdown' };
export type ChildMessage =
  | { type: 'ready'; service: string; port: number; metricsUrl: string; pid: number }
  | { type: 'report'; report: ServiceReport };

export interface ServiceHost {
  inst: Instrumentation;
  ring: SpanRing;
  /**
   * Where Prometheus scrapes this service: its own port when METRICS_PORT is set (the bundled
   * stack's targets are fixed), else `fallback` (the app's /metrics, or a port of its own).
   */
  metricsUrl(fallback: () => Promise<string>): Promise<string>;
  /** Announce readiness; `close` is called on shutdown before telemetry is flushed. */
  ready(port: number, metricsUrl: string, close: () => Promise<void>): void;
  /** Runs `start` when the orchestrator switches this service into a scenario (e.g. 'leak'). */
  onScenario(name: string, start: () => void): void;
  /** Plays the generic scenarios (gc-heavy, slow-dependency): `app.use(host.scenarios.middleware)`. */
  scenarios: Scenarios;
}

export function env(name: string, fallback?: string): string {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
}

/**
 * The leak scenario compresses production's minutes into seconds: short HDR windows (judged each
 * window), a baseline of 4 windows, and a P99 threshold of 3x and at least +50 ms: a 5 s window on
 * a shared 2-core machine is far noisier than production's 60 s (one 50 ms stall moves its P99).
 * Snapshots on triggers and baselines where asked (so diagnose can diff classes), with a short
 * rate limit. Everything else is instrument()'s defaults.
 */
function demoEvidence(service: string): Pick<InstrumentOptions, 'metrics' | 'evidence'> {
  const windowMs = Number(process.env.TAILTRACE_DEMO_EVIDENCE_WINDOW_MS);
  if (!(windowMs > 0)) return {};
  // The triggers benchmark records what each service's triggers saw, for replays.
  const recordDir = process.env.TAILTRACE_DEMO_RECORD_DIR;
  return {
    metrics: { hdr: { windowMs, subWindows: 5 } },
    evidence: {
      windowMs,
      baselineWindows: 4,
      baselineEveryMs: 10 * 60_000,
      // Snapshots where the orchestrator asks (the leak scenario: the gateway only). A snapshot
      // pauses its process for a second or more, and a paused backend is a P99 regression for
      // every caller: three services snapshotting their baselines at once set each other off.
      snapshots: process.env.TAILTRACE_DEMO_SNAPSHOTS === 'triggers' ? 'triggers' : 'manual',
      minSnapshotIntervalMs: 2 * windowMs,
      // Sustained for 3 windows (15 s): on 2 shared cores a neighbour's pause, a burst after a
      // caller's pause or the scheduler can hold two 5 s windows' P99 up; a leak stays.
      p99: { factor: 3, minDeltaMs: 50, minSamples: 100, cooldownMs: 5 * 60_000, sustain: 3 },
      // Growth judged over 30 s of major-GC readings: the leak (~20-30 MiB a minute at 200 req/s)
      // crosses 10 MiB in that span; a quiet service's readings move by a few MiB either way.
      heapGrowth: { windows: 6, minGrowthBytes: 10 * 2 ** 20 },
      ...(recordDir ? { recordTo: join(recordDir, `${service}.jsonl`) } : {}),
    },
  };
}

export function startHost(service: string): ServiceHost {
  // TAILTRACE_DEMO_SPAN_RING: ring size; memory tests make it small so it is full after warm-up.
  const ring = new SpanRing(service, Number(process.env.TAILTRACE_DEMO_SPAN_RING) || undefined);
  const otlp = process.env.TAILTRACE_DEMO_OTLP;
  const inst = instrument({
    serviceName: service,
    quiet: process.env.TAILTRACE_DEMO_QUIET === '1',
    // Without --otlp the demo needs no backend: spans stay in the ring only.
    ...(otlp ? { otlpEndpoint: otlp } : {}),
    tracing: { ...(otlp ? {} : { exporter: 'none' as const }), spanProcessors: [ring] },
    ...demoEvidence(service),
  });

  let closeApp: () => Promise<void> = async () => {};
  const scenarios = new Map<string, () => void>();
  const generic = new Scenarios();
  const shutdown = async (): Promise<void> => {
    await closeApp().catch(() => {});
    await inst.shutdown(3000).catch(() => {});
    process.exit(0);
  };

  process.on('message', (msg: ParentMessage) => {
    if (msg.type === 'report') {
      // Tests ask for a full GC first (services started with --expose-gc) so heapUsed is what is retained.
      const gc = (globalThis as { gc?: () => void }).gc;
      if (msg.gc && gc) gc();
      void report(service, inst, ring, new Set(msg.traceIds)).then((r) => {
        const reply: ChildMessage = { type: 'report', report: r };
        process.send?.(reply);
      });
    } else if (msg.type === 'pin') {
      ring.pin(msg.traceId, msg.latencyMs);
    } else if (msg.type === 'scenario') {
      scenarios.get(msg.name)?.();
      generic.enable(msg.name);
    } else if (msg.type === 'shutdown') {
      void shutdown();
    }
  });
  process.on('SIGTERM', () => void shutdown());
  process.on('disconnect', () => void shutdown());

  return {
    inst,
    ring,
    async metricsUrl(fallback) {
      const port = process.env.METRICS_PORT;
      if (!port) return fallback();
      const server = await inst.startMetricsServer({ port: Number(port), host: process.env.METRICS_HOST || '127.0.0.1' });
      return server.url;
    },
    ready(port, metricsUrl, close) {
      closeApp = close;
      const msg: ChildMessage = { type: 'ready', service, port, metricsUrl, pid: process.pid };
      if (process.send) process.send(msg);
      else process.stdout.write(`${JSON.stringify(msg)}\n`);
    },
    onScenario(name, start) {
      scenarios.set(name, start);
    },
    scenarios: generic,
  };
}

const HISTOGRAMS: Record<string, string> = {
  http_server: 'http_server_request_duration_seconds',
  http_client: 'http_client_request_duration_seconds',
  rpc_server: 'rpc_server_duration_seconds',
  rpc_client: 'rpc_client_duration_seconds',
};

/** Failed requests of one operation, from the RED histogram's counts (5xx / no response, or gRPC status != OK). */
async function errorCount(inst: Instrumentation, kind: string, operation: string): Promise<number> {
  const metric = inst.metrics.registry.getSingleMetric(HISTOGRAMS[kind] ?? '');
  if (!metric) return 0;
  const { values } = await metric.get();
  let errors = 0;
  for (const v of values) {
    if (!('metricName' in v) || !String(v.metricName).endsWith('_count')) continue;
    const l = v.labels as Record<string, string | number>;
    const op = kind.startsWith('rpc')
      ? `${l.rpc_service}/${l.rpc_method}`
      : `${l.http_request_method} ${kind === 'http_server' ? l.http_route : l.server_address}`;
    if (op !== operation) continue;
    const failed = kind.startsWith('rpc') ? Number(l.rpc_grpc_status_code) !== 0 : Number(l.http_response_status_code) >= 500 || Number(l.http_response_status_code) === 0;
    if (failed) errors += v.value;
  }
  return errors;
}

async function report(service: string, inst: Instrumentation, ring: SpanRing, traceIds: Set<string>): Promise<ServiceReport> {
  const hops: HopStats[] = [];
  for (const { kind, operation } of inst.metrics.hdr.operations()) {
    const w = inst.metrics.hdr.read(kind, operation);
    if (!w || w.count === 0) continue;
    hops.push({
      kind,
      operation,
      count: w.count,
      errors: await errorCount(inst, kind, operation),
      avgMs: w.mean * 1e3,
      p50Ms: w.percentiles.p50 * 1e3,
      p99Ms: w.percentiles.p99 * 1e3,
      p999Ms: w.percentiles.p999 * 1e3,
      maxMs: w.max * 1e3,
    });
  }
  const stats = inst.tracing.stats();
  const mem = process.memoryUsage();
  return {
    service,
    pid: process.pid,
    rssMb: mem.rss / 2 ** 20,
    heapUsedMb: mem.heapUsed / 2 ** 20,
    heapTotalMb: mem.heapTotal / 2 ** 20,
    externalMb: mem.external / 2 ** 20,
    hops,
    spans: ring.find(traceIds),
    spansExported: stats.exported,
    spansDropped: stats.dropped.queueFull + stats.dropped.exportFailed,
  };
}
