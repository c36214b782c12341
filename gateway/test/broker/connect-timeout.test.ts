import 'reflect-metadata';
import { connect as netConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker/index.js';
import { EKU, issue } from '../pki/test-pki.js';
import { connect, sleep, startBroker } from './helpers.js';

/**
 * The connect timeout bounds how long a peer may hold a socket without becoming an MQTT client (slow loris), on
 * every listener: the TLS handshake, the WebSocket upgrade and the CONNECT packet. One second here, so that a
 * broker still on the 10 s default fails these tests.
 */
const TIMEOUT_MS = 1000;

let broker: Broker;

beforeAll(async () => {
  const gwCa = await issue({ subject: 'CN=Gateway CA', ca: true });
  const server = await issue({ subject: 'CN=gateway', issuer: gwCa, altNames: ['localhost'], eku: [EKU.serverAuth] });
  ({ broker } = await startBroker({
    listeners: {
      mqtt: { port: 0, host: '127.0.0.1' },
      mqtts: { port: 0, host: '127.0.0.1', key: server.keyPem, cert: server.pem },
      ws: { port: 0, host: '127.0.0.1' },
    },
    allowAnonymous: true,
    limits: { connectTimeoutMs: TIMEOUT_MS },
  }));
});

afterAll(async () => {
  await broker?.close();
});

/** Opens a TCP connection that sends nothing; resolves with the milliseconds until the broker closed it. */
function silentPeer(port: number | undefined, giveUpMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = netConnect({ host: '127.0.0.1', port: port ?? 0 });
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection to port ${port} still open after ${giveUpMs} ms`));
    }, giveUpMs);
    socket.on('error', () => {});
    // Read whatever the broker sends (an HTTP 408, a TLS alert): a paused socket never sees the close.
    socket.resume();
    socket.on('close', () => {
      clearTimeout(giveUp);
      resolve(performance.now() - started);
    });
  });
}

describe('connect timeout', () => {
  it('closes a TCP connection that never sends CONNECT after about the configured time', async () => {
    const ms = await silentPeer(broker.ports.mqtt);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(ms).toBeLessThan(4000);
  });

  it('closes a connection to the TLS listener that never starts the handshake', async () => {
    const ms = await silentPeer(broker.ports.mqtts);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(ms).toBeLessThan(4000);
  });

  it('closes a connection to the WebSocket listener that never sends its request headers', async () => {
    const ms = await silentPeer(broker.ports.ws);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(ms).toBeLessThan(4000);
  });

  it('leaves a client that connected in time connected past the timeout', async () => {
    const client = await connect(`mqtt://127.0.0.1:${broker.ports.mqtt}`, { clientId: 'dev-timely' });
    try {
      await sleep(TIMEOUT_MS + 500);
      expect(client.connected).toBe(true);
      expect(broker.connectedDevices().map((d) => d.clientId)).toContain('dev-timely');
    } finally {
      await client.endAsync();
    }
  });
});
