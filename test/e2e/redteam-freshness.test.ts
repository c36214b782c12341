/**
 * Red team, freshness and flow: a hostile device with a genuine identity tries to replay, race, answer late or with
 * another device's nonce, roll its boot counter or firmware back, skip the connect challenge, or crowd honest
 * devices out of the appraisal queue. Real mTLS sockets against an in-process gateway.
 */
import {
  createIntermediateCa,
  createRootCa,
  encodeTelemetry,
  generateKeyPair,
  issueDeviceCertificate,
  signerFromPrivateKey,
  topics,
} from '@palisade/firmware-protocol';
import { type DeviceState, ROLLBACK_FIRMWARE_VERSION } from '@palisade/firmware-protocol/simulator';
import { countTelemetryRows } from '@palisade/gateway';
import { describe, expect, it } from 'vitest';
import { Attacker, sleep, until } from '../src/redteam/attacker.js';
import { ids, verdict, world } from '../src/redteam/world.js';

describe('red team: freshness and flow', () => {
  it("refuses a nonce from another device's challenge, and leaves it usable by its owner", async () => {
    const { gw, states } = await world(ids('nrf52', 'esp32'));
    const [owner, thief] = states as [DeviceState, DeviceState];
    const o = await Attacker.connect(gw, owner);
    const t = await Attacker.connect(gw, thief);
    const ownerChallenge = await o.challenge();
    const own = await t.challenge();
    // The thief answers the owner's nonce (it learnt it on the wire) with its own genuine evidence.
    await t.sendEvidence(ownerChallenge.nonce, t.token(ownerChallenge.nonce));
    expect(verdict(await t.result(ownerChallenge.nonce))).toEqual({
      status: 'contraindicated',
      reason: 'appraisal.nonce_mismatch',
    });
    // The owner's nonce was not spent by the thief's attempt.
    await o.sendEvidence(ownerChallenge.nonce, o.token(ownerChallenge.nonce));
    expect(verdict(await o.result(ownerChallenge.nonce))).toEqual({ status: 'affirming', reason: undefined });
    void own;
  });

  it('refuses evidence sent after the nonce TTL, without changing the last result', async () => {
    const { gw, states } = await world(ids('esp32', 'stm32'), 1_000);
    for (const s of states) {
      const a = await Attacker.connect(gw, s);
      await a.attest();
      expect(gw.requestAttestation(s.deviceId)).toBe(true);
      const c = await a.challenge();
      await sleep(1_300);
      await a.sendEvidence(c.nonce, a.token(c.nonce));
      expect(verdict(await a.result(c.nonce))).toEqual({
        status: 'contraindicated',
        reason: 'appraisal.nonce_expired',
      });
      // [FP-7.2-3] a refused (late) answer does not overwrite the device's standing.
      expect(gw.registry.require(s.deviceId)).toMatchObject({ lastStatus: 'affirming' });
      await a.end();
    }
  });

  it('accepts only one of two different evidence messages racing for one nonce', async () => {
    const { gw, states } = await world(ids('nrf52', 'stm32'));
    for (const s of states) {
      const a = await Attacker.connect(gw, s);
      const c = await a.challenge();
      // Two distinct tokens (ECDSA signatures are randomised) for the same nonce, published back to back.
      await Promise.all([a.sendEvidence(c.nonce, a.token(c.nonce)), a.sendEvidence(c.nonce, a.token(c.nonce))]);
      await until('two results', () => a.results.length >= 2);
      const statuses = a.results.map((r) => `${r.status}:${r.reasons[0] ?? ''}`).sort();
      expect(statuses).toEqual(['affirming:', 'contraindicated:appraisal.nonce_reused']);
      await a.end();
    }
  });

  it('answers the same evidence message sent twice with the stored result, appraised once', async () => {
    const { gw, states } = await world(ids('esp32'));
    const a = await Attacker.connect(gw, states[0] as DeviceState);
    const c = await a.challenge();
    const token = a.token(c.nonce);
    await a.sendEvidence(c.nonce, token);
    await a.sendEvidence(c.nonce, token);
    await until('two results', () => a.results.length >= 2);
    expect(a.results.map((r) => r.status)).toEqual(['affirming', 'affirming']);
    expect(a.results[0]?.ear).toBe(a.results[1]?.ear);
    expect(gw.registry.history(a.id)).toHaveLength(1);
  });

  it('refuses a boot counter that goes backwards (Palisade EAT) and keeps the high-water mark', async () => {
    const { gw, states } = await world(ids('nrf52'));
    const s = states[0] as DeviceState;
    const a = await Attacker.connect(gw, s);
    let c = await a.challenge();
    await a.sendEvidence(c.nonce, a.token(c.nonce, { bootCount: 7 }));
    expect((await a.result(c.nonce)).status).toBe('affirming');
    gw.requestAttestation(s.deviceId);
    c = await a.challenge();
    await a.sendEvidence(c.nonce, a.token(c.nonce, { bootCount: 6 }));
    expect(verdict(await a.result(c.nonce))).toEqual({ status: 'contraindicated', reason: 'appraisal.rollback' });
    expect(gw.alerts.list({ deviceId: s.deviceId, type: 'boot_rollback' })).toHaveLength(1);
    // The rollback did not lower the mark: 6 is still a rollback after it.
    gw.requestAttestation(s.deviceId);
    c = await a.challenge();
    await a.sendEvidence(c.nonce, a.token(c.nonce, { bootCount: 6, bootSeed: new Uint8Array(32).fill(9) }));
    expect((await a.result(c.nonce)).reasons).toContain('appraisal.rollback');
  });

  it('refuses a PSA token measuring an older release (rollback without a boot counter)', async () => {
    const { gw, states } = await world(ids('stm32'));
    const a = await Attacker.connect(gw, states[0] as DeviceState);
    expect((await a.attest()).status).toBe('affirming');
    gw.requestAttestation(a.id);
    const c = await a.challenge();
    await a.sendEvidence(c.nonce, a.token(c.nonce, { version: ROLLBACK_FIRMWARE_VERSION }));
    const r = await a.result(c.nonce);
    expect(r.status).toBe('contraindicated');
    expect(r.reasons).toContain('appraisal.rollback');
  });

  it('stores nothing from an allow-listed device that connects but never attests', async () => {
    const { gw, states } = await world(ids('esp32'));
    const s = states[0] as DeviceState;
    const a = await Attacker.connect(gw, s, { online: false });
    a.client.publish(
      topics.telemetry(s.deviceId),
      Buffer.from(encodeTelemetry({ seq: 1, ts: Date.now(), values: { t: 1 } })),
    );
    await sleep(500);
    expect(countTelemetryRows(gw.store).raw).toBe(0);
  });

  it('challenges a reconnecting device that subscribes but never announces itself [FP-7.1-1]', async () => {
    const { gw, states } = await world(ids('nrf52'));
    const s = states[0] as DeviceState;
    const first = await Attacker.connect(gw, s);
    expect((await first.attest()).status).toBe('affirming');
    await first.end();
    await sleep(200);
    // Reflashed and back: it subscribes to its challenge topic but keeps quiet, hoping to live on the old result.
    const again = await Attacker.connect(gw, s, { online: false });
    const c = await again.challenge(6_000);
    expect(c.reason).toBe('connect');
  }, 15_000);

  it('keeps appraising an honest device while three others flood evidence with costly forged chains', async () => {
    const { gw, states } = await world(ids('nrf52', 'esp32', 'nrf52', 'esp32'));
    const [honest, ...flooders] = states as [DeviceState, ...DeviceState[]];
    // One forged path, reused: a path that fails validation is never cached, so each copy costs a full validation.
    const fakeRoot = await createRootCa();
    const fakeInt = await createIntermediateCa(fakeRoot);
    const keys = generateKeyPair('p256');
    const attackers = await Promise.all(flooders.map((f) => Attacker.connect(gw, f, { online: false })));
    const h = await Attacker.connect(gw, honest);
    const c = await h.challenge();
    const floods = attackers.map(async (a) => {
      const leaf = await issueDeviceCertificate(fakeInt, { deviceId: a.id, publicKey: keys.publicKey });
      const signer = signerFromPrivateKey(keys.privateKey);
      const chain = [leaf.der, fakeInt.certificate.der, fakeRoot.certificate.der];
      const n = new Uint8Array(32).fill(7);
      const token = a.token(n, { signer, x5chain: chain });
      for (let i = 0; i < 100; i++) void a.sendEvidence(n, token).catch(() => undefined);
    });
    await Promise.all(floods);
    await h.sendEvidence(c.nonce, h.token(c.nonce));
    expect((await h.result(c.nonce, 8_000)).status).toBe('affirming');
  });
});
