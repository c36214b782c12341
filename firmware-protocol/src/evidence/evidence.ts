import { decodeCbor, encodeCbor } from '../cbor/index.js';
import { COSE_HEADER, decodeSign1, type Sign1, signSign1, verifySign1 } from '../cose/index.js';
import type { Signer, VerifyKey } from '../crypto/index.js';
import { ProtocolError } from '../errors.js';
import {
  EAT_CLAIM,
  type EvidenceProfile,
  type NormalisedClaims,
  PALISADE_EAT_PROFILE_ID,
  PSA1_CLAIM,
  PSA1_PROFILE_ID,
  PSA2_PROFILE_ID,
} from './claims.js';
import { decodePalisadeClaims, encodePalisadeClaims, type PalisadeEvidenceClaims } from './palisade-eat.js';
import { decodePsaClaims, encodePsaClaims, type PsaEvidenceClaims } from './psa.js';

/** [FP-5.1-3] Evidence larger than this is refused before any decoding. */
export const MAX_EVIDENCE_BYTES = 4096;

export interface DecodedEvidence {
  sign1: Sign1;
  claims: NormalisedClaims;
}

/** `eat_profile` values that name PSA tokens of the RFC 9783 profile (the older spelling is accepted on input). */
const PSA2_PROFILE_ALIASES = new Set([PSA2_PROFILE_ID, 'http://arm.com/psa/2.0.0']);

/**
 * [FP-5.1-4] The profile is decided by `eat_profile` (265), or for PSA_IOT_PROFILE_1 by its profile claim
 * (-75000). A token naming no known profile is `evidence.unknown_profile`; a token naming two is `evidence.schema`.
 */
export function detectProfile(payload: unknown): EvidenceProfile {
  if (!(payload instanceof Map)) {
    throw new ProtocolError('evidence.schema', 'evidence payload must be a CBOR map of claims');
  }
  const eatProfile = payload.get(EAT_CLAIM.eatProfile);
  const psa1Profile = payload.get(PSA1_CLAIM.profile);
  if (eatProfile !== undefined && psa1Profile !== undefined) {
    throw new ProtocolError('evidence.schema', 'evidence names two profiles');
  }
  if (typeof eatProfile === 'string') {
    if (eatProfile === PALISADE_EAT_PROFILE_ID) return 'palisade-eat/1';
    if (PSA2_PROFILE_ALIASES.has(eatProfile)) return 'psa-2';
  }
  if (psa1Profile === PSA1_PROFILE_ID) return 'psa-1';
  throw new ProtocolError('evidence.unknown_profile', 'evidence names no supported profile', {
    details: { profile: typeof eatProfile === 'string' ? eatProfile.slice(0, 80) : typeof eatProfile },
  });
}

/** Validates a claims payload (the COSE_Sign1 payload bytes) into the normalised model. */
export function decodeEvidenceClaims(payload: Uint8Array): NormalisedClaims {
  const value = decodeCbor(payload);
  const profile = detectProfile(value);
  return profile === 'palisade-eat/1' ? decodePalisadeClaims(value) : decodePsaClaims(value, profile);
}

function checkSize(bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError('cose.malformed', 'evidence must be bytes');
  if (bytes.length > MAX_EVIDENCE_BYTES) {
    throw new ProtocolError('cbor.too_large', `evidence exceeds ${MAX_EVIDENCE_BYTES} bytes`, {
      details: { size: bytes.length, max: MAX_EVIDENCE_BYTES },
    });
  }
}

/**
 * Decodes a COSE_Sign1 evidence token and validates its claims, WITHOUT checking the signature (for inspection and
 * for finding the key to verify with). Never trust its result: use {@link verifyEvidence}. [FP-5.1-1]
 */
export function decodeEvidence(bytes: Uint8Array): DecodedEvidence {
  checkSize(bytes);
  const sign1 = decodeSign1(bytes);
  return { sign1, claims: decodeEvidenceClaims(sign1.payload) };
}

/**
 * Decodes evidence, checks its signature over the bytes received with `key` (alg must match the key's), and only
 * then validates the claims. [FP-5.1-2] A forged token is therefore always `cose.*`, never a claim error.
 */
export function verifyEvidence(bytes: Uint8Array, key: VerifyKey): DecodedEvidence {
  checkSize(bytes);
  const sign1 = verifySign1(decodeSign1(bytes), key);
  return { sign1, claims: decodeEvidenceClaims(sign1.payload) };
}

function unprotected(opts: { x5chain?: Uint8Array[]; kid?: Uint8Array } | undefined): Map<number, unknown> {
  const h = new Map<number, unknown>();
  if (opts?.kid !== undefined) h.set(COSE_HEADER.kid, new Uint8Array(opts.kid));
  if (opts?.x5chain !== undefined && opts.x5chain.length > 0) {
    // RFC 9360 §2: one certificate is a bstr, several an array with the leaf first.
    const certs = opts.x5chain.map((c) => new Uint8Array(c));
    h.set(COSE_HEADER.x5chain, certs.length === 1 ? certs[0] : certs);
  }
  return h;
}

/** Signs Palisade EAT evidence: a tagged COSE_Sign1 over the EAT claims map. [FP-5.2-1] */
export function createPalisadeEvidence(
  claims: PalisadeEvidenceClaims,
  signer: Signer,
  opts?: { x5chain?: Uint8Array[]; kid?: Uint8Array },
): Uint8Array {
  const payload = encodeCbor(encodePalisadeClaims(claims));
  return signSign1({ payload, signer, unprotectedHeader: unprotected(opts), tagged: true });
}

/** Signs a PSA attestation token the way TF-M does (tagged COSE_Sign1, kid optional). [FP-5.3-1] */
export function createPsaEvidence(claims: PsaEvidenceClaims, signer: Signer, opts?: { kid?: Uint8Array }): Uint8Array {
  const payload = encodeCbor(encodePsaClaims(claims));
  return signSign1({ payload, signer, unprotectedHeader: unprotected(opts), tagged: true });
}
