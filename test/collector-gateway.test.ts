// The scale-out Collector tier end to end, on loopback, with the real Collector this repo builds:
//
//   demo services ──OTLP/HTTP──▶ 2 agents (collector/agent-loadbalancing.yaml, keyed by trace ID)
//     gateway, inventory → agent 0; orders → agent 1 (so every trace crosses both agents)
//   agents ──OTLP/gRPC──▶ 2 gateways (collector/gateway.yaml) on 127.0.0.2:P and 127.0.0.3:P
//   gateways ──▶ an OTLP gRPC receiver of the test's own per gateway (Tempo's place)
//            └─▶ a real Prometheus (remote write receiver; span metrics per otelcol_replica)
//
// The agents run the shipped DNS resolver unchanged (GATEWAY_HOSTNAME / GATEWAY_OTLP_PORT): they
// see a hosts file of the test's own as /etc/hosts (a private mount namespace), which an
// endpoints controller keeps to the gateways whose health_check answers, as Kubernetes does for a
// headless Service. The gateways get shorter metric flush intervals through the Collector's own
// config merging (--set), nothing else. Where user namespaces are not allowed, the agents use a
// static resolver (merged the same way) and the failover test is skipped: a static list never
// drops a dead gateway.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startStack } from '../examples/stack.ts';
import type { Stack } from '../examples/stack.ts';
import { httpClient } from '../examples/load/clients.ts';
import { newTraceparent } from '../examples/load/driver.ts';
import { allocatePorts, collectorDir, startCollector, tempDir } from './support/collector.ts';
import type { CollectorPorts, RunningCollector } from './support/collector.ts';
import { hostsNamespaceAvailable, hostsNamespaceCommand, startEndpointsController, telemetry, total } from './support/gateway-tier.ts';
import type { EndpointsController } from './support/gateway-tier.ts';
import { startOtlpGrpcReceiver } from './support/otlp-grpc-receiver.ts';
import type { OtlpGrpcReceiver } from './support/otlp-grpc-receiver.ts';
import type { DecodedSpan } from './support/otlp-proto.ts';
import { blast } from './support/span-load.ts';
import { freePort, sleep, waitFor } from './support/proc.ts';
import { startPrometheus } from './support/prometheus.ts';
import type { Prometheus } from './support/prometheus.ts';

const GATEWAY_NAME = 'otelcol-gateway';
const GATEWAY_IPS = ['127.0.0.2', '127.0.0.3'];
const RESOLVER_INTERVAL_S = 5; // agent-loadbalancing.yaml: resolver.dns.interval
const GO_HOSTS_CACHE_S = 5; // Go re-reads /etc/hosts at most this often
const SPANS_PER_REQUEST = 5; // gateway SERVER, gRPC CLIENT, orders SERVER, HTTP CLIENT, inventory SERVER
const NAMESPACES = hostsNamespaceAvailable();

let tmp: ReturnType<typeof tempDir>;
let prom: Prometheus;
let hostsFile: string;
let otlpPort: number;
let controller: EndpointsController | undefined;
const sinks: OtlpGrpcReceiver[] = [];
const gateways: RunningCollector[] = [];
const gatewayPorts: CollectorPorts[] = [];
const agents: RunningCollector[] = [];
let stack: Stack;

function startGateway(i: number): Promise<RunningCollector> {
  return startCollector({
    configs: [join(collectorDir, 'gateway.yaml')],
    // Span metrics and the service graph every second instead of every 15 s: the test reads
    // them sooner. Merged by the Collector over the shipped file.
    args: [
      '--set=connectors::span_metrics::metrics_flush_interval=1s',
      '--set=connectors::service_graph::metrics_flush_interval=1s',
    ],
    ports: gatewayPorts[i],
    logFile: join(tmp.dir, `gateway-${i}.log`),
    env: {
      OTLP_GRPC_ENDPOINT: `${GATEWAY_IPS[i]}:${otlpPort}`,
      TEMPO_ENDPOINT: sinks[i]!.endpoint,
      REMOTE_WRITE_ENDPOINT: `${prom.url}/api/v1/write`,
      OTELCOL_REPLICA: `gateway-${i}`,
    },
  });
}

function startAgent(i: number): Promise<RunningCollector> {
  const shipped = join(collectorDir, 'agent-loadbalancing.yaml');
  const env = { GATEWAY_HOSTNAME: GATEWAY_NAME, GATEWAY_OTLP_PORT: String(otlpPort) };
  const logFile = join(tmp.dir, `agent-${i}.log`);
  if (NAMESPACES) return startCollector({ configs: [shipped], env, logFile, wrap: (bin, args) => hostsNamespaceCommand(hostsFile, bin, args) });
  return startCollector({
    configs: [shipped, `yaml:exporters::load_balancing::resolver::static::hostnames: [${GATEWAY_IPS.map((ip) => `"${ip}:${otlpPort}"`).join(', ')}]`],
    args: ['--set=exporters::load_balancing::resolver::dns=null'],
    env,
    logFile,
  });
}

/** Every span received so far, by the gateway (index) that delivered it. */
function received(): { gateway: number; span: DecodedSpan }[] {
  return sinks.flatMap((s, gateway) => s.spans.map((span) => ({ gateway, span })));
}

interface Sent { traceId: string; atMs: number; ok: boolean }

/** HTTP requests to the demo gateway at `rate`/s with trace IDs of our choosing, until `stop()`. */
function startLoad(rate: number): { sent: Sent[]; stop(): Promise<void> } {
  const http = httpClient(stack.gatewayUrl, (i) => `/api/orders/${i % 1000}`);
  const sent: Sent[] = [];
  const inflight = new Set<Promise<void>>();
  let running = true;
  const loop = (async () => {
    const t0 = performance.now();
    for (let i = 0; running && i < rate * 120; i++) {
      if (inflight.size < 100) {
        const { traceparent, traceId } = newTraceparent();
        const rec: Sent = { traceId, atMs: Date.now(), ok: false };
        sent.push(rec);
        const p: Promise<void> = http.send(traceparent, i).then((ok) => { rec.ok = ok; }).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await sleep(Math.max(0, t0 + ((i + 1) * 1000) / rate - performance.now()));
    }
  })();
  return {
    sent,
    async stop() {
      running = false;
      await loop;
      await Promise.all(inflight);
      http.close();
    },
  };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function agentsSay(name: string, match: Record<string, string> = {}): Promise<number[]> {
  return Promise.all(agents.map(async (a) => total(await telemetry(a.telemetryUrl), name, match)));
}

before(async () => {
  tmp = tempDir('tailtrace-gw-');
  hostsFile = join(tmp.dir, 'hosts');
  // Only the remote-write receiver is used: no rules, no targets.
  prom = await startPrometheus({ scrapeIntervalS: 1, rules: [] });
  otlpPort = await freePort();
  for (let i = 0; i < GATEWAY_IPS.length; i++) {
    sinks.push(await startOtlpGrpcReceiver());
    gatewayPorts.push(await allocatePorts());
    gateways.push(await startGateway(i));
  }
  if (NAMESPACES) {
    controller = startEndpointsController(hostsFile, GATEWAY_NAME, GATEWAY_IPS.map((ip, i) => ({ ip, healthUrl: `http://127.0.0.1:${gatewayPorts[i]!.health}/` })));
  }
  for (let i = 0; i < 2; i++) agents.push(await startAgent(i));
  await waitFor('both agents resolved both gateways', async () => (await agentsSay('otelcol_loadbalancer_num_backends')).every((n) => n === 2), 20_000);
  stack = await startStack({
    otlp: agents[0]!.httpUrl,
    quiet: true,
    stderr: false,
    serviceEnv: { orders: { TAILTRACE_DEMO_OTLP: agents[1]!.httpUrl } },
  });
});

after(async () => {
  await stack?.stop();
  await controller?.stop();
  for (const c of [...agents, ...gateways]) await c.stop();
  for (const s of sinks) await s.close();
  await prom?.stop();
  if (process.env.TAILTRACE_KEEP_E2E) process.stderr.write(`kept ${tmp.dir}\n`);
  else tmp?.cleanup();
});

describe('gateway tier', () => {
  test('every trace arrives whole at exactly one gateway; span-metric calls summed over gateways equal the requests sent', async (t) => {
    const load = startLoad(40);
    await sleep(5000);
    await load.stop();
    const ids = load.sent.filter((s) => s.ok).map((s) => s.traceId);
    assert.equal(ids.length, load.sent.length, 'every request answered');
    const want = new Set(ids);
    const byTrace = () => {
      const m = new Map<string, { gateway: number; span: DecodedSpan }[]>();
      for (const r of received()) if (want.has(r.span.traceId)) m.set(r.span.traceId, [...(m.get(r.span.traceId) ?? []), r]);
      return m;
    };
    await waitFor('every span of every trace at a gateway', () => {
      const m = byTrace();
      return ids.every((id) => (m.get(id)?.length ?? 0) >= SPANS_PER_REQUEST);
    }, 30_000, 500);
    await sleep(1000); // late duplicates would show now
    const m = byTrace();
    const perGateway = [0, 0];
    for (const id of ids) {
      const spans = m.get(id)!;
      const where = new Set(spans.map((r) => r.gateway));
      assert.equal(where.size, 1, `trace ${id} reached gateways ${[...where].join(' and ')}`);
      assert.equal(spans.length, SPANS_PER_REQUEST, `trace ${id}: ${spans.map((r) => `${r.span.service}:${r.span.name}`).join(', ')}`);
      assert.deepEqual([...new Set(spans.map((r) => r.span.service))].sort(), ['gateway', 'inventory', 'orders']);
      perGateway[[...where][0]!]!++;
    }
    t.diagnostic(`${ids.length} traces: ${perGateway.join(' / ')} per gateway`);
    for (const n of perGateway) assert.ok(n > ids.length * 0.25, `traces spread over both gateways: ${perGateway.join(' / ')}`);

    // Span metrics, remote-written by each gateway with its otelcol_replica label.
    const q = 'sum by (otelcol_replica) (traces_span_metrics_calls_total{job="gateway", span_kind="SPAN_KIND_SERVER", http_route="/api/orders/:id"})';
    const calls = await waitFor('span metrics of every request', async () => {
      const r = await prom.query(q);
      const byReplica = Object.fromEntries(r.map((s) => [s.metric.otelcol_replica!, Number(s.value![1])]));
      const sum = Object.values(byReplica).reduce((a, b) => a + b, 0);
      return sum === ids.length ? byReplica : undefined;
    }, 30_000, 1000);
    assert.deepEqual(calls, { 'gateway-0': perGateway[0], 'gateway-1': perGateway[1] }, 'each gateway counted exactly the traces routed to it');
  });

  test('a gateway killed mid-load: agents route around it within the resolver interval, the loss is bounded and counted, traffic spreads again after its restart', { skip: NAMESPACES ? false : 'needs unprivileged user + mount namespaces (unshare) to change what the agents resolve' }, async (t) => {
    const victim = 1;
    const before = await stack.report();
    const exportedBefore = before.reduce((n, s) => n + s.spansExported, 0);
    const lb = { exporter: 'load_balancing' };
    const agentCounts = async () => ({
      accepted: sum(await agentsSay('otelcol_receiver_accepted_spans_total')),
      sent: sum(await agentsSay('otelcol_exporter_sent_spans_total', lb)),
      dropped: sum(await agentsSay('otelcol_exporter_send_failed_spans_total', lb)) + sum(await agentsSay('otelcol_exporter_enqueue_failed_spans_total', lb)),
    });
    const countsBefore = await agentCounts();
    const load = startLoad(40);
    await sleep(4000);
    const killedAt = Date.now();
    process.kill(gateways[victim]!.proc.pid, 'SIGKILL');
    await gateways[victim]!.stop();
    const routedAround = await waitFor('both agents down to one gateway', async () => ((await agentsSay('otelcol_loadbalancer_num_backends')).every((n) => n === 1) ? Date.now() : undefined), 30_000, 200);
    const routeAroundS = (routedAround - killedAt) / 1000;
    t.diagnostic(`agents routed around the killed gateway ${routeAroundS.toFixed(1)} s after the kill`);
    await sleep(3000);
    const restartedAt = Date.now();
    gateways[victim] = await startGateway(victim);
    const spreadAt = await waitFor('both agents back to two gateways', async () => ((await agentsSay('otelcol_loadbalancer_num_backends')).every((n) => n === 2) ? Date.now() : undefined), 30_000, 200);
    t.diagnostic(`traffic spread again ${((spreadAt - restartedAt) / 1000).toFixed(1)} s after the restart`);
    await sleep(4000);
    await load.stop();

    // Everything the services exported has had time to arrive (or to be dropped and counted).
    await sleep(2000);
    await waitFor('the agents\' queues drained', async () => sum(await agentsSay('otelcol_exporter_queue_size', lb)) === 0, 20_000, 500);
    const afterReport = await stack.report();
    const exported = afterReport.reduce((n, s) => n + s.spansExported, 0) - exportedBefore;
    const droppedByServices = afterReport.reduce((n, s) => n + s.spansDropped, 0);
    const phase = new Set(load.sent.map((s) => s.traceId));
    const spans = received().filter((r) => phase.has(r.span.traceId));
    const unique = new Set(spans.map((r) => r.span.spanId));
    const lost = exported - unique.size;
    const duplicates = spans.length - unique.size;
    const countsAfter = await agentCounts();
    const accepted = countsAfter.accepted - countsBefore.accepted;
    const sent = countsAfter.sent - countsBefore.sent;
    const agentDropped = countsAfter.dropped - countsBefore.dropped;
    const backendFailures = (await agentsSay('otelcol_loadbalancer_backend_outcome_total', { success: 'false' })).reduce((a, b) => a + b, 0);
    const spanRate = exported / ((Date.now() - killedAt + 4000) / 1000);
    const gatewaysOf = new Map<string, Set<number>>();
    for (const r of spans) gatewaysOf.set(r.span.traceId, (gatewaysOf.get(r.span.traceId) ?? new Set()).add(r.gateway));
    const split = [...gatewaysOf.values()].filter((g) => g.size > 1).length;
    t.diagnostic(`spans exported by the services: ${exported}; received: ${unique.size} unique, ${duplicates} duplicates; lost ${lost}; agents counted ${agentDropped} dropped, ${backendFailures} failed sends to a gateway; ${split} of ${phase.size} traces split over both gateways`);
    assert.equal(droppedByServices, 0, 'the services dropped nothing (the agents never went away)');
    // The agents' own books balance: every span they accepted was delivered or counted as dropped.
    assert.equal(accepted, exported, 'the agents accepted every span the services exported');
    assert.equal(sent + agentDropped, accepted, `agents: accepted ${accepted}, sent ${sent}, dropped ${agentDropped}`);
    assert.ok(routeAroundS <= RESOLVER_INTERVAL_S + GO_HOSTS_CACHE_S + 2, `route-around took ${routeAroundS} s`);
    assert.ok(backendFailures > 0, 'the agents counted their failed sends to the dead gateway');
    // Bounded: at most what the dead gateway held in memory (its 200 ms batch) plus what the
    // agents sent it before they routed around, and never more than they counted.
    assert.ok(lost <= agentDropped + spanRate * 1, `lost ${lost} spans; counted ${agentDropped}; a second of traffic is ${spanRate.toFixed(0)}`);
    // At least once: a batch that failed is retried whole, so the live gateway gets part of it
    // again. Bounded by the traffic of the window in which the dead gateway was still resolved.
    assert.ok(duplicates <= spanRate * (routeAroundS + RESOLVER_INTERVAL_S), `${duplicates} duplicates; ${spanRate.toFixed(0)} spans/s over ${routeAroundS} s`);

    // After the restart the restarted gateway carries traces again.
    const later = load.sent.filter((s) => s.atMs > spreadAt + 500).map((s) => s.traceId);
    const onVictim = new Set(sinks[victim]!.spans.map((s) => s.traceId));
    const back = later.filter((id) => onVictim.has(id)).length;
    t.diagnostic(`${back} of ${later.length} traces started after the spread went to the restarted gateway`);
    assert.ok(later.length > 20 && back > later.length * 0.2, `${back} of ${later.length}`);
  });

  test('throughput of one gateway core (benchmark figure, not a timed assertion)', async (t) => {
    const g = 0;
    sinks[g]!.setDecode(false);
    const url = gateways[g]!.telemetryUrl;
    const before = await telemetry(url);
    const r = await blast(`${GATEWAY_IPS[g]}:${otlpPort}`, { seconds: 6, inflight: 8, tracesPerRequest: 400 });
    await waitFor('the gateway exported what it accepted', async () => {
      const s = await telemetry(url);
      return total(s, 'otelcol_exporter_sent_spans_total', { exporter: 'otlp_grpc/tempo' }) - total(before, 'otelcol_exporter_sent_spans_total', { exporter: 'otlp_grpc/tempo' })
        >= total(s, 'otelcol_receiver_accepted_spans_total') - total(before, 'otelcol_receiver_accepted_spans_total');
    }, 30_000, 500);
    const afterS = await telemetry(url);
    const d = (name: string, match: Record<string, string> = {}) => total(afterS, name, match) - total(before, name, match);
    const accepted = d('otelcol_receiver_accepted_spans_total');
    const cpu = d('otelcol_process_cpu_seconds_total');
    const perCore = accepted / cpu;
    t.diagnostic(`one gateway (GOMAXPROCS=1): ${accepted} spans in ${r.seconds.toFixed(1)} s = ${(accepted / r.seconds).toFixed(0)} spans/s at ${(cpu / r.seconds * 100).toFixed(0)}% of a core -> ${perCore.toFixed(0)} spans per CPU-second; refused requests: ${r.failed}`);
    assert.equal(accepted, r.spans, 'the gateway accepted every span the load sent and acknowledged');
    assert.equal(d('otelcol_exporter_sent_spans_total', { exporter: 'otlp_grpc/tempo' }), accepted, 'and exported them all to Tempo');
  });
});
