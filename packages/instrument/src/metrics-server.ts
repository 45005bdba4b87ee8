// The metrics server: tailtrace's own port (by default on 127.0.0.1), where Prometheus scrapes
// /metrics and profilers pull /debug/pprof/*, away from the app's public port.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

export interface ListenOptions {
  port: number;
  host: string;
  /** The scrape path, for `url`. */
  path: string;
  /** Do not keep the process alive for it (a server started from the environment, not by the app). */
  unref?: boolean;
}

/** Listens; `handle` answers what is ours, everything else is 404. Rejects on a listen error. */
export function listenMetrics(handle: (req: IncomingMessage, res: ServerResponse) => boolean, opts: ListenOptions): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (handle(req, res)) return;
    res.statusCode = 404;
    res.end('not found\n');
  });
  if (opts.unref) server.unref();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      // A later error (e.g. EMFILE on accept) must not become an uncaught exception in the service.
      server.on('error', () => {});
      const addr = server.address() as AddressInfo;
      const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve({
        url: `http://${shown}:${addr.port}${opts.path}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
