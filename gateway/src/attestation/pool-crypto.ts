import { type KeyObject, sign, verify } from 'node:crypto';
import {
  type EarClaims,
  ProtocolError,
  type Sign1,
  sign1ToBeSigned,
  type VerifyKey,
} from '@palisade/firmware-protocol';
import { ValidationError } from '@palisade/shared';

/**
 * The two signature operations of every appraisal — checking the evidence, signing the result — run on libuv's
 * thread pool through `node:crypto`'s callback API: submitting a job costs the main thread about a tenth of doing the
 * ECDSA work itself, so while the pool verifies and signs on the other core, the main thread keeps decoding,
 * appraising and serving the broker. The checks are exactly those of firmware-protocol's `verifySign1` /
 * `verifySignature` (same Sig_structure over the received bytes, same alg rule, raw r‖s, no low-S rule).
 */

/** [FP-5.1-2] Verifies a decoded COSE_Sign1 with `key`; throws `cose.unsupported_alg` / `cose.bad_signature`. */
export async function verifySign1OnPool(sign1: Sign1, key: VerifyKey): Promise<void> {
  if (key.alg !== sign1.alg) {
    throw new ProtocolError('cose.unsupported_alg', `token is signed with ${sign1.alg}, the key is for ${key.alg}`, {
      details: { tokenAlg: sign1.alg, keyAlg: key.alg },
    });
  }
  const tbs = sign1ToBeSigned(sign1.protectedBytes, sign1.payload);
  // Both ES256 (r‖s) and Ed25519 signatures are 64 bytes; anything else cannot verify.
  const ok =
    sign1.signature.length === 64 &&
    (await new Promise<boolean>((resolve) => {
      const done = (err: Error | null, valid: boolean) => resolve(err === null && valid);
      if (key.alg === 'EdDSA') verify(null, tbs, key.key, sign1.signature, done);
      else verify('sha256', tbs, { key: key.key, dsaEncoding: 'ieee-p1363' }, sign1.signature, done);
    }));
  if (!ok) throw new ProtocolError('cose.bad_signature', 'signature does not verify');
}

/**
 * Signs attestation results as compact ES256 JWS [FP-8.3-1]: the same form as firmware-protocol's
 * `signAttestationResult` (header `{alg, typ, kid}`, JSON claims, raw r‖s), checked by its
 * `verifyAttestationResult` in the tests. The claims come straight from `buildAttestationResult`, already
 * schema-checked, so they are not parsed a second time on the hot path.
 */
export class ResultSigner {
  private readonly header: string;

  constructor(private readonly key: { privateKey: KeyObject; kid: string }) {
    const k = key.privateKey;
    if (k.type !== 'private' || k.asymmetricKeyType !== 'ec' || k.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new ValidationError('validation.result_key', 'the result key must be a P-256 private key (ES256)');
    }
    this.header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: key.kid })).toString('base64url');
  }

  sign(claims: EarClaims): Promise<string> {
    const input = `${this.header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return new Promise((resolve, reject) => {
      sign('sha256', Buffer.from(input), { key: this.key.privateKey, dsaEncoding: 'ieee-p1363' }, (err, sig) => {
        if (err) reject(err);
        else resolve(`${input}.${sig.toString('base64url')}`);
      });
    });
  }
}
