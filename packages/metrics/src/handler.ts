// GET /metrics as a plain node:http handler; express accepts the same (req, res) signature.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetricsHandler, RenderResult } from './types.ts';

export function createHandler(render: (accept?: string) => Promise<RenderResult>): MetricsHandler {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('Allow', 'GET, HEAD');
      res.end();
      return;
    }
    render(req.headers.accept).then(
      ({ contentType, body }) => {
        res.statusCode = 200;
        res.setHeader('Content-Type', contentType);
        res.setHeader('Content-Length', Buffer.byteLength(body));
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(`metrics render failed: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  };
}
