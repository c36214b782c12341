import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerIdentity, parseCertificate, privateKeyToPem } from '../../src/pki/index.js';
import {
  initPki,
  loadDeviceState,
  type PkiStore,
  type SimulatorHandle,
  type SimulatorOptions,
  startSimulator,
} from '../../src/simulator/index.js';
import type { AppraisalContext } from './appraise.js';
import { type Broker, MOSQUITTO, startMosquitto } from './mosquitto.js';
import { TestPeer, until } from './peer.js';

let dir: string;
let pki: PkiStore;
let broker: Broker;

beforeAll(async () => {
  if (MOSQUITTO === undefined) return;
  dir = mkdtempSync(join(tmpdir(), 'palisade-sim-mqtt-'));
  pki = await initPki(dir);
  const server = await createServerIdentity(pki.intermediate, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  broker = await startMosquitto({
    tls: {
      caPem: pki.root.certificate.pem,
      certPem: server.certificate.pem + pki.intermediate.certificate.pem,
      keyPem: privateKeyToPem(server.privateKey),
    },
  });
});

afterAll(async () => {
  await broker?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Starts a simulator on the shared state dir and a peer that appraises what it sends. */
async function fleet(
  opts: Omit<SimulatorOptions, 'broker' | 'stateDir'> & { broker?: string },
): Promise<{ sim: SimulatorHandle; peer: TestPeer }> {
  const sim = await startSimulator({ broker: broker.tcpUrl, stateDir: dir, reconnectPeriodMs: 200, ...opts });
  const ctx: AppraisalContext = {
    root: parseCertificate(pki.root.certificate.der),
    intermediate: parseCertificate(pki.intermediate.certificate.der),
    crl: sim.pki.crl,
    registered: new Map(sim.devices.map((d) => [d.deviceId, d.state.certificate.pem])),
    usedNonces: new Set(),
    seen: new Map(),
    now: new Date(),
  };
  const peer = await TestPeer.connect(broker.tcpUrl, ctx);
  return { sim, peer };
}

describe.skipIf(MOSQUITTO === undefined)('simulator over real MQTT (mosquitto)', () => {
  it('three families connect over TCP, attest, send telemetry and go offline on stop [FP-7.1, FP-3.1-4]', async () => {
    const { sim, peer } = await fleet({ devices: 3, idPrefix: 'tcp', telemetryRateHz: 20 });
    try {
      await sim.waitFor((s) => s.attested === 3, 10_000);
      expect(sim.stats()).toMatchObject({ devices: 3, connected: 3, failed: 0 });
      expect(peer.results.map((r) => r.status)).toEqual(['affirming', 'affirming', 'affirming']);
      await until(() => new Set(peer.telemetry.map((t) => t.deviceId)).size === 3, 5_000, 'telemetry');
      const online = peer.statuses.find((s) => s.deviceId === 'tcp-nrf52-0002')!.status;
      expect(online).toMatchObject({ state: 'online', boardFamily: 'nrf52', firmwareVersion: '1.0.0' });
      const seqs = peer.telemetry.filter((t) => t.deviceId === 'tcp-esp32-0003').map((t) => t.msg.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    } finally {
      await sim.stop();
    }
    await until(() => peer.statuses.filter((s) => s.status.state === 'offline').length === 3, 5_000, 'offline');
    // A clean stop: each device says `offline` once, and the broker discards its last will.
    await new Promise((r) => setTimeout(r, 300));
    expect(peer.statuses.filter((s) => s.status.state === 'offline').length).toBe(3);
    await peer.close();
  });

  it('fault modes are visible on the wire', async () => {
    const { sim, peer } = await fleet({
      devices: 10,
      idPrefix: 'flt',
      families: ['nrf52', 'esp32'],
      telemetryRateHz: 5,
      floodRateHz: 400,
      faults:
        'tampered-firmware,rollback,replay,wrong-key,expired-cert,revoked-cert,wrong-nonce,silent,malformed,flood',
    });
    const last = (suffix: string) => peer.results.filter((r) => r.deviceId.endsWith(suffix)).at(-1);
    try {
      const byFault = new Map(sim.devices.map((d) => [d.fault, d.deviceId]));
      await until(
        () =>
          ['tampered-firmware', 'wrong-key', 'expired-cert', 'revoked-cert', 'wrong-nonce', 'flood'].every(
            (f) => last(f) !== undefined,
          ) &&
          peer.results.filter((r) => r.deviceId === byFault.get('rollback')).length >= 2 &&
          peer.results.filter((r) => r.deviceId === byFault.get('replay')).length >= 2 &&
          peer.undecodable.some((u) => u.deviceId === byFault.get('malformed') && u.kind === 'evidence'),
        12_000,
        'every fault to show',
      );
      expect(last('tampered-firmware')?.findings).toEqual(['measurement']);
      expect(last('wrong-key')?.findings).toEqual(['cose.bad_signature']);
      expect(last('expired-cert')?.findings).toEqual(['cert_expired']);
      expect(last('revoked-cert')?.findings).toEqual(['cert_revoked']);
      expect(last('wrong-nonce')?.findings).toEqual(['nonce_mismatch']);
      expect(last('flood')?.status).toBe('affirming');
      const rollback = peer.results.filter((r) => r.deviceId === byFault.get('rollback'));
      expect(rollback[0]?.status).toBe('affirming');
      expect(rollback[1]?.findings).toEqual(['bootcount_rollback']);
      expect(rollback[1]!.bootCount!).toBeLessThan(rollback[0]!.bootCount!);
      const replay = peer.results.filter((r) => r.deviceId === byFault.get('replay'));
      expect(replay[0]?.status).toBe('affirming');
      expect(replay[1]?.findings).toEqual(['nonce_mismatch', 'nonce_reused']);
      // silent: challenged, never answers.
      const silent = sim.deviceStats(byFault.get('silent')!)[0]!;
      expect(silent.challenges).toBeGreaterThan(0);
      expect(silent.evidenceSent).toBe(0);
      expect(peer.results.some((r) => r.deviceId === byFault.get('silent'))).toBe(false);
      // malformed telemetry, too; flood far above the configured rate.
      await until(() => peer.undecodable.some((u) => u.kind === 'telemetry'), 3_000, 'malformed telemetry');
      const count = (id: string) => peer.telemetry.filter((t) => t.deviceId === id).length;
      const healthy = sim.devices.find((d) => d.fault === undefined);
      expect(healthy).toBeUndefined(); // all ten slots carry a fault
      expect(count(byFault.get('flood')!)).toBeGreaterThan(10 * Math.max(1, count(byFault.get('tampered-firmware')!)));
    } finally {
      await sim.stop();
      await peer.close();
    }
  });

  it('clone: two boards with one identity take the session over from each other', async () => {
    const { sim, peer } = await fleet({ devices: 2, idPrefix: 'cln', families: ['esp32'], faults: { clone: 1 } });
    try {
      // Fault slots come first: slot 1 is the clone of the healthy device in slot 2.
      expect(sim.devices.map((d) => [d.deviceId, d.fault])).toEqual([
        ['cln-esp32-0002', undefined],
        ['cln-esp32-0002', 'clone'],
      ]);
      await until(
        () => peer.results.some((r) => r.findings.includes('bootseed_changed')),
        10_000,
        'a second boot seed for the same count',
      );
      expect(sim.deviceStats('cln-esp32-0002').every((s) => s.connects >= 1)).toBe(true);
    } finally {
      await sim.stop();
      await peer.close();
    }
  });

  it('obeys commands: set interval, re-attest, reboot (persisted), expired and duplicate ids [FP-4.5-2]', async () => {
    const { sim, peer } = await fleet({ devices: 1, idPrefix: 'cmd', families: ['nrf52'], telemetryRateHz: 0 });
    const id = 'cmd-nrf52-0001';
    const now = Date.now();
    try {
      await sim.waitFor((s) => s.attested === 1, 8_000);
      const bootBefore = sim.devices[0]!.state.bootCount;
      peer.command(id, {
        id: 'c1',
        type: 'set-telemetry-interval',
        args: { intervalMs: 100 },
        issuedAt: now,
        expiresAt: now + 60_000,
      });
      await until(() => peer.telemetry.length >= 3, 5_000, 'telemetry after set-telemetry-interval');
      const challengesBefore = sim.deviceStats(id)[0]!.challenges;
      peer.command(id, { id: 'c2', type: 're-attest', issuedAt: now, expiresAt: now + 60_000 });
      await until(() => sim.deviceStats(id)[0]!.challenges > challengesBefore, 5_000, 're-attest challenge');
      peer.command(id, { id: 'c3', type: 'reboot', issuedAt: now - 600_000, expiresAt: now - 300_000 });
      peer.command(id, { id: 'c4', type: 'reboot', issuedAt: now, expiresAt: now + 60_000 });
      await until(() => sim.deviceStats(id)[0]!.reboots === 1 && sim.stats().connected === 1, 8_000, 'reboot');
      peer.command(id, { id: 'c4', type: 'reboot', issuedAt: now, expiresAt: now + 60_000 });
      await until(() => peer.acks.length >= 5, 5_000, 'acks');
      expect(peer.acks.map((a) => [a.ack.id, a.ack.outcome])).toEqual([
        ['c1', 'applied'],
        ['c2', 'applied'],
        ['c3', 'expired'],
        ['c4', 'applied'],
        ['c4', 'applied'],
      ]);
      await new Promise((r) => setTimeout(r, 300));
      expect(sim.deviceStats(id)[0]!.reboots).toBe(1);
      expect(sim.devices[0]!.state.bootCount).toBe(bootBefore + 1);
      expect(loadDeviceState(dir, id).bootCount).toBe(bootBefore + 1);
      await until(() => peer.results.at(-1)?.bootCount === bootBefore + 1, 5_000, 'attestation after reboot');
      // A reboot drops the connection without DISCONNECT: the broker publishes the last will, then the device is back.
      const states = peer.statuses.map((x) => `${x.status.state}:${x.status.bootCount ?? '-'}`);
      expect(states.slice(-2)).toEqual(['offline:-', `online:${bootBefore + 1}`]);
      // Hostile or broken messages from the gateway side are refused and change nothing [FP-4.1-4].
      const bad = sim.deviceStats(id)[0]!.badMessages;
      for (const t of ['attest/challenge', 'attest/result', 'cmd']) {
        peer.client.publish(`palisade/v1/d/${id}/${t}`, Buffer.from([0xa3, 0x01]), { qos: 1 });
      }
      await until(() => sim.deviceStats(id)[0]!.badMessages === bad + 3, 5_000, 'refused messages');
      expect(sim.stats().connected).toBe(1);
      expect(sim.devices[0]!.state.bootCount).toBe(bootBefore + 1);
    } finally {
      await sim.stop();
      await peer.close();
    }
  });

  it('connects over TLS with its device certificate (P-256 and Ed25519), and over WebSocket', async () => {
    const tls = await fleet({
      devices: 2,
      idPrefix: 'tls',
      families: ['stm32', 'esp32'],
      broker: broker.tlsUrl!,
      ca: pki.root.certificate.pem,
    });
    const ed = await fleet({
      devices: 1,
      idPrefix: 'tlsed',
      families: ['nrf52'],
      keyType: 'ed25519',
      broker: broker.tlsUrl!,
      ca: pki.root.certificate.pem,
    });
    const ws = await fleet({ devices: 1, idPrefix: 'ws', families: ['nrf52'], broker: broker.wsUrl });
    try {
      await tls.sim.waitFor((s) => s.attested === 2, 10_000);
      await ed.sim.waitFor((s) => s.attested === 1, 10_000);
      await ws.sim.waitFor((s) => s.attested === 1, 10_000);
    } finally {
      await Promise.all([tls.sim.stop(), ed.sim.stop(), ws.sim.stop()]);
      await Promise.all([tls.peer.close(), ed.peer.close(), ws.peer.close()]);
    }
  });

  it('over TLS, the broker refuses an expired device certificate at the handshake', async () => {
    const { sim, peer } = await fleet({
      devices: 1,
      idPrefix: 'tlsx',
      families: ['nrf52'],
      faults: 'expired-cert',
      broker: broker.tlsUrl!,
      ca: pki.root.certificate.pem,
    });
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      expect(sim.stats().connected).toBe(0);
      expect(sim.deviceStats(sim.devices[0]!.deviceId)[0]!.connects).toBe(0);
    } finally {
      await sim.stop();
      await peer.close();
    }
  });
});
