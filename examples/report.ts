// Turns what the load driver measured and what each service's HDR windows saw into the demo's
// table (one row per protocol hop) and the slowest requests' span trees. Pure functions.
import type { LoadResult } from './load/driver.ts';
import type { DriverResult } from './load/main.ts';
import type { HopStats, ServiceReport } from './services/host.ts';
import type { SpanView } from './services/span-ring.ts';

export interface HopRow {
  protocol: 'HTTP' | 'gRPC';
  hop: string;
  operation: string;
  /** Who measured it: the load driver (coordinated-omission corrected) or the calling service. */
  measuredBy: string;
  requests: number;
  errors: number;
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  serverRssMb: number;
}

export interface SlowTrace {
  traceId: string;
  latencyMs: number;
  via: string;
  spans: SpanView[];
}

export interface DemoReport {
  startedAt: string;
  durationS: number;
  rate: number;
  otlp: string | null;
  hops: HopRow[];
  slowest: SlowTrace[];
  services: Omit<ServiceReport, 'spans'>[];
}

function fromLoad(protocol: HopRow['protocol'], hop: string, operation: string, r: LoadResult, rss: number): HopRow {
  return {
    protocol, hop, operation, measuredBy: 'load driver', requests: r.requests, errors: r.errors,
    avgMs: r.avgMs, p50Ms: r.p50Ms, p99Ms: r.p99Ms, p999Ms: r.p999Ms, serverRssMb: rss,
  };
}

function fromService(protocol: HopRow['protocol'], hop: string, by: string, h: HopStats, rss: number): HopRow {
  return {
    protocol, hop, operation: h.operation, measuredBy: by, requests: h.count, errors: h.errors,
    avgMs: h.avgMs, p50Ms: h.p50Ms, p99Ms: h.p99Ms, p999Ms: h.p999Ms, serverRssMb: rss,
  };
}

export function hopRows(load: DriverResult, services: ServiceReport[]): HopRow[] {
  const svc = (name: string) => services.find((s) => s.service === name);
  const rss = (name: string) => svc(name)?.rssMb ?? 0;
  const rows: HopRow[] = [
    fromLoad('HTTP', 'client -> gateway', 'GET /api/orders/:id', load.http, rss('gateway')),
    fromLoad('gRPC', 'client -> orders', 'orders.OrderService/Get', load.grpc, rss('orders')),
  ];
  for (const h of svc('gateway')?.hops ?? []) {
    if (h.kind === 'rpc_client') rows.push(fromService('gRPC', 'gateway -> orders', 'gateway', h, rss('orders')));
  }
  for (const h of svc('orders')?.hops ?? []) {
    if (h.kind === 'http_client') rows.push(fromService('HTTP', 'orders -> inventory', 'orders', h, rss('inventory')));
  }
  return rows;
}

function table(header: string[], rows: string[][], rightFrom: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= rightFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const f = (n: number, d = 2) => n.toFixed(d);

export function renderHops(rows: HopRow[]): string {
  return table(
    ['Protocol', 'Hop', 'Operation', 'Requests', 'Errors', 'Avg ms', 'P50 ms', 'P99 ms', 'P99.9 ms', 'Server RSS MB'],
    rows.map((r) => [
      r.protocol, r.hop, r.operation, String(r.requests), String(r.errors),
      f(r.avgMs), f(r.p50Ms), f(r.p99Ms), f(r.p999Ms), f(r.serverRssMb, 1),
    ]),
    3,
  ) + '\n\nclient rows: the load driver, from each request\'s scheduled send time (coordinated omission corrected), warm-up excluded.\n' +
    'service rows: the calling service\'s own HDR window (tailtrace_latency_seconds), warm-up included.';
}

function spanTree(spans: SpanView[]): string[] {
  const byParent = new Map<string | undefined, SpanView[]>();
  const ids = new Set(spans.map((s) => s.spanId));
  for (const s of spans) {
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : undefined;
    const list = byParent.get(parent) ?? [];
    list.push(s);
    byParent.set(parent, list);
  }
  const out: string[] = [];
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const walk = (parent: string | undefined, depth: number) => {
    for (const s of (byParent.get(parent) ?? []).sort((a, b) => a.startMs - b.startMs)) {
      const status = s.statusCode === 2 ? '  ERROR' : '';
      out.push(`    ${'  '.repeat(depth)}${s.service}: ${s.name}  +${f(s.startMs - t0)} ms  ${f(s.durationMs)} ms${status}`);
      walk(s.spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return out;
}

export function renderTraces(slowest: SlowTrace[]): string {
  const lines = ['Slowest requests (trace IDs):'];
  for (const s of slowest) {
    lines.push(`  ${s.traceId}  ${f(s.latencyMs)} ms  ${s.via}`);
    if (s.spans.length === 0) lines.push('    (no spans kept for this trace)');
    else lines.push(...spanTree(s.spans));
  }
  return lines.join('\n');
}
