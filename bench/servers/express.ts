import type { Express, Request, Response } from 'express';
import type { AddressInfo } from 'node:net';
import { announce } from './control.ts';
import { answer } from './handler.ts';
import { requireCjs, tailtrace } from './variant.ts';

const inst = await tailtrace('bench-express');
const express = requireCjs('express') as () => Express;
const app = express();
if (inst) app.use(inst);
app.get('/items/:id', (req: Request, res: Response) => {
  answer(String(req.params.id), (item) => res.json(item), () => res.status(502).end());
});
const server = app.listen(0, '127.0.0.1', () => {
  announce((server.address() as AddressInfo).port, async () => {
    server.closeAllConnections();
    await inst?.shutdown(2000);
  }, inst ? { counts: () => inst.tracing.stats(), flush: () => inst.tracing.forceFlush() } : undefined);
});
