import { connect as netConnect } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Broker, hashPassword } from '../../src/broker/index.js';
import { closed, connect, type Recorded, sleep, startBroker, subscribeGranted, tryConnect, until } from './helpers.js';

const PASSWORD = 'correct horse battery';
let broker: Broker;
let rec: Recorded;
let url: string;
const quarantined = new Set<string>();
const registry = new Registry();

async function oversizedCount(): Promise<number> {
  const m = await registry.getSingleMetric('palisade_broker_oversized_packets_total')?.get();
  return m?.values[0]?.value ?? 0;
}

beforeAll(async () => {
  const hash = await hashPassword(PASSWORD);
  const groups: Record<string, string[]> = { 'dev-b': ['line1'] };
  const started = await startBroker({
    listeners: { mqtt: { port: 0 } },
    credentials: (username) =>
      /^dev-[a-z]$/.test(username)
        ? { deviceId: username, passwordHash: hash, groups: groups[username] ?? [] }
        : undefined,
    metrics: registry,
    limits: { maxPacketSize: 2048, messagesPerSecondPerDevice: 20, messageBurst: 20 },
    acl: [
      { effect: 'deny', devices: ['dev-c'], topic: 'palisade/v1/d/{deviceId}/telemetry', action: 'publish' },
      { effect: 'allow', groups: ['line1'], topic: 'plant/line1/#', action: 'both' },
      { effect: 'deny', devices: '*', topic: 'plant/line1/secret', action: 'both' },
    ],
    hooks: {
      isPublishAllowed: (deviceId, kind) => !quarantined.has(deviceId) || kind === 'evidence' || 'quarantined',
    },
  });
  broker = started.broker;
  rec = started.rec;
  url = `mqtt://127.0.0.1:${broker.ports.mqtt}`;
});

afterAll(async () => {
  await broker?.close();
});

const device = (id: string) => connect(url, { clientId: id, username: id, password: PASSWORD });

/** Publishes and reports whether the broker accepted it (refusals close the connection, MQTT-3.3.5-2). */
async function publishAccepted(deviceId: string, topic: string, payload: string | Buffer = 'x'): Promise<boolean> {
  const before = rec.messages.length;
  const c = await device(deviceId);
  c.publish(topic, payload, { qos: 1 });
  const outcome = await Promise.race([
    until(() => rec.messages.length > before, 1500).then(() => true),
    closed(c, 1500).then(() => false),
  ]).catch(() => false);
  c.end(true);
  await until(() => !broker.connectedDevices().some((d) => d.deviceId === deviceId));
  return outcome;
}

describe('default device authorisation [FP-3.1-1]', () => {
  it('lets a device publish to its own device→gateway topics', async () => {
    const c = await device('dev-a');
    for (const suffix of ['telemetry', 'status', 'attest/evidence', 'cmd/ack']) {
      await c.publishAsync(`palisade/v1/d/dev-a/${suffix}`, 'ok', { qos: 1 });
    }
    expect(rec.messages.slice(-4).map((m) => m.kind)).toEqual(['telemetry', 'status', 'evidence', 'command-ack']);
    await c.endAsync();
    await until(() => !broker.connectedDevices().some((d) => d.deviceId === 'dev-a'));
  });

  it("refuses publishing to another device's topics, gateway→device topics, $SYS and foreign roots", async () => {
    for (const topic of [
      'palisade/v1/d/dev-z/telemetry',
      'palisade/v1/d/dev-a/attest/result',
      'palisade/v1/d/dev-a/attest/challenge',
      'palisade/v1/d/dev-a/cmd',
      'palisade/v1/d/dev-a/telemetry/extra',
      'palisade/v1/gw/internal',
      '$SYS/broker/clients',
      'other/topic',
    ]) {
      expect(await publishAccepted('dev-a', topic), topic).toBe(false);
    }
    expect(rec.messages.some((m) => m.topic === 'palisade/v1/d/dev-z/telemetry')).toBe(false);
    expect(rec.denied.some((d) => d.reason === 'acl.other_device')).toBe(true);
  });

  it("subscribes only to its own challenge, result and cmd; never to another device's or a wildcard", async () => {
    const c = await device('dev-a');
    for (const suffix of ['attest/challenge', 'attest/result', 'cmd']) {
      expect(await subscribeGranted(c, `palisade/v1/d/dev-a/${suffix}`)).toBe(1);
    }
    for (const filter of [
      'palisade/v1/d/dev-z/cmd',
      'palisade/v1/d/+/cmd',
      'palisade/v1/d/dev-a/#',
      'palisade/v1/d/dev-a/telemetry',
      '#',
      '$SYS/#',
      'palisade/#',
    ]) {
      expect(await subscribeGranted(c, filter), filter).toBe(128);
    }
    // A message for another device never reaches this one.
    let leaked = false;
    c.on('message', (topic) => {
      if (topic.includes('dev-z')) leaked = true;
    });
    await broker.publish('palisade/v1/d/dev-z/cmd', 'secret', { qos: 1 });
    await sleep(100);
    expect(leaked).toBe(false);
    await c.endAsync();
  });
});

describe('operator ACL rules', () => {
  it('a deny rule closes a default-allowed topic for the devices it names', async () => {
    expect(await publishAccepted('dev-c', 'palisade/v1/d/dev-c/telemetry')).toBe(false);
    expect(rec.denied.at(-1)).toMatchObject({ deviceId: 'dev-c', reason: 'acl.denied_by_rule' });
    expect(await publishAccepted('dev-c', 'palisade/v1/d/dev-c/status')).toBe(true);
    expect(await publishAccepted('dev-a', 'palisade/v1/d/dev-a/telemetry')).toBe(true);
  });

  it('an allow rule opens a topic tree to a group, and a deny inside it still wins', async () => {
    expect(await publishAccepted('dev-b', 'plant/line1/temp')).toBe(true);
    expect(rec.messages.at(-1)).toMatchObject({ deviceId: 'dev-b', kind: 'other' });
    expect(await publishAccepted('dev-a', 'plant/line1/temp')).toBe(false);
    expect(await publishAccepted('dev-b', 'plant/line1/secret')).toBe(false);
    const c = await device('dev-b');
    expect(await subscribeGranted(c, 'plant/line1/+')).toBe(128); // could receive plant/line1/secret
    expect(await subscribeGranted(c, 'plant/line1/alarms/#')).toBe(1);
    expect(await subscribeGranted(c, 'plant/#')).toBe(128); // wider than the allow rule
    await c.endAsync();
  });
});

describe('quarantine gate', () => {
  it('lets a quarantined device attest and nothing else', async () => {
    quarantined.add('dev-q');
    try {
      expect(await publishAccepted('dev-q', 'palisade/v1/d/dev-q/telemetry')).toBe(false);
      expect(rec.denied.at(-1)).toMatchObject({ deviceId: 'dev-q', reason: 'quarantined' });
      expect(await publishAccepted('dev-q', 'palisade/v1/d/dev-q/attest/evidence')).toBe(true);
    } finally {
      quarantined.delete('dev-q');
    }
    expect(await publishAccepted('dev-q', 'palisade/v1/d/dev-q/telemetry')).toBe(true);
  });
});

describe('abuse limits', () => {
  it('closes the connection on a packet above maxPacketSize', async () => {
    expect(await publishAccepted('dev-a', 'palisade/v1/d/dev-a/telemetry', Buffer.alloc(1800))).toBe(true);
    expect(await publishAccepted('dev-a', 'palisade/v1/d/dev-a/telemetry', Buffer.alloc(4096))).toBe(false);
  });

  it('closes the connection on a declared length above the limit before the body arrives', async () => {
    const oversizedBefore = await oversizedCount();
    const socket = netConnect(broker.ports.mqtt ?? 0, '127.0.0.1');
    const closedAt = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    const connack = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    const str = (v: string) => Buffer.concat([Buffer.from([0, Buffer.byteLength(v)]), Buffer.from(v)]);
    const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 30]), str('dev-d'), str('dev-d'), str(PASSWORD)]);
    socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    await connack;
    // A PUBLISH header declaring ~100 MB (varint 0x80 0xC2 0xD7 0x2F) and no body: closed at once.
    socket.write(Buffer.from([0x30, 0x80, 0xc2, 0xd7, 0x2f]));
    await closedAt;
    expect(await oversizedCount()).toBe(oversizedBefore + 1);
  });

  it('throttles a flooding device: beyond the token bucket it is disconnected', async () => {
    const before = rec.messages.filter((m) => m.deviceId === 'dev-f').length;
    const c = await device('dev-f');
    for (let i = 0; i < 300; i++) c.publish('palisade/v1/d/dev-f/telemetry', String(i), { qos: 0 });
    await closed(c, 3000);
    c.end(true);
    const accepted = rec.messages.filter((m) => m.deviceId === 'dev-f').length - before;
    expect(accepted).toBeGreaterThanOrEqual(20);
    expect(accepted).toBeLessThan(40);
    expect(rec.denied.some((d) => d.deviceId === 'dev-f' && d.reason === 'limit.message_rate')).toBe(true);
  });
});

describe('connection rate per address', () => {
  it('refuses connections beyond the per-minute budget of one address', async () => {
    const { broker: b } = await startBroker({
      listeners: { mqtt: { port: 0 } },
      allowAnonymous: true,
      limits: { connectionsPerAddressPerMinute: 3 },
    });
    try {
      const u = `mqtt://127.0.0.1:${b.ports.mqtt}`;
      for (let i = 0; i < 3; i++) {
        const r = await tryConnect(u, { clientId: `dev-r${i}` });
        expect(r.ok).toBe(true);
        if (r.ok) await r.client.endAsync();
      }
      const refused = await tryConnect(u, { clientId: 'dev-r9' });
      expect(refused.ok).toBe(false);
    } finally {
      await b.close();
    }
  });
});
