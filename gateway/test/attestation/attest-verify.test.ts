import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAttestVerify } from '../../src/attestation/index.js';
import { createDevice, createPki, nonce, palisadeToken, referenceValues, T0, type TestPki } from './fixtures.js';

const PSA = join(import.meta.dirname, '../../../../shared/vectors/psa');
const VECTORS = join(import.meta.dirname, '../../../firmware-protocol/vectors');
const dir = mkdtempSync(join(tmpdir(), 'attest-verify-'));
const TFM_NONCE = '01'.repeat(32);

function file(name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

async function verify(args: string[]) {
  const r = await runAttestVerify([...args, '--json']);
  return { exitCode: r.exitCode, out: JSON.parse(r.output) };
}

interface Vector {
  name: string;
  key: object;
  token: string;
  challenge: string;
  expect:
    | {
        ok: true;
        claims: {
          measurements: { component: string; alg: string; digest: string }[];
          boardFamily?: string;
          firmwareVersion?: string;
        };
      }
    | { ok: false; code: string };
}
const vectors: Vector[] = readdirSync(VECTORS)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(VECTORS, f), 'utf8')));

describe('attest verify: the TF-M token of RFC 9783 (shared/vectors/psa)', () => {
  const tfm = ['--evidence', join(PSA, 'psa-sign1.cbor'), '--trust-anchor', join(PSA, 'tfm-es-iak.pem')];

  it("without --allow-test-keys: TF-M's default IAK is refused", async () => {
    const { exitCode, out } = await verify(tfm);
    expect(exitCode).toBe(1);
    expect(out.status).toBe('contraindicated');
    expect(out.reasons).toContain('appraisal.test_key');
    expect(out.details.testKey).toMatch(/tf-m/);
  });

  it('with --allow-test-keys: the signature verifies and the claims decode; its placeholder instance id is not bound to the key', async () => {
    const { exitCode, out } = await verify([...tfm, '--allow-test-keys', '--nonce', TFM_NONCE]);
    expect(exitCode).toBe(1);
    // The RFC example carries instance id 0x01 ‖ 32×0x02, not 0x01 ‖ SHA-256(IAK) as TF-M derives it [FP-5.3-3].
    expect(out.reasons).toEqual(['appraisal.identity_mismatch', 'appraisal.unknown_reference']);
    expect(out.trustworthiness_vector).toEqual({ 'instance-identity': 96, hardware: 2, executables: 33 });
    expect(out.ear.submods.device.ear_attester_claims).toMatchObject({
      evidence_profile: 'psa-2',
      ueid: `01${'02'.repeat(32)}`,
    });
    expect(out.ear.submods.device.ear_appraisal_policy_ids).toEqual(['palisade:test-keys-allowed']);
  });

  it('--nonce is checked against the token', async () => {
    const { out } = await verify([...tfm, '--allow-test-keys', '--nonce', 'ab'.repeat(32)]);
    expect(out.reasons).toEqual(['appraisal.nonce_mismatch']);
  });
});

describe('attest verify: project vectors (firmware-protocol/vectors)', () => {
  it.each(vectors.map((v) => [v.name, v] as const))('%s', async (_name, v) => {
    const args = [
      '--evidence',
      file(`${v.name}.hex`, v.token),
      '--trust-anchor',
      file(`${v.name}.jwk`, JSON.stringify(v.key)),
      '--nonce',
      v.challenge,
    ];
    const denied = await verify(args);
    expect(denied.exitCode).toBe(1);
    const { exitCode, out } = await verify([...args, '--allow-test-keys']);
    if (!v.expect.ok) {
      expect(exitCode).toBe(1);
      expect(out.status).toBe('contraindicated');
      expect(out.reasons).toContain(v.expect.code);
      return;
    }
    expect(denied.out.reasons).toContain('appraisal.test_key');
    const claims = v.expect.claims;
    // Good vectors are bound to their key (PSA instance id = 0x01 ‖ SHA-256(IAK) [FP-5.3-3]); with no reference
    // values configured they are only a warning.
    expect(out.status).toBe('warning');
    expect(out.reasons).toEqual(['appraisal.unknown_reference']);
    if (claims.boardFamily === undefined) return;
    const refs = file(
      `${v.name}.refs.json`,
      JSON.stringify({
        version: 1,
        entries: [
          {
            boardFamily: claims.boardFamily,
            firmwareVersion: claims.firmwareVersion,
            components: claims.measurements.map((m) => ({ name: m.component, alg: m.alg, digest: m.digest })),
          },
        ],
      }),
    );
    const affirmed = await verify([...args, '--allow-test-keys', '--reference-values', refs]);
    expect(affirmed.exitCode).toBe(0);
    expect(affirmed.out.status).toBe('affirming');
    expect(affirmed.out.reasons).toEqual([]);
  });
});

describe('attest verify: with a manufacturer root as trust anchor', () => {
  let pki: TestPki;
  let root: string;
  let refs: string;
  beforeAll(async () => {
    pki = await createPki();
    root = file('root.pem', pki.root.certificate.pem);
    refs = file('refs.json', referenceValues().export());
  });

  it('affirms a token whose x5chain leads to the root (exit 0), at the time given by --at', async () => {
    const dev = await createDevice(pki, 'nrf52-cli', { notAfter: T0 + 86_400_000 });
    const n = nonce('cli');
    const ev = file('ev.cbor', palisadeToken(dev, n));
    const at = new Date(T0).toISOString();
    const { exitCode, out } = await verify([
      '--evidence',
      ev,
      '--trust-anchor',
      root,
      '--reference-values',
      refs,
      '--nonce',
      Buffer.from(n).toString('hex'),
      '--at',
      at,
    ]);
    expect(out.reasons).toEqual([]);
    expect(exitCode).toBe(0);
    expect(out.device_id).toBe('nrf52-cli');
    expect(out.ear.iat).toBe(T0 / 1000);
    const later = await verify([
      '--evidence',
      ev,
      '--trust-anchor',
      root,
      '--reference-values',
      refs,
      '--at',
      new Date(T0 + 2 * 86_400_000).toISOString(),
    ]);
    expect(later.exitCode).toBe(1);
    expect(later.out.reasons).toEqual(['appraisal.cert_expired', 'pki.expired']);
  });

  it("with the device's public key as anchor, a token carrying an x5chain is verified with that key", async () => {
    const dev = await createDevice(pki, 'nrf52-keyed');
    const ev = file('keyed.cbor', palisadeToken(dev, nonce('keyed')));
    const pem = file('keyed.pem', dev.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const { exitCode, out } = await verify(['--evidence', ev, '--trust-anchor', pem, '--reference-values', refs]);
    expect(out.reasons).toEqual([]);
    expect(exitCode).toBe(0);
    const other = file(
      'other.pem',
      (await createDevice(pki, 'x')).publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    const wrong = await verify(['--evidence', ev, '--trust-anchor', other]);
    expect(wrong.out.reasons).toEqual(['appraisal.bad_signature', 'cose.bad_signature']);
  });

  it('refuses an x5chain of another root', async () => {
    const rogue = await createDevice(await createPki('Rogue'), 'nrf52-cli');
    const ev = file('rogue.cbor', palisadeToken(rogue, nonce('x')));
    const { exitCode, out } = await verify([
      '--evidence',
      ev,
      '--trust-anchor',
      root,
      '--at',
      new Date(T0).toISOString(),
    ]);
    expect(exitCode).toBe(1);
    expect(out.reasons).toEqual(['appraisal.cert_untrusted', 'pki.untrusted']);
  });
});

describe('attest verify: unusable input exits 2', () => {
  const ev = () => file('any.hex', vectors[0]?.token ?? '');
  const key = () => file('any.jwk', JSON.stringify(vectors[0]?.key));
  it.each([
    ['no --evidence', () => ['--trust-anchor', key()], 'attestation.usage'],
    ['unknown option', () => ['--evidence', ev(), '--trust-anchor', key(), '--frobnicate'], 'attestation.usage'],
    [
      'missing evidence file',
      () => ['--evidence', join(dir, 'nope'), '--trust-anchor', key()],
      'attestation.unreadable_file',
    ],
    [
      'garbage trust anchor',
      () => ['--evidence', ev(), '--trust-anchor', file('junk.pem', 'hello')],
      'attestation.bad_trust_anchor',
    ],
    ['bad nonce', () => ['--evidence', ev(), '--trust-anchor', key(), '--nonce', 'xyz'], 'attestation.bad_nonce'],
    ['short nonce', () => ['--evidence', ev(), '--trust-anchor', key(), '--nonce', 'abcd'], 'attestation.bad_nonce'],
    ['bad --at', () => ['--evidence', ev(), '--trust-anchor', key(), '--at', 'yesterday'], 'attestation.bad_time'],
    [
      'bad reference values',
      () => [
        '--evidence',
        ev(),
        '--trust-anchor',
        key(),
        '--reference-values',
        file('bad.json', '{"version":1,"entries":[{"boardFamily":"nrf52"}]}'),
      ],
      'attestation.reference_values_invalid',
    ],
  ])('%s', async (_name, args, code) => {
    const r = await runAttestVerify([...args(), '--json']);
    expect(r.exitCode).toBe(2);
    expect(JSON.parse(r.output).error.code).toBe(code);
  });
});
