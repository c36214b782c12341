/**
 * Red team, attestation: a hostile device with a genuine manufacturer identity tries to get evidence affirmed that
 * must not be — another device's token or identity claims, a forged certificate path, key/algorithm confusion, COSE
 * header tricks, duplicate claims, a deny-listed test key, an expired or revoked certificate.
 * Every attack runs over the gateway's real mTLS listener; each test asserts the refusal, the reason code, that
 * nothing was stored in the victim's name and that the gateway still serves an honest device afterwards.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CertifiedKey,
  COSE_HEADER,
  COSE_SIGN1_TAG,
  createIntermediateCa,
  createRootCa,
  encodeCbor,
  generateKeyPair,
  generateSigner,
  issueDeviceCertificate,
  privateKeyFromPem,
  signerFromPrivateKey,
  signSign1,
  Tag,
} from '@palisade/firmware-protocol';
import { type DeviceState, loadPki, revokeSerials } from '@palisade/firmware-protocol/simulator';
import { describe, expect, it } from 'vitest';
import { Attacker, connectOutcome, identityOf, provision, sleep, until } from '../src/redteam/attacker.js';
import {
  gatewayOnClock,
  ids,
  payloadOf,
  pem,
  stillServes,
  verdict,
  withIdentity,
  world,
} from '../src/redteam/world.js';
import { gateway, simDir, tempDir } from './gateway-world.js';

const TFM_IAK_PEM = join(import.meta.dirname, '../../../shared/vectors/psa/tfm-es-iak.pem');

describe('red team: attestation', () => {
  it('affirms an honest hand-driven device of each profile (baseline for the attacks)', async () => {
    const { gw, states } = await world(ids('nrf52', 'stm32'));
    for (const s of states) await stillServes(gw, s);
    for (const s of states) expect(gw.registry.require(s.deviceId).lastStatus).toBe('affirming');
  });

  it("refuses device A's genuine evidence (its key, its x5chain) presented by device B", async () => {
    const { gw, states } = await world(ids('nrf52', 'esp32', 'esp32'));
    const [victim, thief, honest] = states as [DeviceState, DeviceState, DeviceState];
    const v = await Attacker.connect(gw, victim);
    await v.attest();
    const b = await Attacker.connect(gw, thief);
    const c = await b.challenge();
    // The thief signs with the victim's key material (as if extracted) and sends the victim's certificate path.
    const victimSigner = signerFromPrivateKey(victim.privateKey);
    await b.sendEvidence(c.nonce, b.token(c.nonce, { signer: victimSigner, x5chain: victim.chain }));
    expect(verdict(await b.result(c.nonce))).toEqual({
      status: 'contraindicated',
      reason: 'appraisal.identity_mismatch',
    });
    expect(gw.registry.require(thief.deviceId).quarantined).toBe(true);
    expect(gw.registry.require(victim.deviceId)).toMatchObject({ lastStatus: 'affirming', quarantined: false });
    await stillServes(gw, honest);
  });

  it('refuses a forged path: look-alike root and intermediate (same names) issuing a certificate for the victim', async () => {
    const { gw, states } = await world(ids('nrf52', 'esp32'));
    const [victim, honest] = states as [DeviceState, DeviceState];
    const real = loadPki(simDir);
    const fakeRoot = await createRootCa(); // default names equal the simulator's real ones
    const fakeInt = await createIntermediateCa(fakeRoot);
    expect(fakeRoot.certificate.subject).toBe(real.root.certificate.subject);
    const keys = generateKeyPair('p256');
    const leaf = await issueDeviceCertificate(fakeInt, { deviceId: victim.deviceId, publicKey: keys.publicKey });
    const chain = [leaf.der, fakeInt.certificate.der, fakeRoot.certificate.der];
    const forged = withIdentity(victim, keys, chain, chain.map(pem).join(''));
    // At TLS: refused.
    expect(await connectOutcome(gw, identityOf(forged), { clientId: victim.deviceId })).toBe(5);
    // In evidence, over the attacker's genuine connection: refused as an untrusted or forged path.
    const a = await Attacker.connect(gw, honest);
    const c = await a.challenge();
    const signer = signerFromPrivateKey(keys.privateKey);
    await a.sendEvidence(c.nonce, a.token(c.nonce, { signer, x5chain: chain }));
    const r = await a.result(c.nonce);
    expect(r.status).toBe('contraindicated');
    expect(r.reasons[0]).toMatch(/^appraisal\.cert_(untrusted|invalid)$|^appraisal\.identity_mismatch$/);
    expect(gw.registry.get(victim.deviceId)?.lastStatus ?? null).toBeNull();
  });

  it('accepts a genuine chain with an extra self-signed "root" appended, but never trusts that root', async () => {
    const { gw, states } = await world(ids('esp32'));
    const s = states[0] as DeviceState;
    const extra = await createRootCa({ commonName: 'Attacker Root' });
    const a = await Attacker.connect(gw, s);
    let c = await a.challenge();
    await a.sendEvidence(c.nonce, a.token(c.nonce, { x5chain: [...s.chain, extra.certificate.der] }));
    // Surplus certificates are ignored by path building (RFC 5280 §6): the path still ends at the configured root.
    expect((await a.result(c.nonce)).status).toBe('affirming');
    // A leaf the attacker issued under its own root, with that root appended, is not trusted.
    const keys = generateKeyPair('p256');
    const leaf = await issueDeviceCertificate(extra, { deviceId: s.deviceId, publicKey: keys.publicKey });
    gw.requestAttestation(s.deviceId);
    c = await a.challenge();
    await a.sendEvidence(
      c.nonce,
      a.token(c.nonce, { signer: signerFromPrivateKey(keys.privateKey), x5chain: [leaf.der, extra.certificate.der] }),
    );
    expect(verdict(await a.result(c.nonce))).toEqual({ status: 'contraindicated', reason: 'appraisal.cert_untrusted' });
  });

  it('refuses a certificate that a device key issued (a device certificate is not a CA)', async () => {
    const { gw, states } = await world(ids('nrf52', 'esp32'));
    const [issuerDevice, victim] = states as [DeviceState, DeviceState];
    const asCa: CertifiedKey = {
      type: 'p256',
      privateKey: issuerDevice.privateKey,
      publicKey: issuerDevice.publicKey,
      certificate: issuerDevice.certificate,
    } as CertifiedKey;
    const keys = generateKeyPair('p256');
    const leaf = await issueDeviceCertificate(asCa, { deviceId: victim.deviceId, publicKey: keys.publicKey });
    const chain = [leaf.der, ...issuerDevice.chain];
    const forged = withIdentity(victim, keys, chain, chain.map(pem).join(''));
    expect(await connectOutcome(gw, identityOf(forged), { clientId: victim.deviceId })).toBe(5);
    const a = await Attacker.connect(gw, issuerDevice);
    const c = await a.challenge();
    await a.sendEvidence(c.nonce, a.token(c.nonce, { signer: signerFromPrivateKey(keys.privateKey), x5chain: chain }));
    const r = await a.result(c.nonce);
    expect(r.status).toBe('contraindicated');
    expect(r.reasons[0]).toMatch(/^appraisal\.cert_(invalid|untrusted)$/);
  });

  it('refuses key/algorithm confusion in both directions (EdDSA under P-256, ES256 under Ed25519)', async () => {
    const [p256, ed] = ids('nrf52', 'esp32');
    const gw = await gateway(tempDir('rt-gw'), [p256?.id as string, ed?.id as string]);
    const dir = tempDir('rt-dev');
    const devices = [
      [await provision(dir, simDir, p256?.id as string, 'nrf52'), 'EdDSA'],
      [await provision(dir, simDir, ed?.id as string, 'esp32', { keyType: 'ed25519' }), 'ES256'],
    ] as const;
    for (const [state, wrongAlg] of devices) {
      const a = await Attacker.connect(gw, state);
      // The device's own algorithm is fine (Ed25519 is supported [PROTOCOL.md §5.1])...
      expect((await a.attest()).status).toBe('affirming');
      // ...a token in the other algorithm under its certificate is not.
      gw.requestAttestation(a.id);
      const c = await a.challenge();
      await a.sendEvidence(c.nonce, a.token(c.nonce, { signer: generateSigner(wrongAlg) }));
      expect(verdict(await a.result(c.nonce))).toEqual({
        status: 'contraindicated',
        reason: 'appraisal.bad_signature',
      });
    }
  });

  it('refuses COSE header tricks: alg only unprotected, an unknown crit label, a non-Sign1 tag', async () => {
    const { gw, states } = await world(ids('esp32'));
    const s = states[0] as DeviceState;
    const a = await Attacker.connect(gw, s);
    const tricks: ((nonce: Uint8Array) => Uint8Array)[] = [
      (nonce) => {
        // Genuine token re-wrapped: empty protected header, alg moved to the unprotected one (signature over h'').
        const payload = payloadOf(a.token(nonce));
        const tbs = encodeCbor(['Signature1', new Uint8Array(0), new Uint8Array(0), payload]);
        const sig = a.signer.sign(tbs);
        const unprotected = new Map<number, unknown>([
          [COSE_HEADER.alg, -7],
          [COSE_HEADER.x5chain, s.chain],
        ]);
        return encodeCbor(new Tag([new Uint8Array(0), unprotected, payload, sig], COSE_SIGN1_TAG));
      },
      (nonce) =>
        signSign1({
          payload: payloadOf(a.token(nonce)),
          signer: a.signer,
          protectedHeader: new Map<number, unknown>([
            [COSE_HEADER.crit, [99]],
            [99, 1],
          ]),
          unprotectedHeader: new Map<number, unknown>([[COSE_HEADER.x5chain, s.chain]]),
        }),
      (nonce) => {
        const t = a.token(nonce);
        const copy = new Uint8Array(t);
        copy[0] = 0xd1; // tag 17 (COSE_Mac0)
        return copy;
      },
    ];
    for (const trick of tricks) {
      gw.requestAttestation(s.deviceId);
      const c = await a.challenge();
      await a.sendEvidence(c.nonce, trick(c.nonce));
      await until('a result', () => gw.registry.history(s.deviceId).length > 0 || a.results.length > 0);
      await sleep(100);
    }
    const history = gw.registry.history(s.deviceId);
    expect(history.length).toBeGreaterThanOrEqual(3);
    for (const h of history) expect(h.status).toBe('contraindicated');
    expect(history.every((h) => h.reasons.includes('appraisal.malformed_evidence'))).toBe(true);
  });

  it('refuses evidence whose claims map repeats a key (signed correctly)', async () => {
    const { gw, states } = await world(ids('nrf52'));
    const s = states[0] as DeviceState;
    const a = await Attacker.connect(gw, s);
    const c = await a.challenge();
    const payload = payloadOf(a.token(c.nonce));
    // Bump the map's pair count by one and append a second nonce claim (EAT key 10) with other bytes.
    const head = payload[0] as number;
    expect(head & 0xe0).toBe(0xa0);
    const dup = encodeCbor(new Map<number, unknown>([[10, new Uint8Array(32).fill(1)]])).subarray(1);
    const bent = new Uint8Array([head + 1, ...payload.subarray(1), ...dup]);
    const token = signSign1({
      payload: bent,
      signer: a.signer,
      unprotectedHeader: new Map<number, unknown>([[COSE_HEADER.x5chain, s.chain]]),
    });
    await a.sendEvidence(c.nonce, token);
    const r = await a.result(c.nonce).catch(() => undefined);
    const last = gw.registry.history(s.deviceId)[0];
    expect(r?.status ?? last?.status).toBe('contraindicated');
    expect(r?.reasons ?? last?.reasons).toContain('appraisal.malformed_evidence');
  });

  it('refuses a PSA device whose certified key is the public TF-M test IAK', async () => {
    const { gw, states } = await world(ids('stm32'));
    const s = states[0] as DeviceState;
    const keys = privateKeyFromPem(readFileSync(TFM_IAK_PEM, 'utf8'));
    const pki = loadPki(simDir);
    const cert = await issueDeviceCertificate(pki.intermediate, { deviceId: s.deviceId, publicKey: keys.publicKey });
    const chain = [cert.der, pki.intermediate.certificate.der];
    const dev = withIdentity(s, keys, chain, cert.pem + pki.intermediate.certificate.pem);
    const a = await Attacker.connect(gw, dev);
    const c = await a.challenge();
    await a.sendEvidence(c.nonce, a.token(c.nonce));
    expect(verdict(await a.result(c.nonce))).toEqual({ status: 'contraindicated', reason: 'appraisal.test_key' });
    expect(gw.registry.require(s.deviceId).quarantined).toBe(true);
  });

  it('refuses identity claims that differ from the certificate or the pinned ueid: device id, ueid, PSA instance id', async () => {
    const { gw, states } = await world(ids('nrf52', 'stm32', 'esp32'));
    const [eat, psa, victim] = states as [DeviceState, DeviceState, DeviceState];
    const bends = [
      [eat, { deviceId: victim.deviceId }],
      [eat, { ueid: victim.ueid }],
      [psa, { ueid: victim.ueid }],
    ] as const;
    for (const [state, bend] of bends) {
      const a = await Attacker.connect(gw, state);
      // A Palisade EAT ueid may be random or an EUI [FP-5.2-2], so it is pinned at the first accepted evidence
      // rather than derived from the key: attest honestly first, then try the victim's.
      expect((await a.attest()).status).toBe('affirming');
      gw.requestAttestation(a.id);
      const c = await a.challenge();
      await a.sendEvidence(c.nonce, a.token(c.nonce, bend));
      expect(verdict(await a.result(c.nonce))).toEqual({
        status: 'contraindicated',
        reason: 'appraisal.identity_mismatch',
      });
      await a.end();
      await until('disconnect', () => !a.client.connected);
      await sleep(50);
    }
    expect(gw.registry.get(victim.deviceId)).toBeUndefined();
  });

  it('accepts a device certificate issued directly by the manufacturer root (RFC 5280: no intermediate required)', async () => {
    // PROTOCOL.md requires a path to a configured manufacturer root, not a particular depth; the simulator root
    // (pathLen 1) may issue end entities itself, so such a device is genuine.
    const { gw, states } = await world(ids('esp32'));
    const s = states[0] as DeviceState;
    const pki = loadPki(simDir);
    const cert = await issueDeviceCertificate(pki.root, { deviceId: s.deviceId, publicKey: s.publicKey });
    const dev: DeviceState = { ...s, certificate: cert, chain: [cert.der], chainPem: cert.pem };
    const a = await Attacker.connect(gw, dev);
    expect((await a.attest()).status).toBe('affirming');
  });

  it('refuses an expired device certificate at the TLS handshake', async () => {
    const devs = ids('esp32');
    const gw = await gateway(
      tempDir('rt-gw'),
      devs.map((d) => d.id),
    );
    const s = await provision(tempDir('rt-dev'), simDir, devs[0]?.id as string, 'esp32', { expired: true });
    expect(await connectOutcome(gw, identityOf(s), { clientId: s.deviceId })).toBe(5);
    expect(gw.registry.get(s.deviceId)).toBeUndefined();
  });

  it('stops affirming a PSA device whose TLS certificate expired while it stayed connected', async () => {
    let offset = 0;
    const clock = { now: () => Date.now() + offset };
    const [d] = ids('stm32');
    const { id } = d as { id: string };
    const gw = await gatewayOnClock([id], clock);
    const base = await provision(tempDir('rt-dev'), simDir, id, 'stm32');
    const pki = loadPki(simDir);
    const cert = await issueDeviceCertificate(pki.intermediate, {
      deviceId: id,
      publicKey: base.publicKey,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 120_000),
    });
    const dev: DeviceState = {
      ...base,
      certificate: cert,
      chain: [cert.der, pki.intermediate.certificate.der],
      chainPem: cert.pem + pki.intermediate.certificate.pem,
    };
    const a = await Attacker.connect(gw, dev);
    expect((await a.attest()).status).toBe('affirming');
    offset = 10 * 60_000; // the certificate is now 8 minutes past notAfter
    gw.requestAttestation(id);
    const c = await a.challenge();
    await a.sendEvidence(c.nonce, a.token(c.nonce));
    const r = await a.result(c.nonce).catch(() => undefined);
    // Refused either way: the session closed, or the appraisal names the expired certificate.
    expect(r === undefined ? 'no result' : verdict(r)).toEqual({
      status: 'contraindicated',
      reason: 'appraisal.cert_expired',
    });
  });

  it('stops trusting a certificate revoked while its device is connected (session, reconnect, evidence)', async () => {
    const { gw, states } = await world(ids('esp32', 'stm32', 'nrf52'));
    const [eat, psa, honest] = states as [DeviceState, DeviceState, DeviceState];
    const attackers = [await Attacker.connect(gw, eat), await Attacker.connect(gw, psa)];
    for (const a of attackers) expect((await a.attest()).status).toBe('affirming');
    await revokeSerials(loadPki(simDir), [eat.certificate.serial, psa.certificate.serial]);
    gw.reloadTrust();
    // The open sessions go: a PSA token has no x5chain, its key is the TLS certificate's [FP-5.3-1], so only the
    // broker can stop a revoked PSA device from attesting (and publishing) on its old session.
    await until('revoked devices disconnected', () => attackers.every((a) => !a.client.connected), 3_000);
    for (const s of [eat, psa]) {
      expect(await connectOutcome(gw, identityOf(s), { clientId: s.deviceId })).toBe(5);
    }
    // A revoked certificate carried in evidence (over another device's connection) is refused by the appraisal.
    const h = await Attacker.connect(gw, honest);
    const c = await h.challenge();
    await h.sendEvidence(
      c.nonce,
      h.token(c.nonce, { signer: signerFromPrivateKey(eat.privateKey), x5chain: eat.chain }),
    );
    expect(verdict(await h.result(c.nonce))).toEqual({ status: 'contraindicated', reason: 'appraisal.cert_revoked' });
  });
});
