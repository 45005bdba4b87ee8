import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import express5 from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import { byName, closeServer, listen, setup, waitFor } from './helpers.ts';
import type { Harness } from './helpers.ts';

type ExpressFactory = typeof express5;
const express4 = createRequire(import.meta.url)('express4') as ExpressFactory;

function request(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function buildApp(express: ExpressFactory, h: Harness, v5: boolean): Express {
  const app = express();
  app.use(h.tracing.expressMiddleware());
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.headers['x-deny'] !== undefined) {
      res.status(401).end('denied');
      return;
    }
    next();
  });
  app.get('/users/:id', (_req: Request, res: Response) => {
    res.json({ ok: true });
  });
  const api = express.Router();
  const tenant = express.Router();
  tenant.get('/orders/:orderId', (_req: Request, res: Response) => {
    res.end('order');
  });
  api.use('/v1/:tenant', tenant);
  api.get('/', (_req: Request, res: Response) => {
    res.end('api root');
  });
  app.use('/api', api);
  app.get(['/a', '/b'], (_req: Request, res: Response) => {
    res.end('array');
  });
  app.get(/^\/re\/\d+$/, (_req: Request, res: Response) => {
    res.end('regexp');
  });
  app.get(v5 ? '/files/*rest' : '/files/*', (_req: Request, res: Response) => {
    res.end('splat');
  });
  app.get(v5 ? '/opt{/:maybe}' : '/opt/:maybe?', (_req: Request, res: Response) => {
    res.end('optional');
  });
  const sub = express();
  sub.get('/thing/:tid', (_req: Request, res: Response) => {
    res.end('sub');
  });
  app.use('/sub', sub);
  app.get('/missing', (_req: Request, res: Response) => {
    res.status(404).end('nope');
  });
  app.get('/boom', () => {
    throw new TypeError('boom');
  });
  app.get('/fivehundred', (_req: Request, res: Response) => {
    res.status(503).end('unavailable');
  });
  app.get('/child', async (_req: Request, res: Response) => {
    await new Promise((r) => setTimeout(r, 5));
    const span = h.tracing.tracer.startSpan('child-work');
    span.end();
    res.json({ active: trace.getActiveSpan()?.spanContext().spanId ?? null });
  });
  app.get('/slow', (_req: Request, res: Response) => {
    setTimeout(() => {
      if (!res.destroyed) res.end('late');
    }, 300);
  });
  app.use(h.tracing.expressErrorHandler());
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).end(err.message);
  });
  return app;
}

for (const [label, factory, v5] of [['express 5', express5, true], ['express 4', express4, false]] as const) {
  describe(`${label} middleware`, () => {
    let h: Harness;
    let server: http.Server;
    let port: number;
    before(async () => {
      h = setup({ httpClient: false });
      server = http.createServer(buildApp(factory, h, v5));
      port = await listen(server);
    });
    after(async () => {
      await closeServer(server);
      await h.close();
    });

    async function one(method: string, path: string, headers: Record<string, string> = {}) {
      h.exporter.reset();
      h.records.length = 0;
      const res = await request(port, method, path, headers);
      await waitFor(() => h.records.length === 1);
      const spans = await h.spans();
      assert.equal(spans.length >= 1, true, 'a span was exported');
      const span = spans.find((s) => s.kind === SpanKind.SERVER);
      assert.ok(span, 'server span');
      return { res, span, rec: h.records[0]!, spans };
    }

    const routes: Array<[string, string]> = [
      ['/users/42', '/users/:id'],
      ['/api/v1/acme/orders/7', '/api/v1/:tenant/orders/:orderId'],
      ['/api', '/api'],
      ['/a', '/a,/b'],
      ['/b', '/a,/b'],
      ['/re/123', String(/^\/re\/\d+$/)],
      ['/files/x/y.txt', v5 ? '/files/*rest' : '/files/*'],
      ['/opt/zzz', v5 ? '/opt{/:maybe}' : '/opt/:maybe?'],
      ['/sub/thing/9', '/sub/thing/:tid'],
    ];
    for (const [path, template] of routes) {
      test(`route template ${path} -> ${template}`, async () => {
        const { res, span, rec } = await one('GET', path);
        assert.equal(res.status, 200);
        assert.equal(span.name, `GET ${template}`);
        assert.equal(span.attributes['http.route'], template);
        assert.equal(rec.route, template);
        assert.equal(rec.kind, 'http_server');
      });
    }

    test('attributes and OperationRecord of a matched request', async () => {
      const { span, rec } = await one('GET', '/users/42?secret=1', { 'user-agent': 'tt-test/1' });
      assert.equal(span.kind, SpanKind.SERVER);
      assert.equal(span.attributes['http.request.method'], 'GET');
      assert.equal(span.attributes['url.path'], '/users/42');
      assert.equal(span.attributes['url.scheme'], 'http');
      assert.equal(span.attributes['server.address'], '127.0.0.1');
      assert.equal(span.attributes['server.port'], port);
      assert.equal(span.attributes['user_agent.original'], 'tt-test/1');
      assert.equal(span.attributes['http.response.status_code'], 200);
      assert.equal(span.status.code, SpanStatusCode.UNSET);
      assert.equal(rec.method, 'GET');
      assert.equal(rec.statusCode, 200);
      assert.equal(rec.traceId, span.spanContext().traceId);
      assert.equal(rec.spanId, span.spanContext().spanId);
      assert.ok(rec.durationS > 0 && rec.durationS < 5);
      // The span and the record carry the same duration (measured once).
      const spanS = span.duration[0] + span.duration[1] / 1e9;
      assert.ok(Math.abs(spanS - rec.durationS) < 1e-5, `${spanS} vs ${rec.durationS}`);
    });

    test('unmatched path -> (unmatched): the span is named like the metric label, without http.route', async () => {
      const { res, span, rec } = await one('GET', '/nothing/here');
      assert.equal(res.status, 404);
      assert.equal(span.name, 'GET (unmatched)');
      assert.equal(span.attributes['http.route'], undefined);
      assert.equal(rec.route, '(unmatched)');
      assert.equal(rec.statusCode, 404);
      assert.equal(span.status.code, SpanStatusCode.UNSET);
    });

    test('response ended by earlier middleware (401) is (middleware), not the 404 label, and not an error', async () => {
      const { res, span, rec } = await one('GET', '/users/1', { 'x-deny': '1' });
      assert.equal(res.status, 401);
      assert.equal(rec.route, '(middleware)');
      assert.equal(span.name, 'GET (middleware)');
      assert.equal(span.attributes['http.route'], undefined);
      assert.equal(span.attributes['http.response.status_code'], 401);
      assert.equal(span.status.code, SpanStatusCode.UNSET);
      assert.equal(span.attributes['error.type'], undefined);
    });

    test('4xx from a route is not an error on the server', async () => {
      const { span, rec } = await one('GET', '/missing');
      assert.equal(rec.statusCode, 404);
      assert.equal(rec.route, '/missing');
      assert.equal(span.status.code, SpanStatusCode.UNSET);
    });

    test('thrown error -> 500, ERROR, error.type = class, exception event', async () => {
      const { res, span, rec } = await one('GET', '/boom');
      assert.equal(res.status, 500);
      assert.equal(rec.statusCode, 500);
      assert.equal(rec.route, '/boom');
      assert.equal(span.status.code, SpanStatusCode.ERROR);
      assert.equal(span.attributes['error.type'], 'TypeError');
      assert.ok(span.events.some((e) => e.name === 'exception'));
    });

    test('5xx without an error object -> error.type is the status code', async () => {
      const { span } = await one('GET', '/fivehundred');
      assert.equal(span.status.code, SpanStatusCode.ERROR);
      assert.equal(span.attributes['error.type'], '503');
    });

    test('non-standard method -> _OTHER, original kept, name HTTP', async () => {
      const { span, rec } = await one('PURGE', '/users/1');
      assert.equal(rec.method, '_OTHER');
      assert.equal(span.attributes['http.request.method'], '_OTHER');
      assert.equal(span.attributes['http.request.method_original'], 'PURGE');
      assert.equal(span.name, 'HTTP (unmatched)');
    });

    test('parent from traceparent; handler spans are children (also after await)', async () => {
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const parentId = 'b7ad6b7169203331';
      const { res, spans } = await one('GET', '/child', { traceparent: `00-${traceId}-${parentId}-01` });
      const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
      const child = byName(spans, 'child-work');
      assert.equal(server.spanContext().traceId, traceId);
      assert.equal(server.parentSpanContext?.spanId, parentId);
      assert.equal(child.spanContext().traceId, traceId);
      assert.equal(child.parentSpanContext?.spanId, server.spanContext().spanId);
      assert.equal(JSON.parse(res.body).active, server.spanContext().spanId);
    });

    test('aborted request is recorded with status 0 and error.type aborted', async () => {
      h.exporter.reset();
      h.records.length = 0;
      await new Promise<void>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/slow' });
        req.on('error', () => resolve());
        req.end();
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 50);
      });
      await waitFor(() => h.records.length === 1);
      const rec = h.records[0]!;
      assert.equal(rec.statusCode, 0);
      assert.equal(rec.route, '/slow');
      const span = (await h.spans()).find((s) => s.kind === SpanKind.SERVER)!;
      assert.equal(span.attributes['error.type'], 'aborted');
    });
  });
}
