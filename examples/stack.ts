// Starts the demo's three services as child processes (each its own OpenTelemetry SDK, service
// name and RSS, as in production) and talks to them over IPC. Used by the demo, the end-to-end
// tests and the Prometheus/Collector tests. Only processes started here are ever signalled.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ServiceReport } from './services/host.ts';

export type ServiceName = 'inventory' | 'orders' | 'gateway';

export interface RunningService {
  name: ServiceName;
  pid: number;
  port: number;
  /** The service's metrics server: /metrics here, /debug/pprof/ beside it (pprofUrl). */
  metricsUrl: string;
  pprofUrl: string;
  child: ChildProcess;
}

export interface StackOptions {
  /** OTLP/HTTP base URL (http://host:4318); without it spans stay in each service's ring. */
  otlp?: string;
  /** Extra environment for every service (OTEL_* variables, PAYLOAD_BYTES, ...). */
  env?: Record<string, string>;
  /** Per-service extra environment. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Forward the services' stderr (default: true). */
  stderr?: boolean;
  quiet?: boolean;
  /** Node flags for the services (tests use --expose-gc to measure retained memory). */
  execArgv?: string[];
}

export interface Stack {
  inventory: RunningService;
  orders: RunningService;
  gateway: RunningService;
  gatewayUrl: string;
  ordersAddr: string;
  /**
   * Asks every service for its latency windows, memory and the spans of the given traces; with
   * `gc` (services started with --expose-gc) after a full collection.
   */
  report(traceIds?: string[], opts?: { gc?: boolean }): Promise<ServiceReport[]>;
  /** Tells every service to keep the spans of this (slow) trace for a later report. */
  pin(traceId: string, latencyMs: number): void;
  stop(): Promise<void>;
}

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** The metrics server serves /debug/pprof/ beside its scrape path. */
function pprofUrlOf(metricsUrl: string): string {
  const u = new URL(metricsUrl);
  u.pathname = '/debug/pprof/';
  return u.href;
}

function startService(name: ServiceName, env: Record<string, string>, opts: StackOptions): Promise<RunningService> {
  const child = fork(here(`./services/${name}.ts`), [], {
    env: { ...process.env, ...env },
    execArgv: [...process.execArgv, ...(opts.execArgv ?? [])],
    stdio: ['ignore', 'inherit', opts.stderr === false ? 'ignore' : 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within 20 s`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before it was ready`));
    });
    child.on('message', function onReady(msg: ChildMessage) {
      if (msg.type !== 'ready') return;
      clearTimeout(timer);
      child.off('message', onReady);
      child.removeAllListeners('exit');
      resolve({ name, pid: child.pid!, port: msg.port, metricsUrl: msg.metricsUrl, pprofUrl: pprofUrlOf(msg.metricsUrl), child });
    });
  });
}

function ask(svc: RunningService, traceIds: string[], gc: boolean): Promise<ServiceReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${svc.name} did not report within 10 s`)), 10_000);
    svc.child.on('message', function onReport(msg: ChildMessage) {
      if (msg.type !== 'report') return;
      clearTimeout(timer);
      svc.child.off('message', onReport);
      resolve(msg.report);
    });
    svc.child.send({ type: 'report', traceIds, gc });
  });
}

function stopService(svc: RunningService): Promise<void> {
  if (svc.child.exitCode !== null || svc.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => svc.child.kill('SIGKILL'), 8_000);
    svc.child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    if (svc.child.connected) svc.child.send({ type: 'shutdown' });
    else svc.child.kill('SIGTERM');
  });
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const common: Record<string, string> = { ...opts.env };
  if (opts.otlp) common.TAILTRACE_DEMO_OTLP = opts.otlp;
  if (opts.quiet) common.TAILTRACE_DEMO_QUIET = '1';
  const envFor = (name: ServiceName, extra: Record<string, string>) => ({ ...common, ...extra, ...opts.serviceEnv?.[name] });
  const started: RunningService[] = [];
  try {
    const inventory = await startService('inventory', envFor('inventory', {}), opts);
    started.push(inventory);
    const orders = await startService('orders', envFor('orders', { INVENTORY_URL: `http://127.0.0.1:${inventory.port}` }), opts);
    started.push(orders);
    const gateway = await startService('gateway', envFor('gateway', { ORDERS_ADDR: `127.0.0.1:${orders.port}` }), opts);
    started.push(gateway);
    const all = [gateway, orders, inventory];
    return {
      inventory,
      orders,
      gateway,
      gatewayUrl: `http://127.0.0.1:${gateway.port}`,
      ordersAddr: `127.0.0.1:${orders.port}`,
      report: (traceIds = [], o = {}) => Promise.all(all.map((s) => ask(s, traceIds, o.gc ?? false))),
      pin: (traceId, latencyMs) => {
        for (const s of all) if (s.child.connected) s.child.send({ type: 'pin', traceId, latencyMs });
      },
      stop: async () => {
        await Promise.all(all.map(stopService));
      },
    };
  } catch (err) {
    await Promise.all(started.map(stopService));
    throw err;
  }
}
