import { describe, expect, it } from 'vitest';
import { palisadeClaims, psaClaims } from '../../scripts/vector-cases.js';
import { decodeCbor, encodeCbor } from '../../src/cbor/index.js';
import { signSign1 } from '../../src/cose/index.js';
import { generateSigner, importVerifyKey } from '../../src/crypto/index.js';
import {
  createPalisadeEvidence,
  createPsaEvidence,
  decodeEvidence,
  EAT_CLAIM,
  encodePalisadeClaims,
  encodePsaClaims,
  MAX_EVIDENCE_BYTES,
  PALISADE_CLAIM,
  PSA1_CLAIM,
  PSA2_PROFILE_ID,
  verifyEvidence,
} from '../../src/evidence/index.js';

const es = generateSigner('ES256');
const ed = generateSigner('EdDSA');
const esKey = importVerifyKey(es.publicKey, 'ES256');

function signed(map: Map<number, unknown>): Uint8Array {
  return signSign1({ payload: encodeCbor(map), signer: es, tagged: true });
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect((e as Error).name).toBe('ProtocolError');
    return (e as { code: string }).code;
  }
  throw new Error('expected a ProtocolError');
}

describe('Palisade EAT evidence [FP-5.2-1]', () => {
  it('round-trips every claim through sign, verify and decode (ES256 and EdDSA)', () => {
    for (const signer of [es, ed]) {
      const token = createPalisadeEvidence({ ...palisadeClaims(), issuedAt: 1_767_225_600 }, signer);
      const { claims, sign1 } = verifyEvidence(token, importVerifyKey(signer.publicKey, signer.alg));
      expect(sign1.alg).toBe(signer.alg);
      expect(claims).toEqual({ profile: 'palisade-eat/1', ...palisadeClaims(), issuedAt: 1_767_225_600 });
    }
  });

  it('carries kid and x5chain in the unprotected header', () => {
    const cert = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
    const token = createPalisadeEvidence(palisadeClaims(), es, { kid: new Uint8Array([1, 2]), x5chain: [cert] });
    const { sign1 } = decodeEvidence(token);
    expect(sign1.kid).toEqual(new Uint8Array([1, 2]));
    expect(sign1.x5chain).toEqual([cert]);
  });

  it('uses the RFC 9711 claim keys and the private-use keys of PROTOCOL.md', () => {
    const map = decodeCbor(decodeEvidence(createPalisadeEvidence(palisadeClaims(), es)).sign1.payload) as Map<
      number,
      unknown
    >;
    expect([...map.keys()].sort((a, b) => a - b)).toEqual([-80002, -80001, -80000, 10, 256, 265, 267, 268, 273]);
  });

  it.each([
    ['eat_nonce', EAT_CLAIM.nonce],
    ['ueid', EAT_CLAIM.ueid],
    ['bootcount', EAT_CLAIM.bootcount],
    ['bootseed', EAT_CLAIM.bootseed],
    ['measurements', EAT_CLAIM.measurements],
    ['device id', PALISADE_CLAIM.deviceId],
    ['board family', PALISADE_CLAIM.boardFamily],
    ['firmware version', PALISADE_CLAIM.firmwareVersion],
  ])('a token without %s is evidence.missing_claim', (_n, key) => {
    const map = encodePalisadeClaims(palisadeClaims());
    map.delete(key);
    expect(code(() => verifyEvidence(signed(map), esKey))).toBe('evidence.missing_claim');
  });

  it.each([
    ['nonce of 31 bytes', EAT_CLAIM.nonce, new Uint8Array(31)],
    ['nonce of 65 bytes', EAT_CLAIM.nonce, new Uint8Array(65)],
    ['nonce as text', EAT_CLAIM.nonce, 'a'.repeat(32)],
    ['ueid RAND with 20 bytes', EAT_CLAIM.ueid, new Uint8Array([1, ...new Uint8Array(20)])],
    ['ueid of 6 bytes', EAT_CLAIM.ueid, new Uint8Array(6)],
    ['bootcount negative', EAT_CLAIM.bootcount, -1],
    ['bootcount above 2^32-1', EAT_CLAIM.bootcount, 2 ** 32],
    ['bootcount fractional', EAT_CLAIM.bootcount, 1.5],
    ['bootseed of 4 bytes', EAT_CLAIM.bootseed, new Uint8Array(4)],
    ['measurements empty', EAT_CLAIM.measurements, []],
    ['measurements not an array', EAT_CLAIM.measurements, 5],
    ['measurement with unknown content type', EAT_CLAIM.measurements, [[1, new Uint8Array(4)]]],
    ['measurement with non-CBOR content', EAT_CLAIM.measurements, [[65000, new Uint8Array([0xff])]]],
    ['board family unknown', PALISADE_CLAIM.boardFamily, 'avr'],
    ['device id with slash', PALISADE_CLAIM.deviceId, 'a/b'],
    ['firmware version with space', PALISADE_CLAIM.firmwareVersion, '1.0 beta'],
    ['iat negative', EAT_CLAIM.iat, -5],
  ])('a token with %s is evidence.bad_claim', (_n, key, value) => {
    const map = encodePalisadeClaims(palisadeClaims());
    map.set(key, value);
    expect(code(() => verifyEvidence(signed(map), esKey))).toBe('evidence.bad_claim');
  });

  it('a measurement whose digest does not match its algorithm is evidence.bad_claim [FP-5.2-5]', () => {
    const inner = encodeCbor(
      new Map<number, unknown>([
        [1, 'app'],
        [2, new Uint8Array(48)],
        [6, 'sha-256'],
      ]),
    );
    const map = encodePalisadeClaims(palisadeClaims());
    map.set(EAT_CLAIM.measurements, [[65000, inner]]);
    expect(code(() => verifyEvidence(signed(map), esKey))).toBe('evidence.bad_claim');
  });

  it('ignores unknown claims [FP-5.2-7]', () => {
    const map = encodePalisadeClaims(palisadeClaims());
    map.set(-80050, 'future claim');
    expect(verifyEvidence(signed(map), esKey).claims.deviceId).toBe('nrf52-0001');
  });

  it('refuses bad input to the encoder instead of signing it', () => {
    expect(code(() => createPalisadeEvidence({ ...palisadeClaims(), nonce: new Uint8Array(8) }, es))).toBe(
      'evidence.bad_claim',
    );
    expect(code(() => createPalisadeEvidence({ ...palisadeClaims(), measurements: [] }, es))).toBe(
      'evidence.bad_claim',
    );
  });
});

describe('profile detection [FP-5.1-4]', () => {
  it('a payload that is not a map is evidence.schema', () => {
    const token = signSign1({ payload: encodeCbor([1, 2, 3]), signer: es, tagged: true });
    expect(code(() => verifyEvidence(token, esKey))).toBe('evidence.schema');
  });

  it('a payload naming two profiles is evidence.schema', () => {
    const map = encodePalisadeClaims(palisadeClaims());
    map.set(PSA1_CLAIM.profile, 'PSA_IOT_PROFILE_1');
    expect(code(() => verifyEvidence(signed(map), esKey))).toBe('evidence.schema');
  });

  it('a payload with no profile is evidence.unknown_profile', () => {
    const map = encodePalisadeClaims(palisadeClaims());
    map.delete(EAT_CLAIM.eatProfile);
    expect(code(() => verifyEvidence(signed(map), esKey))).toBe('evidence.unknown_profile');
  });

  it('a signature failure wins over claim errors [FP-5.1-2]', () => {
    const map = encodePalisadeClaims(palisadeClaims());
    map.delete(EAT_CLAIM.nonce);
    const other = importVerifyKey(generateSigner('ES256').publicKey, 'ES256');
    expect(code(() => verifyEvidence(signed(map), other))).toBe('cose.bad_signature');
  });

  it('oversized evidence is refused before decoding [FP-5.1-3]', () => {
    expect(code(() => decodeEvidence(new Uint8Array(MAX_EVIDENCE_BYTES + 1)))).toBe('cbor.too_large');
  });
});

describe('PSA evidence [FP-5.3-1]', () => {
  it.each(['psa-1', 'psa-2'] as const)('round-trips a %s token', (profile) => {
    const c = psaClaims(profile);
    const { claims } = verifyEvidence(createPsaEvidence(c, es), esKey);
    expect(claims.profile).toBe(profile);
    expect(claims.ueid).toEqual(c.instanceId);
    expect(claims.nonce).toEqual(c.nonce);
    expect(claims.bootSeed).toEqual(c.bootSeed);
    expect(claims.measurements).toEqual(c.measurements);
    expect(claims.psa).toMatchObject({ implementationId: c.implementationId, lifecycle: 0x3000, clientId: -1 });
  });

  it('accepts 48- and 64-byte nonces and refuses 40 [FP-5.3-2]', () => {
    for (const n of [48, 64]) {
      const c = { ...psaClaims('psa-2'), nonce: new Uint8Array(n).fill(1) };
      expect(verifyEvidence(createPsaEvidence(c, es), esKey).claims.nonce).toHaveLength(n);
    }
    const map = encodePsaClaims(psaClaims('psa-2'));
    map.set(EAT_CLAIM.nonce, new Uint8Array(40));
    expect(code(() => verifyEvidence(signed(map), esKey))).toBe('evidence.bad_claim');
  });

  it('names components without a type by index and takes the alg from the digest length [FP-5.3-4]', () => {
    const map = encodePsaClaims(psaClaims('psa-2'));
    map.set(2399, [new Map<number, unknown>([[2, new Uint8Array(48).fill(3)]])]);
    const { measurements } = verifyEvidence(signed(map), esKey).claims;
    expect(measurements).toEqual([{ component: '#0', alg: 'sha-384', digest: new Uint8Array(48).fill(3) }]);
  });

  it('psa-1 accepts no-sw-measurements instead of components', () => {
    const map = encodePsaClaims(psaClaims('psa-1'));
    map.delete(PSA1_CLAIM.softwareComponents);
    map.set(PSA1_CLAIM.noSoftwareComponents, 1);
    expect(verifyEvidence(signed(map), esKey).claims.measurements).toEqual([]);
    map.delete(PSA1_CLAIM.noSoftwareComponents);
    expect(code(() => verifyEvidence(signed(map), esKey))).toBe('evidence.missing_claim');
  });

  it('refuses a bad certification reference and lifecycle', () => {
    const map = encodePsaClaims(psaClaims('psa-2'));
    map.set(2398, 'not-an-ean');
    expect(code(() => verifyEvidence(signed(map), esKey))).toBe('evidence.bad_claim');
    const map2 = encodePsaClaims(psaClaims('psa-2'));
    map2.set(2395, 0x10000);
    expect(code(() => verifyEvidence(signed(map2), esKey))).toBe('evidence.bad_claim');
  });

  it('accepts the older psa-2 profile spelling', () => {
    const map = encodePsaClaims(psaClaims('psa-2'));
    expect(map.get(EAT_CLAIM.eatProfile)).toBe(PSA2_PROFILE_ID);
    map.set(EAT_CLAIM.eatProfile, 'http://arm.com/psa/2.0.0');
    expect(verifyEvidence(signed(map), esKey).claims.profile).toBe('psa-2');
  });
});
