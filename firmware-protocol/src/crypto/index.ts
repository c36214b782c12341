import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  X509Certificate,
} from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { ProtocolError } from '../errors.js';

/**
 * Signature algorithms of the device protocol (PROTOCOL.md [FP-5.1-1]): ES256 (ECDSA P-256 with SHA-256, required)
 * and EdDSA (Ed25519, optional). Verification always runs on `node:crypto` with key objects the caller caches (the
 * fast path); `@noble/curves` signs only where determinism matters (RFC 6979 test vectors).
 */
export type CoseAlg = 'ES256' | 'EdDSA';

/** COSE algorithm identifiers (IANA COSE Algorithms registry). */
export const COSE_ALG: Readonly<Record<CoseAlg, number>> = { ES256: -7, EdDSA: -8 };

export function coseAlgFromId(id: unknown): CoseAlg | undefined {
  if (id === COSE_ALG.ES256) return 'ES256';
  if (id === COSE_ALG.EdDSA) return 'EdDSA';
  return undefined;
}

/** Something that signs evidence. Signatures are raw: r‖s (64 bytes) for ES256, 64 bytes for Ed25519. */
export interface Signer {
  readonly alg: CoseAlg;
  readonly publicKey: KeyObject;
  sign(data: Uint8Array): Uint8Array;
}

/** A public key checked to suit `alg`. Build it once per key and reuse it: parsing keys is the slow part. */
export interface VerifyKey {
  readonly alg: CoseAlg;
  readonly key: KeyObject;
}

function keyMatchesAlg(key: KeyObject, alg: CoseAlg): boolean {
  if (alg === 'EdDSA') return key.asymmetricKeyType === 'ed25519';
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

function assertKeyFor(key: KeyObject, alg: CoseAlg): void {
  if (!keyMatchesAlg(key, alg)) {
    throw new ProtocolError('cose.bad_key', `key of type ${describeKey(key)} cannot be used with ${alg}`, {
      details: { alg, keyType: describeKey(key) },
    });
  }
}

function describeKey(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve ? `${key.asymmetricKeyType}/${curve}` : String(key.asymmetricKeyType);
}

/** A fresh random key pair for `alg` (simulated devices, gateway keys). Signatures from it are randomised (ES256). */
export function generateSigner(alg: CoseAlg): Signer {
  const { privateKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('ed25519');
  return signerFromPrivateKey(privateKey);
}

function toPrivateKeyObject(key: KeyObject | string | JsonWebKey): KeyObject {
  try {
    if (key instanceof KeyObject) return key;
    if (typeof key === 'string') return createPrivateKey(key);
    return createPrivateKey({ key, format: 'jwk' });
  } catch (cause) {
    throw new ProtocolError('cose.bad_key', 'private key is not a readable PEM, JWK or key object', { cause });
  }
}

/**
 * A signer over a private key (PEM, JWK or KeyObject). The algorithm follows from the key type. With
 * `deterministic`, ES256 signatures use RFC 6979 nonces (via @noble/curves), so the same key and message always give
 * the same bytes; Ed25519 is deterministic by definition.
 */
export function signerFromPrivateKey(
  privateKey: KeyObject | string | JsonWebKey,
  opts: { deterministic?: boolean } = {},
): Signer {
  const key = toPrivateKeyObject(privateKey);
  if (key.type !== 'private') throw new ProtocolError('cose.bad_key', 'a signer needs a private key');
  const alg: CoseAlg | undefined = keyMatchesAlg(key, 'ES256')
    ? 'ES256'
    : keyMatchesAlg(key, 'EdDSA')
      ? 'EdDSA'
      : undefined;
  if (alg === undefined) {
    throw new ProtocolError('cose.bad_key', `unsupported signing key type ${describeKey(key)}`);
  }
  const publicKey = createPublicKey(key);
  if (alg === 'EdDSA') {
    return { alg, publicKey, sign: (data) => new Uint8Array(nodeSign(null, data, key)) };
  }
  if (opts.deterministic) {
    const d = Buffer.from(key.export({ format: 'jwk' }).d ?? '', 'base64url');
    // prehash: SHA-256 of the message as ES256 requires; RFC 6979 nonce, S normalised to the low half.
    return { alg, publicKey, sign: (data) => p256.sign(data, d, { prehash: true, lowS: true }) };
  }
  return {
    alg,
    publicKey,
    sign: (data) => new Uint8Array(nodeSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })),
  };
}

/** Key material accepted for verification: PEM (SPKI public key or X.509 certificate), JWK, SPKI DER, KeyObject. */
export type VerifyKeyInput = KeyObject | string | JsonWebKey | Uint8Array;

/**
 * Imports a public key for `alg`, refusing keys of the wrong type (`cose.bad_key`). A private key is reduced to its
 * public half.
 */
export function importVerifyKey(input: VerifyKeyInput, alg: CoseAlg): VerifyKey {
  let key: KeyObject;
  try {
    if (input instanceof KeyObject) key = input.type === 'private' ? createPublicKey(input) : input;
    else if (typeof input === 'string') {
      key = input.includes('BEGIN CERTIFICATE') ? new X509Certificate(input).publicKey : createPublicKey(input);
    } else if (input instanceof Uint8Array)
      key = createPublicKey({ key: Buffer.from(input), format: 'der', type: 'spki' });
    else key = createPublicKey({ key: input, format: 'jwk' });
  } catch (cause) {
    throw new ProtocolError('cose.bad_key', 'verification key is not a readable public key', { cause });
  }
  if (key.type === 'secret') throw new ProtocolError('cose.bad_key', 'verification key must be asymmetric');
  assertKeyFor(key, alg);
  return { alg, key };
}

/** Signature encodings: raw r‖s (COSE, JWS) or ASN.1 DER (X.509, most TLS stacks). Ed25519 has only one form. */
export type SignatureEncoding = 'p1363' | 'der';

/**
 * Checks `signature` over `data`. Returns false for any signature that does not verify, including malformed ones;
 * throws only if the key does not suit its algorithm. High-S ECDSA signatures are valid (no low-S rule on verify).
 */
export function verifySignature(
  key: VerifyKey,
  data: Uint8Array,
  signature: Uint8Array,
  encoding: SignatureEncoding = 'p1363',
): boolean {
  assertKeyFor(key.key, key.alg);
  try {
    if (key.alg === 'EdDSA') {
      return signature.length === 64 && nodeVerify(null, data, key.key, signature);
    }
    if (encoding === 'p1363') {
      if (signature.length !== 64) return false;
      return nodeVerify('sha256', data, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    return nodeVerify('sha256', data, { key: key.key, dsaEncoding: 'der' }, signature);
  } catch {
    // OpenSSL throws on some malformed encodings; to the caller it is simply a signature that does not verify.
    return false;
  }
}
