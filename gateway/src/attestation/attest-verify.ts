import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type Clock, describeError, fromHex, ManualClock, toHex } from '@palisade/shared';
import { type AppraisalContext, type AppraisalResult, Appraiser } from './appraiser.js';
import { AttestationError } from './reasons.js';
import { ReferenceValues } from './reference-values.js';

/**
 * `palisade-gateway attest verify`: offline appraisal of one evidence token, with the same engine the gateway runs.
 *
 * Policy, as the engine applies it (documented here because an operator reads this output):
 * - The trust anchor is a root certificate (PEM, may be a bundle) for tokens that carry an x5chain, or the device's
 *   attestation public key (SPKI PEM, a JWK file, or a private key PEM of which only the public half is used) for
 *   tokens verified with a registered key (PSA, or project vectors).
 * - `--nonce` makes freshness a check (`appraisal.nonce_mismatch`); without it freshness is not checked, which the
 *   result states as the policy id `palisade:freshness-not-checked`.
 * - Without `--reference-values` the firmware is unknown: `executables` is 33 (unrecognized) and the status is at
 *   best `warning` with `appraisal.unknown_reference` — a token alone never proves known-good firmware.
 * - Public test keys are refused (`appraisal.test_key`, contraindicated) unless `--allow-test-keys`.
 * - The result is signed with a throw-away ES256 key whose public JWK is printed beside it (`result_key`).
 * Exit: 0 affirming, 1 any other status, 2 unusable input.
 */
export interface AttestVerifyOutput {
  exitCode: 0 | 1 | 2;
  output: string;
}

const USAGE =
  'usage: attest verify --evidence FILE --trust-anchor PEM [--nonce HEX] [--reference-values FILE] [--at ISO-TIME] [--allow-test-keys] [--json]';

export async function runAttestVerify(
  args: readonly string[],
  opts: { clock?: Clock } = {},
): Promise<AttestVerifyOutput> {
  let json = args.includes('--json');
  try {
    const { values } = parseArgs({
      args: [...args],
      options: {
        evidence: { type: 'string' },
        'trust-anchor': { type: 'string' },
        nonce: { type: 'string' },
        'reference-values': { type: 'string' },
        at: { type: 'string' },
        'allow-test-keys': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    json = values.json === true;
    if (values.evidence === undefined || values['trust-anchor'] === undefined) {
      throw new AttestationError('attestation.usage', USAGE);
    }
    const evidence = await readEvidence(values.evidence);
    const anchor = await readTrustAnchor(values['trust-anchor']);
    const ctx: AppraisalContext = {};
    if (values.nonce !== undefined) ctx.expectedNonce = parseNonce(values.nonce);
    if (values.at !== undefined) ctx.at = parseTime(values.at);
    if (anchor.key !== undefined) ctx.attestationKey = anchor.key;
    const refs =
      values['reference-values'] === undefined
        ? undefined
        : ReferenceValues.parse(await readText(values['reference-values'], 'reference values'));
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const appraiser = new Appraiser({
      gatewayId: 'attest-verify',
      resultKey: { privateKey, kid: 'attest-verify-ephemeral' },
      clock: opts.clock ?? (ctx.at === undefined ? { now: () => Date.now() } : new ManualClock(ctx.at)),
      trust: { roots: anchor.roots },
      ...(refs === undefined ? {} : { referenceValues: refs }),
      allowTestKeys: values['allow-test-keys'] === true,
    });
    const result = await appraiser.appraise(evidence, ctx);
    return { exitCode: result.status === 'affirming' ? 0 : 1, output: render(result, publicKey, json) };
  } catch (e) {
    const error = describeError(e);
    const code = error.code === 'internal' ? 'attestation.usage' : error.code;
    const output = json
      ? JSON.stringify({ error: { code, message: error.message } })
      : `error: ${code}: ${error.message}`;
    return { exitCode: 2, output };
  }
}

function render(r: AppraisalResult, resultKey: KeyObject, json: boolean): string {
  const body = {
    status: r.status,
    reasons: r.reasons,
    device_id: r.deviceId,
    trustworthiness_vector: r.vector,
    nonce: r.nonceHex ?? null,
    evidence_sha256: r.evidenceDigest,
    details: r.details,
    ear: r.ear,
    jwt: r.jwt,
    result_key: resultKey.export({ format: 'jwk' }),
  };
  if (json) return JSON.stringify(body, null, 2);
  const lines = [`status: ${r.status}`, `device: ${r.deviceId}`];
  if (r.reasons.length > 0) lines.push(`reasons: ${r.reasons.join(', ')}`);
  lines.push(`vector: ${JSON.stringify(r.vector)}`);
  return lines.join('\n');
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new AttestationError('attestation.unreadable_file', `cannot read ${what} file ${path}`, { cause: e });
  }
}

/** Evidence as raw CBOR bytes, or as hex text (how the project's vectors carry tokens). */
async function readEvidence(path: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new AttestationError('attestation.unreadable_file', `cannot read evidence file ${path}`, { cause: e });
  }
  if (bytes.length === 0) throw new AttestationError('attestation.empty_evidence', 'evidence file is empty');
  const text = bytes.toString('latin1').trim();
  if (text.length > 0 && text.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text)) return fromHex(text);
  return new Uint8Array(bytes);
}

/** A root certificate (or bundle), or a device attestation key (SPKI PEM, JWK JSON, or private key PEM). */
async function readTrustAnchor(path: string): Promise<{ roots: string[]; key?: KeyObject }> {
  const text = await readText(path, 'trust anchor');
  if (text.includes('-----BEGIN CERTIFICATE-----')) return { roots: [text] };
  try {
    if (text.trimStart().startsWith('{'))
      return { roots: [], key: createPublicKey({ key: JSON.parse(text), format: 'jwk' }) };
    if (text.includes('-----BEGIN')) return { roots: [], key: createPublicKey(text) };
  } catch (e) {
    throw new AttestationError('attestation.bad_trust_anchor', 'trust anchor is not a readable key', { cause: e });
  }
  throw new AttestationError(
    'attestation.bad_trust_anchor',
    'trust anchor must be a PEM certificate, a PEM public key or a JWK',
  );
}

function parseNonce(hex: string): Uint8Array {
  let nonce: Uint8Array;
  try {
    nonce = fromHex(hex);
  } catch (e) {
    throw new AttestationError('attestation.bad_nonce', '--nonce must be hex', { cause: e });
  }
  if (nonce.length < 32 || nonce.length > 64) {
    throw new AttestationError('attestation.bad_nonce', '--nonce must be 32 to 64 bytes', {
      details: { nonce: toHex(nonce).slice(0, 80) },
    });
  }
  return nonce;
}

function parseTime(iso: string): number {
  const t = Date.parse(iso);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(iso) || Number.isNaN(t)) {
    throw new AttestationError('attestation.bad_time', '--at must be an ISO 8601 date-time (2026-01-01T00:00:00Z)');
  }
  return t;
}
