import { createHash, createPublicKey, verify as verifySignature, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { remember } from './bounded-map.js';

/** The signature engine PKI.js validates with (set as its global engine too). */

const OID_ED25519 = '1.3.101.112';

/** ECDSA signature OIDs (RFC 5758 §3.2) and the hash each names. */
const ECDSA_HASH: Readonly<Record<string, string>> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';

/**
 * PKI.js's WebCrypto engine over node's webcrypto, with two signature families verified by node's OpenSSL instead:
 * - ECDSA: PKI.js converts the DER signature to raw r‖s leniently (a changed padding byte still verifies), which
 *   would give one certificate many valid encodings; OpenSSL accepts only the canonical DER encoding.
 * - Ed25519 (RFC 8410), which PKI.js does not map but device certificates may use [FP-5.1-1]; OpenSSL rejects
 *   non-canonical signatures.
 * Other algorithms (RSA) go to WebCrypto through PKI.js.
 */
class NodeCryptoEngine extends pkijs.CryptoEngine {
  override async verifyWithPublicKey(
    data: ArrayBuffer | ArrayBufferView,
    signature: asn1js.BitString | asn1js.OctetString,
    publicKeyInfo: pkijs.PublicKeyInfo,
    signatureAlgorithm: pkijs.AlgorithmIdentifier,
    shaAlgorithm?: string,
  ): Promise<boolean> {
    const oid = signatureAlgorithm.algorithmId;
    const keyOid = publicKeyInfo.algorithm.algorithmId;
    const ecdsaHash = ECDSA_HASH[oid];
    // A signature BIT STRING with unused bits is not a signature encoding (X.509 §7); PKI.js ignores the octet.
    if (signature instanceof asn1js.BitString && signature.valueBlock.unusedBits !== 0) return false;
    if (oid !== OID_ED25519 && ecdsaHash === undefined) {
      return super.verifyWithPublicKey(data, signature, publicKeyInfo, signatureAlgorithm, shaAlgorithm);
    }
    // RFC 8410 §3 and RFC 5758 §3.2: the signature AlgorithmIdentifier parameters MUST be absent.
    if (signatureAlgorithm.algorithmParams !== undefined) return false;
    if (keyOid !== (ecdsaHash === undefined ? OID_ED25519 : OID_EC_PUBLIC_KEY)) return false;
    try {
      const key = createPublicKey({ key: Buffer.from(publicKeyInfo.toSchema().toBER()), format: 'der', type: 'spki' });
      const sig = signature.valueBlock.valueHexView;
      return ecdsaHash === undefined
        ? verifySignature(null, bytesOf(data), key, sig)
        : verifySignature(ecdsaHash, bytesOf(data), { key, dsaEncoding: 'der' }, sig);
    } catch {
      // A key OpenSSL cannot load (unknown curve, invalid point) verifies nothing.
      return false;
    }
  }
}

function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
}

/**
 * Outcomes of signature checks, keyed by a hash of everything the outcome depends on (algorithm, issuer key,
 * signature, signed bytes). Every device chain repeats the intermediate → root link; remembering it halves the
 * public-key work of a TLS reconnect storm without changing any verdict.
 */
const signatureMemo = new Map<string, boolean>();
const SIGNATURE_MEMO_SIZE = 4096;

class MemoisingCryptoEngine extends NodeCryptoEngine {
  override async verifyWithPublicKey(
    data: ArrayBuffer | ArrayBufferView,
    signature: asn1js.BitString | asn1js.OctetString,
    publicKeyInfo: pkijs.PublicKeyInfo,
    signatureAlgorithm: pkijs.AlgorithmIdentifier,
    shaAlgorithm?: string,
  ): Promise<boolean> {
    const h = createHash('sha256');
    for (const part of [
      Buffer.from(signatureAlgorithm.toSchema().toBER()),
      Buffer.from(publicKeyInfo.toSchema().toBER()),
      // The whole BIT STRING, unused-bits octet included: it is part of what the verdict depends on.
      Buffer.from(signature.toBER()),
      bytesOf(data),
    ]) {
      h.update(
        Buffer.from([part.length >>> 24, (part.length >>> 16) & 255, (part.length >>> 8) & 255, part.length & 255]),
      );
      h.update(part);
    }
    const key = `${shaAlgorithm ?? ''}:${h.digest('base64')}`;
    const known = signatureMemo.get(key);
    if (known !== undefined) return known;
    const ok = await super.verifyWithPublicKey(data, signature, publicKeyInfo, signatureAlgorithm, shaAlgorithm);
    remember(signatureMemo, key, ok, SIGNATURE_MEMO_SIZE);
    return ok;
  }
}

export const cryptoEngine = new MemoisingCryptoEngine({
  name: 'node-webcrypto',
  crypto: webcrypto as unknown as pkijs.CryptoEngineParameters['crypto'],
});
pkijs.setEngine('node-webcrypto', cryptoEngine);
