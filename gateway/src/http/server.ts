import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { UnavailableError } from '@palisade/shared';
import type { Hono } from 'hono';

export interface HttpServerHandle {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves a Hono app on `host:port` (port 0 picks a free one) and resolves once listening. */
export function startHttpServer(app: Hono, opts: { host: string; port: number }): Promise<HttpServerHandle> {
  const server = createAdaptorServer({ fetch: app.fetch });
  return new Promise((resolve, reject) => {
    server.once('error', (e) =>
      reject(
        new UnavailableError('unavailable.http_listen', `cannot listen on ${opts.host}:${opts.port}`, { cause: e }),
      ),
    );
    server.listen(opts.port, opts.host, () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        close: () =>
          new Promise<void>((res) => {
            // Keep-alive sockets would hold close() open until they time out.
            if ('closeAllConnections' in server) server.closeAllConnections();
            server.close(() => res());
          }),
      });
    });
  });
}
