import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createMetrics, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from '@tailtrace/metrics';
import { parseExposition } from './exposition-parser.ts';

test('handler() serves both formats over a real node:http server', async (t) => {
  const m = createMetrics({ runtime: false });
  m.record({ kind: 'http_server', method: 'GET', route: '/users/:id', statusCode: 200, durationS: 0.02, traceId: 'c'.repeat(32), spanId: 'd'.repeat(16) });
  const handler = m.handler();
  const server = createServer((req, res) => (req.url === '/metrics' ? handler(req, res) : res.writeHead(404).end()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.close();
    m.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  const signal = AbortSignal.timeout(10_000);

  const om = await fetch(url, { signal, headers: { accept: 'application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2' } });
  assert.equal(om.status, 200);
  assert.equal(om.headers.get('content-type'), OPENMETRICS_CONTENT_TYPE);
  const omBody = await om.text();
  const fams = parseExposition(omBody, true);
  const ex = fams.get('http_server_request_duration_seconds')!.samples.find((s) => s.exemplar)!;
  assert.deepEqual(ex.exemplar!.labels, { trace_id: 'c'.repeat(32), span_id: 'd'.repeat(16) });

  const text = await fetch(url, { signal });
  assert.equal(text.headers.get('content-type'), PROMETHEUS_CONTENT_TYPE);
  const textBody = await text.text();
  parseExposition(textBody, false);
  assert.ok(!textBody.includes('# {'));

  const head = await fetch(url, { method: 'HEAD', signal });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
  const post = await fetch(url, { method: 'POST', signal });
  assert.equal(post.status, 405);
  await post.text();
});

test('render() without Accept is classic text', async () => {
  const m = createMetrics({ runtime: false });
  const r = await m.render();
  assert.equal(r.contentType, PROMETHEUS_CONTENT_TYPE);
  assert.ok(!r.body.includes('# EOF'));
  m.close();
});
