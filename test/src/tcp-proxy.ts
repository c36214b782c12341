import type { AddressInfo } from 'node:net';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A small TCP proxy for fault tests: it sits between a client (the gateway's sync agent) and a server (the cloud) and
 * can pass traffic, delay it, cut the link (reset every connection and refuse new ones), swallow it (a black hole:
 * connections open but nothing ever comes back, as behind a dead NAT), or answer each new connection itself with a
 * canned HTTP 500. The target can be moved, so a restarted server on a new port is reachable at the same address.
 */
export type ProxyMode = 'pass' | 'cut' | 'blackhole' | 'http500';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  mode: ProxyMode;
  /** Added to every chunk in both directions, ms. */
  delayMs: number;
  setTarget(port: number, host?: string): void;
  /** Connections accepted since start, and client→server bytes forwarded (to see a request is under way). */
  readonly stats: { connections: number; upBytes: number };
  /** Resets every open connection (the link drops now). */
  resetAll(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { port: number; host?: string }): Promise<TcpProxy> {
  let targetPort = target.port;
  let targetHost = target.host ?? '127.0.0.1';
  const open = new Set<Socket>();
  const stats = { connections: 0, upBytes: 0 };
  const state = { mode: 'pass' as ProxyMode, delayMs: 0 };

  const pipe = (from: Socket, to: Socket, up: boolean) => {
    from.on('data', (chunk: Buffer) => {
      if (state.mode === 'blackhole') return;
      if (up) stats.upBytes += chunk.length;
      const write = () => {
        if (!to.destroyed) to.write(chunk);
      };
      if (state.delayMs > 0) setTimeout(write, state.delayMs);
      else write();
    });
    from.on('end', () => {
      const end = () => to.end();
      if (state.delayMs > 0) setTimeout(end, state.delayMs);
      else end();
    });
  };

  const server: Server = createServer((client) => {
    stats.connections++;
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    if (state.mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    if (state.mode === 'http500') {
      client.once('data', () => {
        const body = '{"error":{"code":"internal","message":"injected by the tcp proxy"}}';
        client.end(
          `HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      });
      return;
    }
    if (state.mode === 'blackhole') {
      client.on('data', () => {});
      return;
    }
    const upstream = createConnection({ port: targetPort, host: targetHost });
    open.add(upstream);
    upstream.on('close', () => {
      open.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    pipe(client, upstream, true);
    pipe(upstream, client, false);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const resetAll = () => {
    for (const s of open) s.resetAndDestroy();
    open.clear();
  };

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(m: ProxyMode) {
      state.mode = m;
      if (m !== 'pass') resetAll();
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    setTarget(p: number, host?: string) {
      targetPort = p;
      if (host !== undefined) targetHost = host;
    },
    stats,
    resetAll,
    close() {
      resetAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
