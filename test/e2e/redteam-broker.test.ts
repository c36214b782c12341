/**
 * Red team, broker: a hostile peer on the plant network against the gateway's MQTT listener — no or someone else's
 * identity, topic and wildcard tricks, wills and retained messages aimed at other devices, a quarantined device
 * trying to inject data, MQTT 5, QoS 2 abuse, oversized and half-sent packets, connection floods, CBOR bombs in
 * every device message. Real mTLS sockets against an in-process gateway; each test checks what was refused, that
 * nothing was stored, and that the gateway still serves an honest device.
 */
import type { TLSSocket } from 'node:tls';
import { type BoardFamily, encodeCommandAck, encodeTelemetry, topics } from '@palisade/firmware-protocol';
import type { DeviceState } from '@palisade/firmware-protocol/simulator';
import { countTelemetryRows, type GatewayHandle } from '@palisade/gateway';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  Attacker,
  closedWithin,
  connectOutcome,
  connectTls,
  identityOf,
  provision,
  rawTls,
  sleep,
} from '../src/redteam/attacker.js';
import { gateway, simDir, tempDir } from './gateway-world.js';

let counter = 0;
async function world(
  families: BoardFamily[],
  extra: Record<string, unknown> = {},
): Promise<{ gw: GatewayHandle; states: DeviceState[] }> {
  counter++;
  const devs = families.map((family, i) => ({ id: `rb-${family}-${counter}-${i}`, family }));
  const gw = await gateway(
    tempDir('rb-gw'),
    devs.map((d) => d.id),
    5_000,
    extra,
  );
  const dir = tempDir('rb-dev');
  const states = await Promise.all(devs.map((d) => provision(dir, simDir, d.id, d.family)));
  return { gw, states };
}

async function stillServes(gw: GatewayHandle, state: DeviceState): Promise<void> {
  const a = await Attacker.connect(gw, state);
  expect((await a.attest()).status).toBe('affirming');
  await a.end();
}

const telemetry = (seq: number) => Buffer.from(encodeTelemetry({ seq, ts: Date.now(), values: { t: 21.5 } }));
/** Telemetry rows after the writer's flush (250 ms batches). */
async function rows(gw: GatewayHandle): Promise<number> {
  await sleep(400);
  return countTelemetryRows(gw.store).raw;
}

/** Publishes at QoS 0 and reports whether the broker kept the connection (aedes closes it on a refused publish). */
async function publishKept(client: MqttClient, topic: string, payload: Buffer, retain = false): Promise<boolean> {
  client.publish(topic, payload, { qos: 0, retain });
  await sleep(150);
  return client.connected;
}

function frame(packet: Record<string, unknown>): Buffer {
  return mqttPacket.generate(packet as unknown as mqttPacket.Packet);
}

const connectFrame = (clientId: string, extra: Record<string, unknown> = {}) =>
  frame({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId, ...extra });

describe('red team: broker', () => {
  it('refuses connections without a certificate, with another device id, an empty or a NUL client id', async () => {
    const { gw, states } = await world(['nrf52', 'esp32']);
    const [self, victim] = states as [DeviceState, DeviceState];
    const me = identityOf(self);
    expect(await connectOutcome(gw, undefined, { clientId: victim.deviceId })).toBe(5);
    expect(await connectOutcome(gw, me, { clientId: victim.deviceId })).toBe(2);
    expect(await connectOutcome(gw, me, { clientId: '', clean: true })).toBe(2);
    // MQTT 3.1.1 §3.1.3-8: an empty client id with CleanSession=0 is answered with CONNACK 0x02 (raw: mqtt.js
    // will not send it).
    const raw = await rawTls(gw, me);
    // CONNECT, MQTT 3.1.1, flags 0 (CleanSession=0), keep-alive 30, client id of length 0.
    raw.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x1e, 0x00, 0x00]));
    expect((await closedWithin(raw, 2_000)).data.subarray(0, 4)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x02]));
    expect(await connectOutcome(gw, me, { clientId: `${self.deviceId}\u0000` })).toBe(2);
    expect(await connectOutcome(gw, me, { clientId: self.deviceId.toUpperCase() })).toBe(2);
    // Username/password cannot rescue or override a certificate.
    expect(await connectOutcome(gw, me, { clientId: victim.deviceId, username: victim.deviceId, password: 'x' })).toBe(
      2,
    );
    expect(gw.registry.get(victim.deviceId)).toBeUndefined();
    // Repeated failures from one address raise an alert for the operator.
    expect(gw.alerts.list({ type: 'auth_failures' }).length).toBeGreaterThanOrEqual(1);
    await stillServes(gw, victim);
  });

  it("refuses subscriptions to other devices' topics, wildcards, $SYS and shared subscriptions", async () => {
    const { gw, states } = await world(['nrf52', 'esp32']);
    const [self, victim] = states as [DeviceState, DeviceState];
    const a = await Attacker.connect(gw, self);
    const v = victim.deviceId;
    const filters = [
      '#',
      '+/+',
      '+/#',
      'palisade/#',
      'palisade/v1/d/+/cmd',
      'palisade/v1/d/+/attest/challenge',
      `palisade/v1/d/${v}/cmd`,
      `palisade/v1/d/${v}/#`,
      `palisade/v1/d/${v}/attest/+`,
      `palisade/v1/d/${self.deviceId}/#`,
      `palisade/v1/d/${self.deviceId}/telemetry`,
      '$SYS/#',
      `$share/g/palisade/v1/d/${v}/cmd`,
      `palisade/v1/d/${v}\u0000/cmd`,
      `palisade/v1/d/${v}\uff0fcmd`,
      `${'a/'.repeat(4_000)}#`,
    ];
    for (const f of filters) {
      const granted = await a.client.subscribeAsync(f, { qos: 1 }).catch(() => [{ qos: 128 }]);
      expect({ f, qos: granted[0]?.qos }).toEqual({ f, qos: 128 });
    }
    // Nothing of the victim's reaches the attacker.
    const victimSide = await Attacker.connect(gw, victim);
    expect((await victimSide.attest()).status).toBe('affirming');
    await sleep(200);
    expect(a.received.filter((m) => m.topic.includes(v))).toEqual([]);
  });

  it("refuses publishes to another device's topics, gateway→device topics, $SYS, NUL and look-alike topics", async () => {
    const { gw, states } = await world(['nrf52', 'esp32']);
    const [self, victim] = states as [DeviceState, DeviceState];
    const v = victim.deviceId;
    const me = self.deviceId;
    const hostile = [
      topics.telemetry(v),
      topics.evidence(v),
      topics.status(v),
      topics.commandAck(v),
      topics.command(v),
      topics.challenge(me),
      topics.result(me),
      topics.command(me),
      '$SYS/broker/uptime',
      `palisade/v1/d/${v}\u0000/telemetry`,
      `palisade/v1/d/${me}/telemetry\u0000`,
      `palisade/v1/d/${me}\uff0ftelemetry`,
      `palisade/v1/d/${me}/telemetry/`,
      `palisade/v1/d//${me}/telemetry`,
      `palisade/v1/d/${me}/../${v}/telemetry`,
      'palisade/v1/gateway/commands',
      'a/'.repeat(4_000),
      `palisade/v1/d/${me}/${'x'.repeat(8_000)}`,
    ];
    const own = await Attacker.connect(gw, self);
    expect((await own.attest()).status).toBe('affirming');
    await own.end();
    let client = await connectTls(gw, identityOf(self), { clientId: me });
    for (const t of hostile) {
      const kept = await publishKept(client, t, telemetry(1));
      if (!kept) client = await connectTls(gw, identityOf(self), { clientId: me });
    }
    // Control: the same payload on the device's own telemetry topic is stored, once.
    if (!client.connected) client = await connectTls(gw, identityOf(self), { clientId: me });
    expect(await publishKept(client, topics.telemetry(me), telemetry(2))).toBe(true);
    await client.endAsync(true);
    expect(await rows(gw)).toBe(1);
    expect(gw.registry.get(v)).toBeUndefined();
    await stillServes(gw, victim);
  });

  it('keeps a genuine but not allow-listed device pending: it may attest, nothing else, and raises an alert', async () => {
    const { gw } = await world([]);
    const s = await provision(tempDir('rb-dev'), simDir, `rb-stranger-${counter}`, 'esp32');
    const a = await Attacker.connect(gw, s);
    expect((await a.attest()).status).toBe('affirming');
    expect(gw.registry.require(s.deviceId).enrollment).toBe('pending');
    a.client.publish(topics.telemetry(s.deviceId), telemetry(1));
    expect(await rows(gw)).toBe(0);
    expect(gw.alerts.list({ deviceId: s.deviceId, type: 'unknown_device' })).toHaveLength(1);
  });

  it('lets a quarantined device attest but stores none of its telemetry, acks or wills', async () => {
    const { gw, states } = await world(['esp32']);
    const s = states[0] as DeviceState;
    const a = await Attacker.connect(gw, s);
    expect((await a.attest()).status).toBe('affirming');
    expect(await publishKept(a.client, topics.telemetry(s.deviceId), telemetry(1))).toBe(true);
    expect(await rows(gw)).toBe(1);
    gw.registry.quarantine(s.deviceId, 'operator:redteam', 'operator.manual');
    let client = a.client;
    for (const [topic, payload] of [
      [topics.telemetry(s.deviceId), telemetry(1)],
      [topics.commandAck(s.deviceId), Buffer.from(encodeCommandAck({ id: 'cmd_x', outcome: 'applied' }))],
    ] as const) {
      if (!(await publishKept(client, topic, payload))) {
        client = await connectTls(gw, identityOf(s), { clientId: s.deviceId });
      }
    }
    expect(await rows(gw)).toBe(1);
    // A last will on its own telemetry topic does not get around the quarantine either.
    await client.endAsync(true);
    const withWill = await connectTls(gw, identityOf(s), {
      clientId: s.deviceId,
      will: { topic: topics.telemetry(s.deviceId), payload: telemetry(2), qos: 0, retain: false },
    });
    (withWill.stream as TLSSocket).destroy();
    await sleep(200);
    expect(await rows(gw)).toBe(1);
    // Still allowed to attest [FP-10-5]; an operator quarantine stays until an operator lifts it.
    const again = await Attacker.connect(gw, s);
    expect((await again.attest()).status).toBe('affirming');
  });

  it("delivers no will or retained message on another device's topics", async () => {
    const { gw, states } = await world(['nrf52', 'esp32']);
    const [self, victim] = states as [DeviceState, DeviceState];
    const v = await Attacker.connect(gw, victim);
    const c = await connectTls(gw, identityOf(self), {
      clientId: self.deviceId,
      will: { topic: topics.command(victim.deviceId), payload: Buffer.from('reboot'), qos: 1, retain: true },
    });
    // Retained publishes aimed at the victim's inbound topics.
    c.publish(topics.challenge(victim.deviceId), Buffer.from('x'), { qos: 0, retain: true });
    await sleep(100);
    (c.stream as TLSSocket).destroy(); // no DISCONNECT: the broker would publish the will
    await sleep(300);
    expect(v.received.filter((m) => !m.topic.endsWith('/attest/challenge') || m.payload.length !== 1)).toHaveLength(
      v.received.filter((m) => m.topic.endsWith('/attest/challenge')).length,
    );
    expect(v.received.some((m) => m.topic === topics.command(victim.deviceId))).toBe(false);
    expect(v.received.some((m) => m.payload.equals(Buffer.from('x')))).toBe(false);
    // A fresh subscriber gets no retained message planted by the attacker.
    await v.end();
    const again = await Attacker.connect(gw, victim, { online: false });
    await sleep(200);
    expect(again.received.filter((m) => m.topic === topics.command(victim.deviceId) || m.payload.length === 1)).toEqual(
      [],
    );
  });

  it('refuses MQTT 5 and MQTT 3.1 CONNECTs, or keeps the same rules when accepted', async () => {
    const { gw, states } = await world(['nrf52', 'esp32']);
    const [self, victim] = states as [DeviceState, DeviceState];
    for (const protocolVersion of [5, 3] as const) {
      const c = await connectTls(gw, identityOf(self), { clientId: self.deviceId, protocolVersion }).catch(
        () => undefined,
      );
      if (c !== undefined) {
        const granted = await c.subscribeAsync('#', { qos: 0 }).catch(() => [{ qos: 128 }]);
        expect(granted[0]?.qos).toBeGreaterThanOrEqual(128);
        await c.endAsync(true);
      }
    }
    await stillServes(gw, victim);
  });

  it('closes oversized, half-sent and garbage packets before authentication, and survives a connection flood', async () => {
    const { gw, states } = await world(['esp32'], { limits: { connectionsPerAddressPerMinute: 30 } });
    const open = async (bytes: Buffer) => {
      const s = await rawTls(gw);
      s.write(bytes);
      return s;
    };
    // A 256 MiB remaining length with no body; a CONNECT carrying a 64 KiB will; a reserved packet type; a CONNECT
    // whose declared client id runs past the packet.
    const declaredHuge = await open(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
    const bigWill = await open(
      connectFrame('rb-big', { will: { topic: 'a', payload: Buffer.alloc(65_536, 1), qos: 0, retain: false } }),
    );
    const reserved = await open(Buffer.from([0x00, 0x00]));
    const lying = await open(
      Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x1e, 0xff, 0xff]),
    );
    for (const [what, s] of Object.entries({ declaredHuge, bigWill, reserved, lying })) {
      const r = await closedWithin(s, 1_500);
      expect({ what, open: r.open, connack0: r.data.includes(Buffer.from([0x20, 0x02, 0x00, 0x00])) }).toEqual({
        what,
        open: false,
        connack0: false,
      });
    }
    // A flood of connections from one address: beyond the per-minute budget they are dropped at accept.
    const flood = await Promise.allSettled(Array.from({ length: 40 }, () => rawTls(gw)));
    const sockets = flood.flatMap((f) => (f.status === 'fulfilled' ? [f.value] : []));
    await sleep(200);
    const alive = sockets.filter((s) => !s.destroyed).length;
    expect(alive).toBeLessThanOrEqual(30);
    for (const s of sockets) s.destroy();
    expect(gw.metrics.registry).toBeDefined();
    const m = await (await fetch(`http://127.0.0.1:${gw.ports.http}/health`)).json();
    expect(m).toMatchObject({ status: 'ok' });
    void states;
  });

  it('stores a re-sent QoS 2 message once, and nothing beyond the un-released QoS 2 window', async () => {
    const { gw, states } = await world(['esp32', 'nrf52'], { limits: { maxInflight: 8 } });
    const [self, honest] = states as [DeviceState, DeviceState];
    const own = await Attacker.connect(gw, self);
    expect((await own.attest()).status).toBe('affirming');
    await own.end();
    await sleep(100);
    const qos2 = (id: number, seq: number, dup = false) =>
      frame({
        cmd: 'publish',
        topic: topics.telemetry(self.deviceId),
        payload: telemetry(seq),
        qos: 2,
        messageId: id,
        dup,
      });
    const s: TLSSocket = await rawTls(gw, identityOf(self));
    const seen = closedWithin(s, 3_000);
    s.write(connectFrame(self.deviceId));
    await sleep(200);
    // One message, retransmitted twice with DUP (as a device does when it misses the PUBREC), never released.
    s.write(qos2(7, 1));
    s.write(qos2(7, 1, true));
    s.write(qos2(7, 1, true));
    await sleep(200);
    expect(await rows(gw)).toBe(1);
    // Then 40 distinct messages, never released: the broker drops the connection at the window (8), and what it
    // dropped is not stored.
    for (let id = 100; id < 140; id++) s.write(qos2(id, id));
    expect((await seen).open).toBe(false);
    expect(await rows(gw)).toBeLessThanOrEqual(8);
    await stillServes(gw, honest);
  });

  it('refuses the WebSocket listener without credentials, and closes an oversized WebSocket frame', async () => {
    const { gw, states } = await world(['esp32'], { ws: { enabled: true, host: '127.0.0.1', port: 0 } });
    const url = `ws://127.0.0.1:${gw.ports.ws}`;
    const outcome = await new Promise<string | number>((resolve) => {
      const c = mqtt.connect(url, { clientId: (states[0] as DeviceState).deviceId, reconnectPeriod: 0 });
      c.once('connect', () => {
        c.end(true);
        resolve('connected');
      });
      c.once('error', (e) => {
        c.end(true);
        resolve((e as { code?: number }).code ?? e.message);
      });
    });
    expect(outcome).toBe(5);
    // A frame larger than the packet limit is refused by the WebSocket layer before MQTT parsing.
    const ws = new WebSocket(url, 'mqtt');
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(new Uint8Array(64 * 1024));
    expect(await closed).toBe(1009);
    await stillServes(gw, states[0] as DeviceState);
  });
});
