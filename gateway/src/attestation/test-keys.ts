import { createHash, type KeyObject } from 'node:crypto';

/**
 * Public test keys that MUST NOT be trusted in production [FP-10-4]: anyone holding the (published) private key can
 * sign perfect evidence. Each is named by the SHA-256 of its SubjectPublicKeyInfo DER, so that the list holds no key
 * material and the check is one hash lookup (done once per cached key).
 * `test/attestation/test-keys.test.ts` re-derives every fingerprint from the key files, so the list cannot drift.
 */
export const TEST_KEY_DENY_LIST: ReadonlyMap<string, string> = new Map([
  // Trusted Firmware-M's default Initial Attestation Key (tfm-es-iak, shared/vectors/psa/tfm-es-iak.pem).
  ['45d852b8ab34e60e66d904c289f945edadf3de2446e8eaf61df17333ac5fd8e2', 'tf-m default IAK (P-256)'],
  // The project's deterministic vector keys (firmware-protocol/scripts/vector-cases.ts, vectors/*.json).
  ['f5015bc8bb82e1f4036211953f4bc443f6185fa8a965e9065d6b9ac210e207fc', 'palisade vector key "device es256 key"'],
  [
    '3ac8bc40c8c57bc0a4efababa40540e103f3c21f4010de95a980ef186517e0e7',
    'palisade vector key "another device es256 key"',
  ],
  ['a7964553cb2c68433f838b8179737c7b3cb1467b411b3ed8436c942712b50def', 'palisade vector key "psa iak"'],
  ['6a134ffaf2280b315c731d7322a8798a66f329ce518ffe2a5e84f5e69ca16b99', 'palisade vector key "device ed25519 key"'],
]);

/** SHA-256 (hex) of a public key's SPKI DER: the key's fingerprint in the deny-list and in logs. */
export function spkiFingerprint(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** The name of a deny-listed key, or undefined. `extra` adds operator-configured fingerprints. */
export function testKeyName(fingerprint: string, extra?: ReadonlyMap<string, string>): string | undefined {
  return TEST_KEY_DENY_LIST.get(fingerprint) ?? extra?.get(fingerprint);
}
