import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, webcrypto } from 'node:crypto';
import { ProtocolError } from '../errors.js';

/**
 * Key material for the device PKI. Keys travel as `node:crypto` KeyObjects (what the rest of the protocol code
 * signs and verifies with) and are converted to WebCrypto keys only where @peculiar/x509 needs them.
 * @see PROTOCOL.md §10 [FP-10-3] (key usage)
 */

/** Subject key types a certificate may carry: P-256 (REQUIRED, ES256) or Ed25519 (OPTIONAL, EdDSA). [FP-5.1-1] */
export type PkiKeyType = 'p256' | 'ed25519';
export const PKI_KEY_TYPES: readonly PkiKeyType[] = ['p256', 'ed25519'];

export interface KeyPair {
  type: PkiKeyType;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateKeyPair(type: PkiKeyType = 'p256'): KeyPair {
  const { privateKey, publicKey } =
    type === 'p256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return { type, privateKey, publicKey };
}

/** The key type of a KeyObject, or `pki.unsupported` for anything but P-256 and Ed25519. */
export function keyTypeOf(key: KeyObject): PkiKeyType {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'p256';
  throw new ProtocolError('pki.unsupported', 'only P-256 and Ed25519 keys are supported', {
    details: { keyType: key.asymmetricKeyType ?? 'unknown', curve: key.asymmetricKeyDetails?.namedCurve },
  });
}

export function privateKeyToPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function publicKeyToPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

export function publicKeyToSpki(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
}

/** Reads a PKCS#8 (or SEC1 EC) private key PEM; `pki.malformed` when it does not parse. */
export function privateKeyFromPem(pem: string): KeyPair {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (e) {
    throw new ProtocolError('pki.malformed', 'private key does not parse', { cause: e });
  }
  return { type: keyTypeOf(privateKey), privateKey, publicKey: createPublicKey(privateKey) };
}

/** WebCrypto signing key for @peculiar/x509 (which signs certificates and CRLs through WebCrypto). */
export async function toSigningCryptoKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const alg = keyTypeOf(key) === 'p256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' };
  return webcrypto.subtle.importKey('pkcs8', pkcs8, alg, false, ['sign']);
}

/** The signature algorithm a CA key signs certificates with: ECDSA with SHA-256, or Ed25519. */
export function signingAlgorithmFor(key: KeyObject): { name: string; hash?: string } {
  return keyTypeOf(key) === 'p256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'Ed25519' };
}
