import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSign1 } from '../../src/cose/index.js';
import { importVerifyKey } from '../../src/crypto/index.js';
import type { BoardFamily } from '../../src/evidence/claims.js';
import { verifyEvidence } from '../../src/evidence/evidence.js';
import { decodeEvidenceMessage } from '../../src/messages/messages.js';
import { isIssuedBy, parseCertificate, verifyCrlSignature } from '../../src/pki/index.js';
import {
  createDeviceState,
  type DeviceState,
  evidenceFor,
  type FaultMode,
  implementationIdOf,
  initPki,
  type PkiStore,
  PSA_LIFECYCLE_SECURED,
  referenceMeasurements,
  revokeSerials,
  ueidOf,
} from '../../src/simulator/index.js';
import { type AppraisalContext, appraise } from './appraise.js';

let dir: string;
let pki: PkiStore;
const devices = new Map<BoardFamily, DeviceState>();
const nonce = (n: number) => new Uint8Array(32).fill(n);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-sim-ev-'));
  pki = await initPki(dir);
  for (const family of ['stm32', 'nrf52', 'esp32'] as const) {
    devices.set(family, await createDeviceState({ stateDir: dir, pki, deviceId: `ev-${family}`, family }));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function context(registered: DeviceState[] = [...devices.values()]): AppraisalContext {
  return {
    root: parseCertificate(pki.root.certificate.der),
    intermediate: parseCertificate(pki.intermediate.certificate.der),
    crl: pki.crl,
    registered: new Map(registered.map((d) => [d.deviceId, d.certificate.pem])),
    usedNonces: new Set(),
    seen: new Map(),
    now: new Date(),
  };
}

describe('simulated evidence verifies for every board family', () => {
  it.each(['nrf52', 'esp32'] as const)('%s sends Palisade EAT with x5chain [device, intermediate]', (family) => {
    const d = devices.get(family)!;
    const ev = evidenceFor(d, nonce(1));
    const msg = decodeEvidenceMessage(ev.payload);
    expect(msg.format).toBe('palisade-eat');
    const chain = decodeSign1(msg.token).x5chain!;
    expect(chain.map((c) => Buffer.from(c).toString('hex'))).toEqual(
      [d.certificate.der, pki.intermediate.certificate.der].map((c) => Buffer.from(c).toString('hex')),
    );
    const leaf = parseCertificate(chain[0]!);
    const inter = parseCertificate(chain[1]!);
    expect(isIssuedBy(leaf, inter)).toBe(true);
    expect(isIssuedBy(inter, parseCertificate(pki.root.certificate.pem))).toBe(true);
    const { claims } = verifyEvidence(msg.token, importVerifyKey(leaf.publicKey, 'ES256'));
    expect(claims).toMatchObject({
      profile: 'palisade-eat/1',
      deviceId: leaf.deviceId,
      boardFamily: family,
      firmwareVersion: '1.0.0',
      bootCount: d.bootCount,
    });
    expect(claims.nonce).toEqual(nonce(1));
    expect(claims.bootSeed).toEqual(d.bootSeed);
    expect(claims.ueid).toEqual(ueidOf(leaf.publicKey));
    expect(claims.measurements).toEqual(referenceMeasurements(family));
  });

  it('stm32 sends a TF-M style PSA token (psa-2) signed by its IAK', () => {
    const d = devices.get('stm32')!;
    const msg = decodeEvidenceMessage(evidenceFor(d, nonce(2)).payload);
    expect(msg.format).toBe('psa');
    const { claims, sign1 } = verifyEvidence(msg.token, importVerifyKey(d.certificate.pem, 'ES256'));
    expect(claims.profile).toBe('psa-2');
    // Instance id = 0x01 ‖ SHA-256(uncompressed public key), as TF-M derives it.
    const jwk = d.publicKey.export({ format: 'jwk' });
    const raw = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    expect(Buffer.from(claims.ueid).toString('hex')).toBe(`01${createHash('sha256').update(raw).digest('hex')}`);
    expect(sign1.kid).toEqual(claims.ueid.subarray(1));
    expect(claims.psa).toMatchObject({ lifecycle: PSA_LIFECYCLE_SECURED, clientId: -1 });
    expect(claims.psa?.implementationId).toEqual(implementationIdOf('stm32'));
    expect(claims.bootSeed).toEqual(d.bootSeed);
    expect(claims.measurements.map((m) => m.component)).toEqual(['BL', 'PRoT', 'ARoT', 'App']);
    expect(claims.measurements).toEqual(referenceMeasurements('stm32'));
  });

  it('issues Ed25519 devices whose EdDSA evidence verifies', async () => {
    const d = await createDeviceState({ stateDir: dir, pki, deviceId: 'ev-ed', family: 'esp32', keyType: 'ed25519' });
    const msg = decodeEvidenceMessage(evidenceFor(d, nonce(3)).payload);
    expect(verifyEvidence(msg.token, importVerifyKey(d.certificate.pem, 'EdDSA')).sign1.alg).toBe('EdDSA');
  });

  it('a healthy device yields no finding in the protocol-level checks', () => {
    for (const d of devices.values()) {
      expect(appraise(context(), d.deviceId, nonce(4), evidenceFor(d, nonce(4)).payload).findings).toEqual([]);
    }
  });
});

describe('every fault mode is told apart by protocol-level checks', () => {
  const evidenceFaults: [FaultMode, BoardFamily, string[]][] = [
    ['tampered-firmware', 'nrf52', ['measurement']],
    ['tampered-firmware', 'stm32', ['measurement']],
    ['wrong-key', 'esp32', ['cose.bad_signature']],
    ['wrong-key', 'stm32', ['cose.bad_signature']],
    ['wrong-nonce', 'nrf52', ['nonce_mismatch']],
    ['wrong-nonce', 'stm32', ['nonce_mismatch']],
  ];
  it.each(evidenceFaults)('%s (%s) → %j', (fault, family, expected) => {
    const d = devices.get(family)!;
    expect(appraise(context(), d.deviceId, nonce(5), evidenceFor(d, nonce(5), fault).payload).findings).toEqual(
      expected,
    );
  });

  it('rollback: the boot counter goes backwards (EAT) / an older firmware build is measured (PSA)', () => {
    const ctx = context();
    const esp = devices.get('esp32')!;
    expect(appraise(ctx, esp.deviceId, nonce(6), evidenceFor(esp, nonce(6)).payload).findings).toEqual([]);
    const r = appraise(ctx, esp.deviceId, nonce(7), evidenceFor(esp, nonce(7), 'rollback').payload);
    expect(r.findings).toEqual(['bootcount_rollback']);
    expect(r.claims?.bootCount).toBe(esp.bootCount - 1);
    const stm = devices.get('stm32')!;
    const p = appraise(ctx, stm.deviceId, nonce(8), evidenceFor(stm, nonce(8), 'rollback').payload);
    expect(p.findings).toEqual(['measurement']);
  });

  it('replay: the first token is offered again for a new challenge', () => {
    const d = devices.get('nrf52')!;
    // A fresh device object, so that its first token is the one below.
    const replayer: DeviceState = { ...d };
    const ctx = context();
    expect(appraise(ctx, d.deviceId, nonce(9), evidenceFor(replayer, nonce(9), 'replay').payload).findings).toEqual([]);
    const second = evidenceFor(replayer, nonce(10), 'replay');
    expect(second.message?.nonce).toEqual(nonce(10));
    expect(appraise(ctx, d.deviceId, nonce(10), second.payload).findings).toEqual(['nonce_mismatch', 'nonce_reused']);
  });

  it('clone: same identity and count, a different boot seed', () => {
    const ctx = context();
    const d = devices.get('esp32')!;
    expect(appraise(ctx, d.deviceId, nonce(11), evidenceFor(d, nonce(11)).payload).findings).toEqual([]);
    const r = appraise(ctx, d.deviceId, nonce(12), evidenceFor(d, nonce(12), 'clone').payload);
    expect(r.findings).toEqual(['bootseed_changed']);
  });

  it('malformed: every payload is refused by the evidence-message decoder with a reason code', () => {
    const d = devices.get('nrf52')!;
    const codes = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const ev = evidenceFor(d, nonce(13), 'malformed');
      expect(ev.message).toBeUndefined();
      const [code] = appraise(context(), d.deviceId, nonce(13), ev.payload).findings;
      expect(code).toMatch(/^(cbor|message)\./);
      codes.add(code!);
    }
    expect(codes.size).toBeGreaterThan(1);
  });

  it('expired-cert: the device certificate is outside its validity window', async () => {
    const d = await createDeviceState({ stateDir: dir, pki, deviceId: 'ev-old', family: 'nrf52', expired: true });
    const ctx = context([d]);
    expect(appraise(ctx, d.deviceId, nonce(14), evidenceFor(d, nonce(14)).payload).findings).toEqual(['cert_expired']);
  });

  it('revoked-cert: the serial is on the intermediate CRL, whose signature checks', async () => {
    const d = await createDeviceState({ stateDir: dir, pki, deviceId: 'ev-stolen', family: 'stm32' });
    const before = pki.crl.crlNumber!;
    const crl = await revokeSerials(pki, [d.certificate.serial]);
    expect(crl.crlNumber).toBe(before + 1);
    expect(await verifyCrlSignature(crl, parseCertificate(pki.intermediate.certificate.pem))).toBe(true);
    const ctx = context([d]);
    expect(appraise(ctx, d.deviceId, nonce(15), evidenceFor(d, nonce(15)).payload).findings).toEqual(['cert_revoked']);
  });
});
