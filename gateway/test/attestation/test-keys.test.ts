import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spkiFingerprint, TEST_KEY_DENY_LIST } from '../../src/attestation/index.js';
import { vectorKey } from './fixtures.js';

const VECTORS = join(import.meta.dirname, '../../../firmware-protocol/vectors');
const TFM_PEM = join(import.meta.dirname, '../../../../shared/vectors/psa/tfm-es-iak.pem');

describe('[FP-10-4] deny-list of public test keys', () => {
  it("holds TF-M's default IAK", () => {
    const key = createPublicKey(createPrivateKey(readFileSync(TFM_PEM, 'utf8')));
    expect(TEST_KEY_DENY_LIST.get(spkiFingerprint(key))).toMatch(/tf-m/);
  });

  it('holds every key of the project vectors', () => {
    const files = readdirSync(VECTORS).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const v = JSON.parse(readFileSync(join(VECTORS, f), 'utf8'));
      const key = createPublicKey({ key: v.key, format: 'jwk' });
      expect(TEST_KEY_DENY_LIST.has(spkiFingerprint(key)), f).toBe(true);
    }
  });

  it('holds the vector script’s second device key (used to sign the wrong-key vector)', () => {
    expect(TEST_KEY_DENY_LIST.has(spkiFingerprint(createPublicKey(vectorKey('another device es256 key'))))).toBe(true);
  });
});
