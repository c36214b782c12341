import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromHex, toHex } from '@palisade/shared';
import { describe, expect, it } from 'vitest';
import { buildVectors, claimsToJson, type EvidenceVector, serializeVector } from '../../scripts/vector-cases.js';
import { importVerifyKey } from '../../src/crypto/index.js';
import { isProtocolError } from '../../src/errors.js';
import { decodeEvidence, verifyEvidence } from '../../src/evidence/index.js';

const VECTOR_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../vectors');
const files = readdirSync(VECTOR_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const vectors = files.map((f) => JSON.parse(readFileSync(join(VECTOR_DIR, f), 'utf8')) as EvidenceVector);

function run(v: EvidenceVector): { ok: true; claims: Record<string, unknown> } | { ok: false; code: string } {
  try {
    const key = importVerifyKey(v.key, v.alg);
    const { claims } = verifyEvidence(fromHex(v.token), key);
    // Appraisal-stage check the protocol defines: the token answers the challenge [FP-4.3-1].
    if (toHex(claims.nonce) !== v.challenge) return { ok: false, code: 'appraisal.nonce_mismatch' };
    return { ok: true, claims: claimsToJson(claims) };
  } catch (e) {
    if (!isProtocolError(e)) throw e;
    return { ok: false, code: e.code };
  }
}

describe('project evidence vectors (PROTOCOL.md §11)', () => {
  it('covers the good and every bad case', () => {
    const names = vectors.map((v) => v.name);
    for (const n of [
      'palisade-es256-good',
      'palisade-eddsa-good',
      'psa-2-es256-good',
      'psa-1-es256-good',
      'palisade-bad-signature',
      'palisade-wrong-key',
      'palisade-tampered-payload',
      'palisade-truncated',
      'palisade-wrong-nonce',
      'palisade-missing-bootcount',
      'palisade-bad-claim-type',
      'unknown-profile',
      'oversized',
      'alg-mismatch',
    ]) {
      expect(names).toContain(n);
    }
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s gives its expected verdict', (_name, v) => {
    const got = run(v);
    if (v.expect.ok) {
      expect(got).toEqual({ ok: true, claims: v.expect.claims });
    } else {
      expect(got).toEqual({ ok: false, code: v.expect.code });
    }
  });

  it.each(vectors.filter((v) => v.expect.ok).map((v) => [v.name, v] as const))(
    '%s: decodeEvidence (no signature check) gives the same claims',
    (_name, v) => {
      const { claims } = decodeEvidence(fromHex(v.token));
      expect(claimsToJson(claims)).toEqual((v.expect as { claims: unknown }).claims);
    },
  );

  it('re-generating the vectors gives byte-identical files, and no file is stale', () => {
    const fresh = buildVectors();
    expect(fresh.map((v) => `${v.name}.json`).sort()).toEqual(files);
    for (const v of fresh) {
      expect(serializeVector(v), v.name).toBe(readFileSync(join(VECTOR_DIR, `${v.name}.json`), 'utf8'));
    }
  });
});
