// Router's dispatch channel is subscribed only once an app with sub-apps serves a request: an app
// without any never pays for it (router then traces no layer), one with them gets the sub-app
// routes placed as before.
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import http from 'node:http';
import { after, before, test } from 'node:test';
import express from 'express';
import { closeServer, listen, setup, waitFor } from './helpers.ts';
import type { Harness } from './helpers.ts';

const channel = dc.channel('tracing:express.router.request:start');
let h: Harness;
before(() => {
  h = setup({ httpClient: false, exporter: 'none' });
});
after(async () => {
  await h.close();
});

async function serve(app: express.Express, path: string): Promise<string | undefined> {
  const server = http.createServer(app);
  const port = await listen(server);
  try {
    h.records.length = 0;
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    await res.text();
    await waitFor(() => h.records.length === 1);
    return h.records[0]!.route;
  } finally {
    await closeServer(server);
  }
}

test('no sub-app: routers and routes are placed without the channel, which stays unsubscribed', async () => {
  const app = express();
  app.use(h.tracing.expressMiddleware());
  const api = express.Router();
  api.get('/users/:id', (_req, res) => {
    res.end('u');
  });
  app.use('/api', api);
  assert.equal(await serve(app, '/api/users/7'), '/api/users/:id');
  assert.equal(channel.hasSubscribers, false);
});

test('an app with sub-apps starts the watch at its first request; a route of a nested sub-app that fails is placed', async () => {
  const app = express();
  app.use(h.tracing.expressMiddleware());
  const l1 = express();
  const l2 = express();
  l2.get('/leaf/:id/fail', (_req, _res, next) => next(new Error('leaf failed')));
  l1.use('/l2/:x', l2);
  app.use('/l1', l1);
  app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(503).end('error');
  });
  assert.equal(channel.hasSubscribers, false);
  // The request leaves both sub-apps before the response: only the channel saw where the Route was.
  assert.equal(await serve(app, '/l1/l2/k/leaf/5/fail'), '/l1/l2/:x/leaf/:id/fail');
  assert.equal(channel.hasSubscribers, true);
});
