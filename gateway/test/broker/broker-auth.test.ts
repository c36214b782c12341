import 'reflect-metadata';
import { connect as netConnect } from 'node:net';
import { parser as mqttParser } from 'mqtt-packet';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Broker, hashPassword } from '../../src/broker/index.js';
import { crl, EKU, type Issued, issue, standardPki } from '../pki/test-pki.js';
import { closed, connect, type Recorded, startBroker, subscribeGranted, tryConnect, until } from './helpers.js';

const DAY = 86_400_000;

let root: Issued;
let inter: Issued;
let leaf: Issued;
let serverCert: Issued;
let broker: Broker;
let rec: Recorded;
let registry: Registry;

const devPwHash = hashPassword('correct horse battery');

beforeAll(async () => {
  ({ root, inter, leaf } = await standardPki('dev-001'));
  const gwCa = await issue({ subject: 'CN=Gateway CA', ca: true });
  serverCert = await issue({ subject: 'CN=gateway', issuer: gwCa, altNames: ['localhost'], eku: [EKU.serverAuth] });
  registry = new Registry();
  const started = await startBroker({
    listeners: {
      mqtt: { port: 0 },
      mqtts: { port: 0, key: serverCert.keyPem, cert: serverCert.pem },
      ws: { port: 0 },
    },
    roots: [root.pem],
    intermediates: [inter.pem],
    credentials: async (username) =>
      username === 'dev-pw' ? { deviceId: 'dev-pw', passwordHash: await devPwHash } : undefined,
    metrics: registry,
  });
  broker = started.broker;
  rec = started.rec;
});

afterAll(async () => {
  await broker?.close();
});

function mqtts(device: Issued, clientId: string) {
  return tryConnect(`mqtts://127.0.0.1:${broker.ports.mqtts}`, {
    clientId,
    key: device.keyPem,
    cert: device.pem,
    ca: serverCert.pem,
    rejectUnauthorized: false,
  });
}

describe('broker authentication', () => {
  it('accepts a device certificate chained to the manufacturer root, with client id = CN', async () => {
    const r = await mqtts(leaf, 'dev-001');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    await until(() => rec.connected.some((c) => c.deviceId === 'dev-001'));
    const info = rec.connected.find((c) => c.deviceId === 'dev-001');
    expect(info).toMatchObject({ transport: 'mqtts', authMethod: 'certificate', clientId: 'dev-001' });
    expect(info?.certificate?.commonName).toBe('dev-001');
    expect(broker.connectedDevices().map((d) => d.deviceId)).toContain('dev-001');
    await r.client.publishAsync('palisade/v1/d/dev-001/telemetry', Buffer.from([1, 2, 3]), { qos: 1 });
    expect(rec.messages.at(-1)).toMatchObject({ deviceId: 'dev-001', kind: 'telemetry', qos: 1 });
    await r.client.endAsync();
    await until(() => rec.disconnected.some((c) => c.deviceId === 'dev-001'));
  });

  it('refuses a certificate from another root (CONNACK 5, pki.untrusted)', async () => {
    const otherRoot = await issue({ subject: 'CN=Counterfeit Root', ca: true });
    const fake = await issue({ subject: 'CN=dev-001', issuer: otherRoot });
    const r = await mqtts(fake, 'dev-001');
    expect(r).toMatchObject({ ok: false, code: 5 });
    expect(rec.authFailures.at(-1)).toMatchObject({ reason: 'pki.untrusted', transport: 'mqtts' });
  });

  it('refuses an expired device certificate (pki.expired)', async () => {
    const old = await issue({
      subject: 'CN=dev-old',
      issuer: inter,
      notBefore: new Date(Date.now() - 30 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    const r = await mqtts(old, 'dev-old');
    expect(r).toMatchObject({ ok: false, code: 5 });
    expect(rec.authFailures.at(-1)?.reason).toBe('pki.expired');
  });

  it('ends a session when the device certificate expires while connected (pki.expired)', async () => {
    // X.509 times have whole seconds: expiring 3 s from now, after the handshake.
    const notAfter = new Date(Math.ceil((Date.now() + 3_000) / 1000) * 1000);
    const brief = await issue({ subject: 'CN=dev-brief', issuer: inter, notAfter });
    const r = await mqtts(brief, 'dev-brief');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    await until(() => rec.connected.some((c) => c.deviceId === 'dev-brief'));
    expect(r.client.connected).toBe(true);
    await closed(r.client, 8_000);
    // Not before the certificate ran out, and because it did.
    expect(Date.now()).toBeGreaterThanOrEqual(notAfter.getTime());
    await until(() => rec.disconnected.some((c) => c.deviceId === 'dev-brief'));
    expect(await mqtts(brief, 'dev-brief')).toMatchObject({ ok: false, code: 5 });
    expect(rec.authFailures.at(-1)).toMatchObject({ reason: 'pki.expired' });
  }, 15_000);

  it('refuses a client id that differs from the certificate identity (CONNACK 2)', async () => {
    const r = await mqtts(leaf, 'dev-002');
    expect(r).toMatchObject({ ok: false, code: 2 });
    expect(rec.authFailures.at(-1)?.reason).toBe('auth.client_id_mismatch');
  });

  it('does not let a password rescue an invalid certificate', async () => {
    const otherRoot = await issue({ subject: 'CN=Counterfeit Root 2', ca: true });
    const fake = await issue({ subject: 'CN=dev-pw', issuer: otherRoot });
    const r = await tryConnect(`mqtts://127.0.0.1:${broker.ports.mqtts}`, {
      clientId: 'dev-pw',
      username: 'dev-pw',
      password: 'correct horse battery',
      key: fake.keyPem,
      cert: fake.pem,
      rejectUnauthorized: false,
    });
    expect(r).toMatchObject({ ok: false, code: 5 });
  });

  it('accepts a device password over TCP and refuses a wrong one or an unknown user (CONNACK 4)', async () => {
    const url = `mqtt://127.0.0.1:${broker.ports.mqtt}`;
    const ok = await tryConnect(url, { clientId: 'dev-pw', username: 'dev-pw', password: 'correct horse battery' });
    expect(ok.ok).toBe(true);
    if (ok.ok) await ok.client.endAsync();
    const wrong = await tryConnect(url, { clientId: 'dev-pw', username: 'dev-pw', password: 'wrong' });
    expect(wrong).toMatchObject({ ok: false, code: 4 });
    const unknown = await tryConnect(url, { clientId: 'dev-x', username: 'dev-x', password: 'correct horse battery' });
    expect(unknown).toMatchObject({ ok: false, code: 4 });
    expect(rec.authFailures.at(-1)).toMatchObject({ reason: 'auth.bad_credentials', transport: 'mqtt' });
    // The right password under another client id is still refused: the client id is the identity.
    const other = await tryConnect(url, { clientId: 'dev-zz', username: 'dev-pw', password: 'correct horse battery' });
    expect(other).toMatchObject({ ok: false, code: 2 });
  });

  it('refuses anonymous connections when anonymous access is not enabled', async () => {
    const r = await tryConnect(`mqtt://127.0.0.1:${broker.ports.mqtt}`, { clientId: 'dev-anon' });
    expect(r).toMatchObject({ ok: false, code: 5 });
    expect(rec.authFailures.at(-1)?.reason).toBe('auth.no_credentials');
  });

  it('refuses an empty client id with a persistent session with CONNACK 2 [MQTT-3.1.3-8]', async () => {
    const code = await new Promise<number>((resolve, reject) => {
      const socket = netConnect(broker.ports.mqtt ?? 0, '127.0.0.1');
      const p = mqttParser();
      p.on('packet', (packet) => {
        if (packet.cmd === 'connack') resolve(packet.returnCode ?? -1);
      });
      socket.on('data', (d) => p.parse(d));
      socket.on('error', reject);
      // Hand-built: mqtt-packet refuses to generate this CONNECT, which is exactly the point.
      const str = (s: string) => {
        const b = Buffer.from(s);
        return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
      };
      const body = Buffer.concat([
        str('MQTT'),
        Buffer.from([4, 0b1100_0000, 0, 30]), // level 4; username + password flags; CleanSession = 0; keepalive
        str(''),
        str('dev-pw'),
        str('correct horse battery'),
      ]);
      socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    });
    expect(code).toBe(2);
    expect(rec.authFailures.at(-1)?.reason).toBe('auth.empty_client_id');
  });

  it('refuses a second connection for a connected identity and reports a clone suspicion', async () => {
    const url = `mqtt://127.0.0.1:${broker.ports.mqtt}`;
    const first = await connect(url, { clientId: 'dev-pw', username: 'dev-pw', password: 'correct horse battery' });
    const second = await tryConnect(url, { clientId: 'dev-pw', username: 'dev-pw', password: 'correct horse battery' });
    expect(second).toMatchObject({ ok: false, code: 2 });
    expect(rec.conflicts.at(-1)).toMatchObject({ deviceId: 'dev-pw', incoming: { clientId: 'dev-pw' } });
    expect(first.connected).toBe(true);
    await first.publishAsync('palisade/v1/d/dev-pw/status', 'up', { qos: 1 });
    await first.endAsync();
    // Once the first is gone the identity is free again.
    await until(() => !broker.connectedDevices().some((d) => d.deviceId === 'dev-pw'));
    const third = await connect(url, { clientId: 'dev-pw', username: 'dev-pw', password: 'correct horse battery' });
    await third.endAsync();
  });

  it('serves MQTT over WebSocket', async () => {
    const client = await connect(`ws://127.0.0.1:${broker.ports.ws}`, {
      clientId: 'dev-pw',
      username: 'dev-pw',
      password: 'correct horse battery',
    });
    await client.publishAsync('palisade/v1/d/dev-pw/telemetry', 'ws', { qos: 1 });
    expect(rec.messages.at(-1)).toMatchObject({ deviceId: 'dev-pw', topic: 'palisade/v1/d/dev-pw/telemetry' });
    expect(rec.connected.at(-1)?.transport).toBe('ws');
    await client.endAsync();
  });

  it('delivers gateway publishes to the device and disconnects it on demand', async () => {
    const client = await connect(`mqtt://127.0.0.1:${broker.ports.mqtt}`, {
      clientId: 'dev-pw',
      username: 'dev-pw',
      password: 'correct horse battery',
    });
    await client.subscribeAsync('palisade/v1/d/dev-pw/cmd', { qos: 1 });
    const got = new Promise<Buffer>((resolve) => client.once('message', (_t, p) => resolve(p)));
    await broker.publish('palisade/v1/d/dev-pw/cmd', 'reboot', { qos: 1 });
    expect((await got).toString()).toBe('reboot');
    await until(() => broker.connectedDevices().some((d) => d.deviceId === 'dev-pw'));
    expect(broker.disconnect('dev-pw')).toBe(true);
    await closed(client);
    client.end(true);
    expect(broker.disconnect('dev-pw')).toBe(false);
  });

  it('counts connections and refusals in the Prometheus registry', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/palisade_broker_connections_total\{transport="mqtts"\} \d+/);
    expect(text).toMatch(/palisade_broker_auth_failures_total\{reason="pki.untrusted"\} \d+/);
  });
});

describe('trust updates, registry admission and chains sent by the device', () => {
  it('validates a chain the device sends, applies a CRL update, and asks the registry', async () => {
    const refused = new Set<string>(['dev-banned']);
    const { broker: b, rec: r } = await startBroker({
      listeners: { mqtts: { port: 0, key: serverCert.keyPem, cert: serverCert.pem } },
      roots: [root.pem],
      hooks: { authorizeDevice: (info) => !refused.has(info.deviceId) || 'registry.revoked' },
    });
    const url = `mqtts://127.0.0.1:${b.ports.mqtts}`;
    const viaTls = (d: Issued, id: string) =>
      tryConnect(url, { clientId: id, key: d.keyPem, cert: d.pem + inter.pem, rejectUnauthorized: false });
    try {
      // No intermediates configured: the device's own chain (leaf + intermediate) is used for path building.
      const ok = await viaTls(leaf, 'dev-001');
      expect(ok.ok, JSON.stringify(r.authFailures)).toBe(true);
      if (ok.ok) await ok.client.endAsync();
      await until(() => b.connectedDevices().length === 0);

      const banned = await issue({ subject: 'CN=dev-banned', issuer: inter });
      expect(await viaTls(banned, 'dev-banned')).toMatchObject({ ok: false, code: 5 });
      expect(r.authFailures.at(-1)?.reason).toBe('registry.revoked');

      // Revocation arrives: the remembered verdict for dev-001 must not survive it.
      b.updateTrust({ roots: [root.pem], crls: [await crl(inter, [leaf.cert.serialNumber])] });
      expect(await viaTls(leaf, 'dev-001')).toMatchObject({ ok: false, code: 5 });
      expect(r.authFailures.at(-1)?.reason).toBe('pki.revoked');
    } finally {
      await b.close();
    }
  });
});

describe('anonymous lab mode', () => {
  it('accepts anonymous devices only when enabled, and warns at start', async () => {
    const warnings: string[] = [];
    const logger = {
      trace() {},
      debug() {},
      info() {},
      warn(_o: object, msg?: string) {
        warnings.push(msg ?? '');
      },
      error() {},
      fatal() {},
      child() {
        return logger;
      },
    };
    const { broker: lab, rec: labRec } = await startBroker({
      listeners: { mqtt: { port: 0 } },
      allowAnonymous: true,
      logger,
    });
    try {
      expect(warnings.some((w) => /anonymous/i.test(w))).toBe(true);
      const c = await connect(`mqtt://127.0.0.1:${lab.ports.mqtt}`, { clientId: 'lab-dev-1' });
      await c.publishAsync('palisade/v1/d/lab-dev-1/telemetry', 'x', { qos: 1 });
      expect(labRec.messages.at(-1)?.deviceId).toBe('lab-dev-1');
      // Still confined to its own topics.
      expect(await subscribeGranted(c, 'palisade/v1/d/other/cmd')).toBe(128);
      await c.endAsync();
    } finally {
      await lab.close();
    }
  });
});
