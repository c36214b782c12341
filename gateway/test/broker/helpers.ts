import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  type AccessDenied,
  type AuthFailure,
  type Broker,
  type BrokerMessage,
  type BrokerOptions,
  createBroker,
  type DeviceConnectionInfo,
  type IdentityConflict,
} from '../../src/broker/index.js';

/** Everything the broker reported through its hooks, for assertions. */
export interface Recorded {
  connected: DeviceConnectionInfo[];
  disconnected: DeviceConnectionInfo[];
  authFailures: AuthFailure[];
  messages: BrokerMessage[];
  conflicts: IdentityConflict[];
  denied: AccessDenied[];
}

export async function startBroker(
  opts: Partial<BrokerOptions> & Pick<BrokerOptions, 'listeners'>,
): Promise<{ broker: Broker; rec: Recorded }> {
  const rec: Recorded = { connected: [], disconnected: [], authFailures: [], messages: [], conflicts: [], denied: [] };
  const broker = await createBroker({
    ...opts,
    hooks: {
      onDeviceConnected: (i) => rec.connected.push(i),
      onDeviceDisconnected: (i) => rec.disconnected.push(i),
      onAuthFailure: (f) => rec.authFailures.push(f),
      onMessage: (m) => rec.messages.push(m),
      onIdentityConflict: (c) => rec.conflicts.push(c),
      onAccessDenied: (d) => rec.denied.push(d),
      ...opts.hooks,
    },
  });
  return { broker, rec };
}

export type ConnectOutcome = { ok: true; client: MqttClient } | { ok: false; code: number | string };

/** Connects once (no reconnect); resolves with the client or the CONNACK return code / error code. */
export function tryConnect(url: string, opts: IClientOptions): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts });
    const fail = (code: number | string): void => {
      client.end(true);
      resolve({ ok: false, code });
    };
    client.once('connect', () => resolve({ ok: true, client }));
    client.once('error', (e: Error & { code?: number | string }) => fail(e.code ?? e.message));
    client.once('close', () => fail('closed'));
  });
}

export async function connect(url: string, opts: IClientOptions): Promise<MqttClient> {
  const r = await tryConnect(url, opts);
  if (!r.ok) throw new Error(`connect failed: ${r.code}`);
  return r.client;
}

/** Resolves when the client's connection closes (or rejects after `ms`). */
export function closed(client: MqttClient, ms = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!client.connected) return resolve();
    const t = setTimeout(() => reject(new Error('connection stayed open')), ms);
    client.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The granted QoS of a one-filter SUBSCRIBE (128 = refused, MQTT 3.1.1 §3.9.3). */
export async function subscribeGranted(client: MqttClient, filter: string): Promise<number> {
  try {
    const granted = await client.subscribeAsync(filter, { qos: 1 });
    return granted[0]?.qos ?? -1;
  } catch (e) {
    const packet = (e as { packet?: { granted?: (number | object)[] } }).packet;
    const g = packet?.granted?.[0];
    if (typeof g === 'number') return g;
    throw e;
  }
}
