import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toHex } from '@palisade/shared';
import { describe, expect, it } from 'vitest';
import { generateSigner, importVerifyKey } from '../../src/crypto/index.js';
import { decodeEvidence, verifyEvidence } from '../../src/evidence/index.js';

// External conformance vector: a real TF-M PSA token (RFC 9783 example), read in place, never copied.
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PSA_DIR = resolve(REPO_ROOT, '../shared/vectors/psa');
const token = new Uint8Array(readFileSync(resolve(PSA_DIR, 'psa-sign1.cbor')));
const jwk = JSON.parse(readFileSync(resolve(PSA_DIR, 'tfm-es-iak.json'), 'utf8')) as Record<string, string>;
const { d: _private, ...publicJwk } = jwk;
const pem = readFileSync(resolve(PSA_DIR, 'tfm-es-iak.pem'), 'utf8');

describe('TF-M PSA token (shared/vectors/psa) [FP-5.3-1]', () => {
  it('verifies with the IAK public key (JWK and PEM) and decodes to the psa-2 profile', () => {
    for (const key of [importVerifyKey(publicJwk, 'ES256'), importVerifyKey(pem, 'ES256')]) {
      const { sign1, claims } = verifyEvidence(token, key);
      expect(sign1.alg).toBe('ES256');
      expect(claims.profile).toBe('psa-2');
      expect(toHex(claims.nonce)).toBe('01'.repeat(32));
      expect(toHex(claims.ueid)).toBe(`01${'02'.repeat(32)}`);
      expect(toHex(claims.psa!.implementationId)).toBe('00'.repeat(32));
      expect(toHex(claims.bootSeed!)).toBe('00'.repeat(8));
      expect(claims.psa!.lifecycle).toBe(0x3000);
      expect(claims.psa!.clientId).toBe(2147483647);
      expect(claims.measurements).toHaveLength(1);
      expect(claims.measurements[0]!.component).toBe('PRoT');
      expect(claims.measurements[0]!.alg).toBe('sha-256');
      expect(toHex(claims.measurements[0]!.digest)).toBe('03'.repeat(32));
      expect(toHex(claims.measurements[0]!.signerId!)).toBe('04'.repeat(32));
      // No Palisade-only claims in a PSA token [FP-5.3-6].
      expect(claims.bootCount).toBeUndefined();
      expect(claims.boardFamily).toBeUndefined();
    }
  });

  it('is rejected with any other key', () => {
    const other = generateSigner('ES256');
    expect(() => verifyEvidence(token, importVerifyKey(other.publicKey, 'ES256'))).toThrow(
      expect.objectContaining({ code: 'cose.bad_signature' }),
    );
  });

  it('decodeEvidence gives the same claims without a key', () => {
    expect(decodeEvidence(token).claims.profile).toBe('psa-2');
  });

  it('every single-byte change of the payload is refused [FP-5.1-2]', () => {
    const key = importVerifyKey(publicJwk, 'ES256');
    for (let i = 0; i < token.length; i += 7) {
      const t = token.slice();
      t[i]! ^= 0x20;
      expect(() => verifyEvidence(t, key)).toThrow(expect.objectContaining({ name: 'ProtocolError' }));
    }
  });
});
