// End to end on real parts: the demo (gateway express -> orders gRPC -> inventory HTTP, each
// its own process with instrument()) exports OTLP to the Collector running
// collector/otel-collector.yaml as shipped; the Collector's Tempo exporter points at a Tempo
// stand-in (the same Collector binary with the test-only `file` exporter) and its remote write
// at a real Prometheus (Debian) that also scrapes the services' /metrics and the Collector's
// own telemetry, with exemplar storage on.
//
// Proves: (1) every query of every panel of every bundled dashboard returns series, with the
// variables substituted as Grafana would; (2) exemplars carry trace IDs whose traces reached
// "Tempo"; (3) traces arrive whole (every hop, every parent link); (4) span metrics and
// service-graph metrics reach Prometheus; (5) with the Collector down the services keep
// serving, and after a restart exports resume.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startStack } from '../examples/stack.ts';
import type { Stack } from '../examples/stack.ts';
import { grpcClient, httpClient } from '../examples/load/clients.ts';
import { collectorDir, repoRoot, startCollector, startTraceSink, tempDir } from './support/collector.ts';
import type { RunningCollector, TraceSink } from './support/collector.ts';
import { startPrometheus } from './support/prometheus.ts';
import type { Prometheus } from './support/prometheus.ts';
import { interpolate, loadDashboards, queryPanels } from './support/dashboards.ts';
import { sleep, waitFor } from './support/proc.ts';

const SCRAPE_S = 1;
const LOAD_S = Number(process.env.TAILTRACE_E2E_LOAD_S ?? 22);
const RATE = 15;

let tmp: ReturnType<typeof tempDir>;
let prom: Prometheus;
let sink: TraceSink;
let agent: RunningCollector;
let stack: Stack;
let loadResult: { http: LoadCount; grpc: LoadCount };

interface LoadCount { sent: number; ok: number }

async function startAgent(ports?: RunningCollector['ports']): Promise<RunningCollector> {
  return startCollector({
    configs: [join(collectorDir, 'otel-collector.yaml')],
    ports,
    logFile: join(tmp.dir, 'agent.log'),
    env: {
      TEMPO_ENDPOINT: sink.collector.grpcEndpoint,
      PROMETHEUS_REMOTE_WRITE_ENDPOINT: `${prom.url}/api/v1/write`,
    },
  });
}

/**
 * Constant-rate load on both protocols (HTTP to the gateway, gRPC straight to orders), using
 * the demo's own clients; bounded in time and in requests in flight.
 */
async function drive(rate: number, seconds: number): Promise<{ http: LoadCount; grpc: LoadCount }> {
  const http = httpClient(stack.gatewayUrl, (i) => `/api/orders/${i % 1000}`);
  const grpc = grpcClient(stack.ordersAddr);
  const counts = { http: { sent: 0, ok: 0 }, grpc: { sent: 0, ok: 0 } };
  const inflight = new Set<Promise<void>>();
  const fire = (c: LoadCount, p: Promise<boolean>) => {
    c.sent++;
    const done: Promise<void> = p.then((ok) => { if (ok) c.ok++; }).finally(() => inflight.delete(done));
    inflight.add(done);
  };
  const t0 = performance.now();
  for (let i = 0; performance.now() - t0 < seconds * 1000; i++) {
    if (inflight.size < 100) {
      fire(counts.http, http.send(undefined, i));
      fire(counts.grpc, grpc.send(undefined, i));
    }
    const next = t0 + ((i + 1) * 1000) / rate;
    await sleep(Math.max(0, next - performance.now()));
  }
  await Promise.all(inflight);
  http.close();
  grpc.close();
  return counts;
}

/** A request to the gateway inside a trace we choose (traceparent), so we can look for it. */
async function tracedRequest(i: number): Promise<{ traceId: string; status: number; ms: number }> {
  const traceId = randomBytes(16).toString('hex');
  const t0 = performance.now();
  const res = await fetch(`${stack.gatewayUrl}/api/orders/${i}`, {
    headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return { traceId, status: res.status, ms: performance.now() - t0 };
}

before(async () => {
  tmp = tempDir('tailtrace-e2e-');
  prom = await startPrometheus({ scrapeIntervalS: SCRAPE_S });
  sink = await startTraceSink(tmp.dir);
  agent = await startAgent();
  stack = await startStack({ otlp: agent.httpUrl, quiet: true, stderr: false });
  for (const svc of [stack.gateway, stack.orders, stack.inventory]) prom.setTargets(svc.name, [svc.metricsUrl]);
  prom.setTargets('otelcol', [agent.telemetryUrl]);
  await waitFor('all targets up', async () => {
    const t = await prom.activeTargets();
    return t.length === 4 && t.every((x) => x.health === 'up');
  }, 30_000);
  loadResult = await drive(RATE, LOAD_S);
  // Span metrics and the service graph are flushed every 15 s: wait for the first write.
  await waitFor('span metrics in Prometheus', async () => (await prom.query('traces_span_metrics_calls_total')).length > 0, 30_000, 1000);
});

after(async () => {
  await stack?.stop();
  await agent?.stop();
  await sink?.stop();
  await prom?.stop();
  if (process.env.TAILTRACE_KEEP_E2E) process.stderr.write(`kept ${tmp.dir}\n`);
  else tmp?.cleanup();
});

describe('demo under load', () => {
  test('the load driver got answers on both protocols', () => {
    for (const c of [loadResult.http, loadResult.grpc]) {
      assert.ok(c.sent > LOAD_S * RATE * 0.8, JSON.stringify(loadResult));
      assert.equal(c.ok, c.sent, JSON.stringify(loadResult));
    }
  });
});

describe('dashboards on a real Prometheus', () => {
  const dashboards = loadDashboards();
  const g = { vars: { job: '.+', instance: '.+', datasource: 'prometheus' }, rateIntervalS: 4 * SCRAPE_S, intervalS: 2, rangeS: 60 };

  for (const [file, d] of dashboards) {
    test(`${file}: every variable offers values`, async () => {
      for (const v of d.templating.list.filter((x) => x.type === 'query')) {
        const def = v.definition ?? '';
        const m = /^label_values\((.*),\s*(\w+)\)$/.exec(def);
        assert.ok(m, `${v.name}: ${def}`);
        const values = await prom.labelValues(m[2]!, interpolate(m[1]!, g));
        assert.ok(values.length > 0, `${file} variable ${v.name} (${def}) offers nothing`);
      }
    });

    test(`${file}: every panel query returns series`, async () => {
      const end = Math.floor(Date.now() / 1000);
      const empty: string[] = [];
      let n = 0;
      for (const p of queryPanels(d)) {
        for (const t of p.targets ?? []) {
          const expr = interpolate(t.expr, g);
          const series = t.instant ? await prom.query(expr, end) : await prom.queryRange(expr, end - 30, end, g.intervalS);
          n++;
          if (series.length === 0) empty.push(`"${p.title}" ${t.refId}: ${expr}`);
        }
      }
      assert.ok(n > 0, 'no queries');
      assert.deepEqual(empty, [], `queries that returned nothing:\n${empty.join('\n')}`);
    });
  }

  test('exemplars on the services\' histograms carry trace IDs whose traces reached Tempo', async () => {
    const end = Date.now() / 1000;
    const found = await prom.exemplars('http_server_request_duration_seconds_bucket{job=~".+"}', end - 120, end);
    const ids = found.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id ?? ''));
    assert.ok(ids.length > 0, 'no exemplars');
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    const rpc = await prom.exemplars('rpc_server_duration_seconds_bucket{job=~".+"}', end - 120, end);
    assert.ok(rpc.flatMap((s) => s.exemplars).length > 0, 'no exemplars on rpc_server_duration_seconds');
    const inSink = new Set(sink.spans().map((s) => s.traceId));
    const linked = ids.filter((id) => inSink.has(id));
    assert.ok(linked.length > 0, `none of ${ids.length} exemplar trace IDs is in what the Collector exported to Tempo`);
  });
});

describe('Collector end to end', () => {
  test('traces arrive whole: every hop, every parent link', async () => {
    const reqs = [];
    for (let i = 0; i < 5; i++) reqs.push(await tracedRequest(i));
    for (const r of reqs) assert.equal(r.status, 200);
    const ids = new Set(reqs.map((r) => r.traceId));
    const spansOf = (id: string) => sink.spans().filter((s) => s.traceId === id);
    await waitFor('the 5 traces in Tempo', () => [...ids].every((id) => spansOf(id).length >= 5), 30_000, 500);
    await sleep(1000); // late spans of the same traces
    for (const id of ids) {
      const spans = spansOf(id);
      const services = new Set(spans.map((s) => s.service));
      assert.deepEqual([...services].sort(), ['gateway', 'inventory', 'orders'], `trace ${id} services`);
      const byId = new Set(spans.map((s) => s.spanId));
      const roots = spans.filter((s) => !s.parentSpanId || !byId.has(s.parentSpanId));
      assert.equal(roots.length, 1, `trace ${id}: exactly one span whose parent is outside (our traceparent): ${roots.map((s) => s.name).join(', ')}`);
      // gateway SERVER -> gateway gRPC CLIENT -> orders SERVER -> orders HTTP CLIENT -> inventory SERVER
      const kinds = spans.map((s) => `${s.service}:${s.kind}`);
      for (const k of ['gateway:2', 'gateway:3', 'orders:2', 'orders:3', 'inventory:2']) assert.ok(kinds.includes(k), `trace ${id} lacks ${k}: ${kinds.join(' ')}`);
    }
  });

  test('span metrics (calls + duration in seconds, with exemplars) reach Prometheus for every service', async () => {
    const calls = await prom.query('sum by (job) (traces_span_metrics_calls_total)');
    assert.deepEqual(calls.map((s) => s.metric.job).sort(), ['gateway', 'inventory', 'orders']);
    const dur = await prom.query('sum by (job, le) (traces_span_metrics_duration_seconds_bucket{job="gateway"})');
    const les = dur.map((s) => Number(s.metric.le)).filter(Number.isFinite).sort((a, b) => a - b);
    assert.ok(les.includes(0.00025) && les.includes(0.6) && les.includes(10), `buckets in seconds: ${les.join(',')}`);
    const routes = await prom.query('sum by (http_route) (traces_span_metrics_calls_total{job="gateway", span_kind="SPAN_KIND_SERVER"})');
    assert.ok(routes.some((s) => s.metric.http_route === '/api/orders/:id'), JSON.stringify(routes.map((s) => s.metric)));
    const end = Date.now() / 1000;
    const ex = await prom.exemplars('traces_span_metrics_duration_seconds_bucket', end - 300, end);
    assert.ok(ex.flatMap((s) => s.exemplars).some((e) => /^[0-9a-f]{32}$/.test(e.labels.trace_id ?? '')), 'span metrics carry trace_id exemplars');
  });

  test('service graph edges gateway -> orders -> inventory reach Prometheus', async () => {
    const edges = await prom.query('sum by (client, server) (traces_service_graph_request_total)');
    const names = edges.map((e) => `${e.metric.client}->${e.metric.server}`);
    assert.ok(names.includes('gateway->orders'), names.join(' '));
    assert.ok(names.includes('orders->inventory'), names.join(' '));
    const lat = await prom.query('traces_service_graph_request_server_seconds_bucket{client="gateway", server="orders"}');
    assert.ok(lat.length > 0, 'service graph latency histogram in seconds');
  });

  test('the Collector\'s own telemetry counts what it accepted and sent', async () => {
    const accepted = await prom.query('sum(otelcol_receiver_accepted_spans_total{job="otelcol"})');
    assert.ok(Number(accepted[0]?.value?.[1]) > 0, 'accepted spans');
    const sent = await prom.query('sum by (exporter) (otelcol_exporter_sent_spans_total{job="otelcol"})');
    assert.ok(sent.some((s) => s.metric.exporter === 'otlp_grpc/tempo' && Number(s.value?.[1]) > 0), JSON.stringify(sent));
    assert.doesNotMatch(agent.proc.log(), /deprecated/i, 'the shipped config uses no deprecated names or options');
  });
});

describe('faults', () => {
  test('with the Collector stopped the services keep serving; after a restart exports resume', async () => {
    const ports = agent.ports;
    await agent.stop();
    const during = [];
    for (let i = 0; i < 20; i++) during.push(await tracedRequest(i));
    for (const r of during) {
      assert.equal(r.status, 200);
      assert.ok(r.ms < 2000, `request took ${r.ms} ms with the Collector down`);
    }
    agent = await startAgent(ports);
    prom.setTargets('otelcol', [agent.telemetryUrl]);
    const afterRestart = [];
    for (let i = 0; i < 5; i++) afterRestart.push(await tracedRequest(i));
    const ids = afterRestart.map((r) => r.traceId);
    await waitFor('traces sent after the restart reach Tempo', () => {
      const seen = new Set(sink.spans().map((s) => s.traceId));
      return ids.every((id) => seen.has(id));
    }, 45_000, 500);
  });
});
