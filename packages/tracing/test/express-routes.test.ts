// Route labels from what matched, on Express 4 and 5, over a corpus of routing shapes requested in
// several orders (each order on a fresh app, so no cache carries one order's answers into the next).
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import express5 from 'express';
import { allowRouterDispatchWatch, unwatchRouterDispatch } from '../src/express-router-watch.ts';
import { buildCorpusApp, corpusCases, shuffled } from './fixtures/express-corpus.ts';
import type { CorpusCase, ExpressFactory } from './fixtures/express-corpus.ts';
import { closeServer, listen, setup, waitFor } from './helpers.ts';
import type { Harness } from './helpers.ts';

const express4 = createRequire(import.meta.url)('express4') as ExpressFactory;

function request(port: number, c: CorpusCase): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: c.method, path: c.path, headers: c.headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

// Ended spans, synchronously (span.end() runs before the OperationRecord is emitted).
const ended: ReadableSpan[] = [];
const collector: SpanProcessor = {
  onStart() {},
  onEnd(span) {
    ended.push(span);
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

const ORDERS: Array<[string, (cs: CorpusCase[]) => CorpusCase[]]> = [
  ['as listed', (cs) => cs],
  ['reversed', (cs) => [...cs].reverse()],
  ['shuffled seed 7', (cs) => shuffled(cs, 7)],
  ['shuffled seed 1234', (cs) => shuffled(cs, 1234)],
  ['shuffled seed 99991', (cs) => shuffled(cs, 99991)],
];

const VARIANTS: Array<{ label: string; factory: ExpressFactory; v5: boolean; channel: boolean }> = [
  { label: 'express 5 (router diagnostics channel)', factory: express5, v5: true, channel: true },
  { label: 'express 5 without the channel (router < 2.3)', factory: express5, v5: true, channel: false },
  { label: 'express 4', factory: express4, v5: false, channel: false },
];

let h: Harness;
before(() => {
  h = setup({ httpClient: false, exporter: 'none', spanProcessors: [collector] });
});
after(async () => {
  await h.close();
});

for (const variant of VARIANTS) {
  describe(variant.label, () => {
    after(() => {
      // The next block's apps (they have sub-apps) start the watch again at their first request.
      allowRouterDispatchWatch();
    });
    for (const [orderName, order] of ORDERS) {
      test(`corpus requested ${orderName}`, async (t) => {
        const app = buildCorpusApp(variant.factory, variant.v5, h.tracing.expressMiddleware(), h.tracing.expressErrorHandler());
        if (!variant.channel) unwatchRouterDispatch();
        const server = http.createServer(app);
        const port = await listen(server);
        try {
          for (const c of order(corpusCases(variant.v5))) {
            const gap = c.needsRouterChannel === true && !variant.channel;
            await t.test(`${c.method} ${c.path} -> ${c.label}`, { todo: gap ? 'sub-app internals are invisible without router\'s channel' : false }, async () => {
              h.records.length = 0;
              ended.length = 0;
              const status = await request(port, c);
              await waitFor(() => h.records.length === 1);
              const rec = h.records[0]!;
              const span = ended.find((s) => s.kind === SpanKind.SERVER);
              assert.ok(span, 'server span ended');
              assert.equal(status, c.status, 'status');
              assert.equal(rec.statusCode, c.status, 'record status');
              assert.equal(rec.route, c.label, 'metric label');
              assert.equal(span.name, `${c.method} ${c.label}`, 'span name');
              assert.equal(span.attributes['http.route'], c.routed ? c.label : undefined, 'http.route');
            });
          }
        } finally {
          await closeServer(server);
        }
      });
    }
  });
}
