/**
 * Gateway end to end, the slower cases: certificates refused at the TLS handshake, a device that never answers,
 * and evidence replayed after a gateway restart (a nonce is never accepted twice, before or after a restart).
 */
import { type AddressInfo, createServer } from 'node:net';
import { decodeResult, topics } from '@palisade/firmware-protocol';
import { startSimulator } from '@palisade/firmware-protocol/simulator';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { gateway, running, simDir, simIds, simulate, tempDir } from './gateway-world.js';

/** A loopback port nobody listens on (picked by the OS, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const until = async (what: string, f: () => boolean, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('gateway lifecycle end to end', () => {
  it('refuses expired and revoked device certificates at the handshake and alerts on repeated failures', async () => {
    const faults = ['expired-cert', 'revoked-cert'];
    const ids = simIds([...faults, undefined]);
    // Provision once so that the CRL already lists the revoked device when the gateway reads it at start.
    const closed = await closedPort();
    const provision = await startSimulator({
      broker: `mqtt://127.0.0.1:${closed}`,
      devices: 3,
      stateDir: simDir,
      faults: 'expired-cert,revoked-cert',
      telemetryRateHz: 0,
      reconnectPeriodMs: 60_000,
    });
    await provision.stop();
    const gw = await gateway(tempDir('gw'), ids, 5_000, { detection: { authFailureThreshold: 2 } });
    const sim = await simulate(gw, { devices: 3, faults: Object.fromEntries(faults.map((f) => [f, 1])) });
    await sim.waitFor((s) => s.attested >= 1, 15_000);
    await until('auth failure alert', () => gw.alerts.list({ type: 'auth_failures' }).length > 0);
    expect(gw.registry.get(ids[0] as string)).toBeUndefined();
    expect(gw.registry.get(ids[1] as string)).toBeUndefined();
    const alert = gw.alerts.list({ type: 'auth_failures' })[0];
    expect(JSON.parse(alert?.details ?? '{}')).toMatchObject({ address: '127.0.0.1', failures: 2 });
    const metrics = await (await fetch(`http://127.0.0.1:${gw.ports.http}/metrics`)).text();
    expect(metrics).toMatch(/palisade_broker_auth_failures_total\{reason="pki.expired"\} 1/);
    expect(metrics).toMatch(/palisade_broker_auth_failures_total\{reason="pki.revoked"\} 1/);
  });

  it('records a device that never answers as unresponsive (none, appraisal.no_evidence) and quarantines it', async () => {
    const ids = simIds(['silent', undefined]);
    // One retry: challenge, 1 s TTL, 1 s back-off, re-challenge, 1 s TTL, then unresponsive.
    const gw = await gateway(tempDir('gw'), ids, 1_000, {
      attestation: { challengeTtlMs: 1_000, challengeRetries: 1 },
    });
    await simulate(gw, { devices: 2, faults: { silent: 1 } });
    const silent = ids[0] as string;
    await until('unresponsive', () => gw.registry.get(silent)?.lastStatus === 'none', 12_000);
    expect(gw.registry.require(silent)).toMatchObject({ quarantined: true, quarantineReason: 'appraisal.no_evidence' });
    expect(gw.alerts.list({ deviceId: silent, type: 'attestation_failed' })).toHaveLength(1);
  });

  it('never accepts a nonce twice, also after a restart: replayed evidence gets the stored result, no new appraisal', async () => {
    const ids = simIds([undefined]);
    const dataDir = tempDir('gw');
    const gw = await gateway(dataDir, ids);
    let evidence: Uint8Array | undefined;
    const sim = await simulate(gw, {
      devices: 1,
      onEvent: (e) => {
        if (e.type === 'evidence') evidence ??= e.payload;
      },
    });
    await sim.waitFor((s) => s.attested === 1, 15_000);
    const device = sim.devices[0];
    if (device === undefined || evidence === undefined) throw new Error('no evidence captured');
    await sim.stop();
    await gw.stop();
    running.splice(0);

    const again = await gateway(dataDir, ids);
    const id = device.deviceId;
    const before = again.registry.history(id);
    expect(before).toHaveLength(1);
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${again.ports.mqtts}`, {
      clientId: id,
      key: device.state.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      cert: device.state.chainPem,
      ca: again.identity.caCertPem,
      reconnectPeriod: 0,
    });
    running.push({ stop: () => client.endAsync() });
    const results: ReturnType<typeof decodeResult>[] = [];
    client.on('message', (_t, payload) => results.push(decodeResult(new Uint8Array(payload))));
    await client.subscribeAsync(topics.result(id), { qos: 1 });
    await client.publishAsync(topics.evidence(id), Buffer.from(evidence), { qos: 1 });
    await until('answer', () => results.length > 0);
    // [FP-7.2-2] A duplicate is answered with the stored result and not appraised again: the nonce, spent before
    // the restart, is not accepted a second time.
    expect(results[0]?.ear).toBe(before[0]?.jwt);
    expect(again.registry.history(id)).toHaveLength(1);
    expect(again.registry.require(id)).toMatchObject({ lastStatus: 'affirming', quarantined: false });
  });
});
