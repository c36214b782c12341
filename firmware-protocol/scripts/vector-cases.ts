import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { toHex } from '@palisade/shared';
import { encodeCbor } from '../src/cbor/index.js';
import { signSign1 } from '../src/cose/index.js';
import { type CoseAlg, type Signer, signerFromPrivateKey } from '../src/crypto/index.js';
import {
  createPalisadeEvidence,
  createPsaEvidence,
  EAT_CLAIM,
  encodePalisadeClaims,
  encodePsaClaims,
  type NormalisedClaims,
  type PalisadeEvidenceClaims,
  PSA2_CLAIM,
  type PsaEvidenceClaims,
} from '../src/evidence/index.js';

/**
 * The project's evidence test vectors (PROTOCOL.md §11): fixed keys, deterministic signatures (RFC 6979 ECDSA,
 * Ed25519), so that re-generating them gives the same bytes. `generate-vectors.ts` writes them to `vectors/`.
 */
export interface EvidenceVector {
  name: string;
  description: string;
  /** PROTOCOL.md statements the vector exercises. */
  statements: string[];
  /** The verification key (public JWK) and its COSE algorithm. */
  alg: CoseAlg;
  key: JsonWebKey;
  /** The evidence token, hex. */
  token: string;
  /** The nonce of the challenge the token answers, hex (appraisal-stage vectors). */
  challenge: string;
  expect: { ok: true; claims: Record<string, unknown> } | { ok: false; stage: 'decode' | 'appraisal'; code: string };
}

function seed(label: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`palisade test vector: ${label}`).digest());
}

const b64u = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/** A fixed P-256 key (test key: deny-listed in production, PROTOCOL.md [FP-10-4]). */
function p256Key(label: string): KeyObject {
  const d = seed(label);
  const pub = p256.getPublicKey(d, false);
  return createPrivateKey({
    format: 'jwk',
    key: { kty: 'EC', crv: 'P-256', d: b64u(d), x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33, 65)) },
  });
}

function ed25519Key(label: string): KeyObject {
  const d = seed(label);
  return createPrivateKey({
    format: 'jwk',
    key: { kty: 'OKP', crv: 'Ed25519', d: b64u(d), x: b64u(ed25519.getPublicKey(d)) },
  });
}

function publicJwk(k: KeyObject): JsonWebKey {
  return createPublicKey(k).export({ format: 'jwk' });
}

/** Normalised claims as JSON: byte strings as lower-case hex. */
export function claimsToJson(c: NormalisedClaims): Record<string, unknown> {
  const conv = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return toHex(v);
    if (Array.isArray(v)) return v.map(conv);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, conv(x)]));
    }
    return v;
  };
  return conv(c) as Record<string, unknown>;
}

const NONCE = seed('nonce');
const OTHER_NONCE = seed('other nonce');

export const palisadeClaims = (): PalisadeEvidenceClaims => ({
  nonce: NONCE,
  ueid: new Uint8Array([0x01, ...seed('ueid')]),
  deviceId: 'nrf52-0001',
  boardFamily: 'nrf52',
  firmwareVersion: '1.4.2',
  measurements: [
    { component: 'bootloader', digest: seed('bootloader image'), alg: 'sha-256', version: '2.1.0' },
    { component: 'app', digest: seed('app image'), alg: 'sha-256', version: '1.4.2', signerId: seed('fw signer') },
  ],
  bootCount: 42,
  bootSeed: seed('boot seed').subarray(0, 16),
});

/** [FP-5.3-3] 0x01 then SHA-256 of the IAK public key as an uncompressed point, as TF-M derives it. */
function psaInstanceId(key: KeyObject): Uint8Array {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  ]);
  return new Uint8Array([0x01, ...createHash('sha256').update(point).digest()]);
}

export const psaClaims = (profile: 'psa-1' | 'psa-2'): PsaEvidenceClaims => ({
  profile,
  nonce: NONCE,
  instanceId: psaInstanceId(p256Key('psa iak')),
  implementationId: seed('psa implementation'),
  bootSeed: seed('psa boot seed'),
  lifecycle: 0x3000,
  clientId: -1,
  certificationReference: profile === 'psa-2' ? '1234567890123-12345' : undefined,
  measurements: [
    { component: 'BL', digest: seed('psa BL'), alg: 'sha-256', version: '2.1.0', signerId: seed('psa signer') },
    { component: 'PRoT', digest: seed('psa PRoT'), alg: 'sha-256', version: '1.3.0', signerId: seed('psa signer') },
  ],
});

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function signMap(map: Map<number, unknown>, signer: Signer): Uint8Array {
  return signSign1({ payload: encodeCbor(map), signer, tagged: true });
}

export function buildVectors(): EvidenceVector[] {
  const es = p256Key('device es256 key');
  const esOther = p256Key('another device es256 key');
  const ed = ed25519Key('device ed25519 key');
  const psaKey = p256Key('psa iak');
  const esSigner = signerFromPrivateKey(es, { deterministic: true });
  const esOtherSigner = signerFromPrivateKey(esOther, { deterministic: true });
  const edSigner = signerFromPrivateKey(ed, { deterministic: true });
  const psaSigner = signerFromPrivateKey(psaKey, { deterministic: true });
  const challenge = toHex(NONCE);
  const vectors: EvidenceVector[] = [];
  const add = (
    name: string,
    description: string,
    statements: string[],
    signerKey: KeyObject,
    alg: CoseAlg,
    token: Uint8Array,
    expect: EvidenceVector['expect'],
    challengeHex = challenge,
  ): void => {
    vectors.push({
      name,
      description,
      statements,
      alg,
      key: publicJwk(signerKey),
      token: toHex(token),
      challenge: challengeHex,
      expect,
    });
  };
  const decoded = (c: PalisadeEvidenceClaims | PsaEvidenceClaims, profile: NormalisedClaims['profile']) =>
    claimsToJson(expectedClaims(c, profile));

  const good = createPalisadeEvidence(palisadeClaims(), esSigner);
  add('palisade-es256-good', 'Palisade EAT, ES256', ['FP-5.1-1', 'FP-5.2-1'], es, 'ES256', good, {
    ok: true,
    claims: decoded(palisadeClaims(), 'palisade-eat/1'),
  });
  const goodEd = createPalisadeEvidence(palisadeClaims(), edSigner, { kid: seed('kid').subarray(0, 8) });
  add('palisade-eddsa-good', 'Palisade EAT, EdDSA (Ed25519), with kid', ['FP-5.1-1'], ed, 'EdDSA', goodEd, {
    ok: true,
    claims: decoded(palisadeClaims(), 'palisade-eat/1'),
  });
  for (const profile of ['psa-2', 'psa-1'] as const) {
    const claims = withoutUndefined(psaClaims(profile));
    add(
      `${profile}-es256-good`,
      `PSA token (${profile}), ES256`,
      ['FP-5.3-1'],
      psaKey,
      'ES256',
      createPsaEvidence(claims, psaSigner),
      {
        ok: true,
        claims: decoded(claims, profile),
      },
    );
  }

  const badSig = good.slice();
  badSig[badSig.length - 1]! ^= 0x01;
  add('palisade-bad-signature', 'last signature byte flipped', ['FP-5.1-2'], es, 'ES256', badSig, {
    ok: false,
    stage: 'decode',
    code: 'cose.bad_signature',
  });
  add(
    'palisade-wrong-key',
    'signed by another device key',
    ['FP-5.1-2'],
    es,
    'ES256',
    createPalisadeEvidence(palisadeClaims(), esOtherSigner),
    {
      ok: false,
      stage: 'decode',
      code: 'cose.bad_signature',
    },
  );
  const tampered = good.slice();
  const at = Buffer.from(tampered).indexOf(Buffer.from('1.4.2'));
  tampered[at + 4] = '3'.charCodeAt(0);
  add(
    'palisade-tampered-payload',
    'firmware version 1.4.2 -> 1.4.3 after signing',
    ['FP-5.1-2'],
    es,
    'ES256',
    tampered,
    {
      ok: false,
      stage: 'decode',
      code: 'cose.bad_signature',
    },
  );
  add('palisade-truncated', 'token cut 10 bytes short', ['FP-2-1'], es, 'ES256', good.slice(0, good.length - 10), {
    ok: false,
    stage: 'decode',
    code: 'cbor.malformed',
  });
  add(
    'palisade-wrong-nonce',
    'valid token answering another challenge',
    ['FP-4.3-1', 'FP-5.2-4'],
    es,
    'ES256',
    good,
    {
      ok: false,
      stage: 'appraisal',
      code: 'appraisal.nonce_mismatch',
    },
    toHex(OTHER_NONCE),
  );

  const missing = encodePalisadeClaims(palisadeClaims());
  missing.delete(EAT_CLAIM.bootcount);
  add('palisade-missing-bootcount', 'bootcount claim absent', ['FP-5.2-1'], es, 'ES256', signMap(missing, esSigner), {
    ok: false,
    stage: 'decode',
    code: 'evidence.missing_claim',
  });
  const badType = encodePalisadeClaims(palisadeClaims());
  badType.set(EAT_CLAIM.bootcount, '42');
  add('palisade-bad-claim-type', 'bootcount as a text string', ['FP-5.2-1'], es, 'ES256', signMap(badType, esSigner), {
    ok: false,
    stage: 'decode',
    code: 'evidence.bad_claim',
  });
  const badUeid = encodePalisadeClaims(palisadeClaims());
  badUeid.set(EAT_CLAIM.ueid, new Uint8Array([0x07, ...seed('ueid')]));
  add(
    'palisade-bad-ueid-type',
    'ueid with an unknown type byte',
    ['FP-5.2-2'],
    es,
    'ES256',
    signMap(badUeid, esSigner),
    {
      ok: false,
      stage: 'decode',
      code: 'evidence.bad_claim',
    },
  );
  const unknown = encodePalisadeClaims(palisadeClaims());
  unknown.set(EAT_CLAIM.eatProfile, 'tag:example.com,2026:other-profile');
  add('unknown-profile', 'eat_profile names another profile', ['FP-5.1-4'], es, 'ES256', signMap(unknown, esSigner), {
    ok: false,
    stage: 'decode',
    code: 'evidence.unknown_profile',
  });
  const big = encodePalisadeClaims(palisadeClaims());
  big.set(-80099, new Uint8Array(4200));
  add(
    'oversized',
    'a 4 200-byte extra claim: token above 4 096 bytes',
    ['FP-5.1-3'],
    es,
    'ES256',
    signMap(big, esSigner),
    {
      ok: false,
      stage: 'decode',
      code: 'cbor.too_large',
    },
  );
  add('alg-mismatch', 'EdDSA token checked with an ES256 key', ['FP-5.1-2'], es, 'ES256', goodEd, {
    ok: false,
    stage: 'decode',
    code: 'cose.unsupported_alg',
  });

  const psaBadId = encodePsaClaims(withoutUndefined(psaClaims('psa-2')));
  psaBadId.set(EAT_CLAIM.ueid, new Uint8Array([0x02, ...seed('psa instance')]));
  add(
    'psa-2-bad-instance-id',
    'instance id not of RAND type',
    ['FP-5.3-3'],
    psaKey,
    'ES256',
    signMap(psaBadId, psaSigner),
    {
      ok: false,
      stage: 'decode',
      code: 'evidence.bad_claim',
    },
  );
  const psaMissing = encodePsaClaims(withoutUndefined(psaClaims('psa-2')));
  psaMissing.delete(PSA2_CLAIM.implementationId);
  add(
    'psa-2-missing-implementation-id',
    'implementation id absent',
    ['FP-5.3-1'],
    psaKey,
    'ES256',
    signMap(psaMissing, psaSigner),
    {
      ok: false,
      stage: 'decode',
      code: 'evidence.missing_claim',
    },
  );
  const psaNonce = encodePsaClaims(withoutUndefined(psaClaims('psa-2')));
  psaNonce.set(EAT_CLAIM.nonce, seed('x').subarray(0, 20));
  add('psa-2-short-nonce', '20-byte nonce', ['FP-5.3-2'], psaKey, 'ES256', signMap(psaNonce, psaSigner), {
    ok: false,
    stage: 'decode',
    code: 'evidence.bad_claim',
  });
  return vectors;
}

/** What decoding a token made from `c` must give. */
function expectedClaims(
  c: PalisadeEvidenceClaims | PsaEvidenceClaims,
  profile: NormalisedClaims['profile'],
): NormalisedClaims {
  if ('deviceId' in c) {
    return {
      profile,
      nonce: c.nonce,
      ueid: c.ueid,
      deviceId: c.deviceId,
      boardFamily: c.boardFamily,
      firmwareVersion: c.firmwareVersion,
      measurements: c.measurements,
      bootCount: c.bootCount,
      bootSeed: c.bootSeed,
    };
  }
  const psa: NonNullable<NormalisedClaims['psa']> = {
    implementationId: c.implementationId,
    lifecycle: c.lifecycle,
    clientId: c.clientId,
  };
  if (c.certificationReference !== undefined) psa.certificationReference = c.certificationReference;
  return { profile, nonce: c.nonce, ueid: c.instanceId, measurements: c.measurements, bootSeed: c.bootSeed, psa };
}

export function serializeVector(v: EvidenceVector): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}
