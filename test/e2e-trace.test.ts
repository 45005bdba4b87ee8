// One request through the real demo services (three processes: gateway express -> orders gRPC
// -> inventory via fetch) must yield exactly one trace, read from what the exporters really
// sent over OTLP/HTTP, and the metrics scraped from /metrics must point at that trace.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startStack } from '@tailtrace/examples/stack';
import type { Stack } from '@tailtrace/examples/stack';
import { startOtlpReceiver } from './support/otlp-receiver.ts';
import type { OtlpReceiver, ReceivedSpan } from './support/otlp-receiver.ts';
import { parseExposition } from './support/exposition.ts';

const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

let receiver: OtlpReceiver;
let stack: Stack;

before(async () => {
  receiver = await startOtlpReceiver();
  stack = await startStack({ otlp: receiver.url, quiet: true, env: { OTEL_BSP_SCHEDULE_DELAY: '200' } });
});

after(async () => {
  await stack?.stop();
  await receiver?.close();
});

function traceparent(): { traceId: string; parentId: string; header: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
}

function byName(spans: ReceivedSpan[], service: string, name: string, kind: number): ReceivedSpan {
  const found = spans.filter((s) => s.service === service && s.name === name && s.kind === kind);
  assert.equal(found.length, 1, `exactly one ${service} span '${name}' (kind ${kind}); got ${JSON.stringify(spans.map((s) => [s.service, s.name, s.kind]))}`);
  return found[0]!;
}

describe('gateway -> orders -> inventory', () => {
  test('a request with a known traceparent yields exactly one trace with the right parent/child chain', async () => {
    const tp = traceparent();
    const res = await fetch(`${stack.gatewayUrl}/api/orders/7`, { headers: { traceparent: tp.header, tracestate: 'vendor=abc' } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { id: string; note: string };
    assert.equal(body.id, '7');

    await receiver.waitFor((all) => all.filter((s) => s.traceId === tp.traceId).length >= 5);
    // Give stragglers a moment: there must be no sixth span in this trace.
    await new Promise((r) => setTimeout(r, 500));
    const trace = receiver.spans.filter((s) => s.traceId === tp.traceId);
    assert.equal(trace.length, 5, `five spans: ${JSON.stringify(trace.map((s) => `${s.service}:${s.name}`))}`);

    const gwServer = byName(trace, 'gateway', 'GET /api/orders/:id', SERVER);
    const gwClient = byName(trace, 'gateway', 'orders.OrderService/Get', CLIENT);
    const ordServer = byName(trace, 'orders', 'orders.OrderService/Get', SERVER);
    const ordClient = byName(trace, 'orders', 'GET', CLIENT);
    const invServer = byName(trace, 'inventory', 'GET /stock/:sku', SERVER);

    assert.equal(gwServer.parentSpanId, tp.parentId, 'gateway continues the incoming traceparent');
    assert.equal(gwClient.parentSpanId, gwServer.spanId);
    assert.equal(ordServer.parentSpanId, gwClient.spanId);
    assert.equal(ordClient.parentSpanId, ordServer.spanId);
    assert.equal(invServer.parentSpanId, ordClient.spanId);

    assert.equal(gwServer.attributes['http.request.method'], 'GET');
    assert.equal(gwServer.attributes['http.route'], '/api/orders/:id');
    assert.equal(gwServer.attributes['http.response.status_code'], 200);
    assert.equal(gwServer.attributes['url.path'], '/api/orders/7');
    assert.equal(gwClient.attributes['rpc.system'], 'grpc');
    assert.equal(gwClient.attributes['rpc.service'], 'orders.OrderService');
    assert.equal(gwClient.attributes['rpc.method'], 'Get');
    assert.equal(gwClient.attributes['rpc.grpc.status_code'], 0);
    assert.equal(ordServer.attributes['rpc.grpc.status_code'], 0);
    assert.equal(ordClient.attributes['http.response.status_code'], 200);
    assert.equal(ordClient.attributes['server.address'], '127.0.0.1');
    assert.equal(invServer.attributes['http.route'], '/stock/:sku');
    for (const s of trace) assert.notEqual(s.statusCode, ERROR, `${s.service}:${s.name} is not an error`);
    // Children start within their parents.
    assert.ok(gwClient.startNs >= gwServer.startNs && gwClient.endNs <= gwServer.endNs);
  });

  test('a gRPC NOT_FOUND marks the gRPC spans ERROR; the HTTP 404 it becomes does not', async () => {
    const tp = traceparent();
    const res = await fetch(`${stack.gatewayUrl}/api/orders/missing`, { headers: { traceparent: tp.header } });
    assert.equal(res.status, 404);
    await receiver.waitFor((all) => all.filter((s) => s.traceId === tp.traceId).length >= 3);
    const trace = receiver.spans.filter((s) => s.traceId === tp.traceId);
    const gwServer = byName(trace, 'gateway', 'GET /api/orders/:id', SERVER);
    const gwClient = byName(trace, 'gateway', 'orders.OrderService/Get', CLIENT);
    const ordServer = byName(trace, 'orders', 'orders.OrderService/Get', SERVER);
    assert.equal(gwServer.attributes['http.response.status_code'], 404);
    assert.notEqual(gwServer.statusCode, ERROR);
    assert.equal(gwClient.attributes['rpc.grpc.status_code'], 5);
    assert.equal(gwClient.statusCode, ERROR);
    assert.equal(gwClient.attributes['error.type'], 'NOT_FOUND');
    assert.equal(ordServer.attributes['rpc.grpc.status_code'], 5);
    assert.equal(ordServer.statusCode, ERROR);
  });

  test('a deadline that expires shows DEADLINE_EXCEEDED on the client span and a 504 on the server span', async () => {
    const tp = traceparent();
    const res = await fetch(`${stack.gatewayUrl}/api/orders/slow`, { headers: { traceparent: tp.header, 'x-deadline-ms': '50' } });
    // the gateway maps an expired backend deadline to 504 (after tt.errorHandler saw the error)
    assert.equal(res.status, 504);
    await receiver.waitFor((all) => all.some((s) => s.traceId === tp.traceId && s.service === 'gateway' && s.kind === SERVER));
    const trace = receiver.spans.filter((s) => s.traceId === tp.traceId);
    const gwServer = byName(trace, 'gateway', 'GET /api/orders/:id', SERVER);
    const gwClient = byName(trace, 'gateway', 'orders.OrderService/Get', CLIENT);
    assert.equal(gwClient.attributes['rpc.grpc.status_code'], 4);
    assert.equal(gwClient.attributes['error.type'], 'DEADLINE_EXCEEDED');
    assert.equal(gwServer.statusCode, ERROR);
    assert.equal(gwServer.attributes['http.response.status_code'], 504);
    // errorHandler recorded the class of the error passed to next(err), not just the status
    assert.equal(gwServer.attributes['error.type'], 'Error');
  });

  test('a malformed traceparent starts a new trace and never breaks the request', async () => {
    for (const bad of ['00-zz-xx-01', '00-00000000000000000000000000000000-0000000000000000-01', 'garbage', 'ff-' + 'a'.repeat(32) + '-' + 'b'.repeat(16) + '-01']) {
      const res = await fetch(`${stack.gatewayUrl}/api/orders/8`, { headers: { traceparent: bad, tracestate: '=,,,=', baggage: '%%%;;;' } });
      assert.equal(res.status, 200, `request with traceparent '${bad}' still served`);
    }
  });

  test('the /metrics scrape carries the route template, and exemplars point at exported traces', async () => {
    const tp = traceparent();
    assert.equal((await fetch(`${stack.gatewayUrl}/api/orders/9`, { headers: { traceparent: tp.header } })).status, 200);
    await receiver.waitFor((all) => all.some((s) => s.traceId === tp.traceId && s.service === 'gateway'));
    const res = await fetch(stack.gateway.metricsUrl, { headers: { accept: 'application/openmetrics-text; version=1.0.0; charset=utf-8' } });
    assert.match(res.headers.get('content-type') ?? '', /application\/openmetrics-text/);
    const text = await res.text();
    assert.ok(text.trimEnd().endsWith('# EOF'));
    const samples = parseExposition(text);
    const buckets = samples.filter((s) => s.name === 'http_server_request_duration_seconds_bucket' && s.labels.http_route === '/api/orders/:id');
    assert.ok(buckets.length > 0, 'route template label present');
    assert.ok(!samples.some((s) => s.labels.http_route === '/api/orders/9'), 'raw path never becomes a label');
    const exported = new Set(receiver.spans.map((s) => s.traceId));
    const exemplars = buckets.filter((s) => s.exemplar).map((s) => s.exemplar!.labels.trace_id!);
    assert.ok(exemplars.length > 0, 'exemplars present');
    for (const id of exemplars) assert.ok(exported.has(id), `exemplar trace ${id} was exported`);
    const rpc = samples.filter((s) => s.name === 'rpc_client_duration_seconds_count' && s.labels.rpc_method === 'Get');
    assert.ok(rpc.length > 0, 'gRPC client histogram present on the gateway');

    const classic = await fetch(stack.gateway.metricsUrl);
    assert.match(classic.headers.get('content-type') ?? '', /text\/plain/);
    const classicText = await classic.text();
    assert.ok(!classicText.includes('# EOF'));
    assert.ok(!parseExposition(classicText).some((s) => s.exemplar), 'no exemplars in the classic format');
  });
});
