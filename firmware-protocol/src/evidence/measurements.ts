import { ProtocolError } from '../errors.js';
import { checkBytes, checkText, FieldReader } from '../messages/cbor-fields.js';
import { CLAIM_LIMITS, COMPONENT_KEY, DIGEST_LENGTH, type Measurement, type MeasurementAlg } from './claims.js';

/** Claim errors: a missing key is `evidence.missing_claim`, anything else wrong is `evidence.bad_claim`. */
export const CLAIM_CODES = {
  notMap: 'evidence.schema',
  missing: 'evidence.missing_claim',
  bad: 'evidence.bad_claim',
} as const;

const ALG_NAMES: Readonly<Record<string, MeasurementAlg>> = {
  'sha-256': 'sha-256',
  'sha-384': 'sha-384',
  'sha-512': 'sha-512',
  // PSA_IOT_PROFILE_1 spellings (TF-M legacy tokens)
  sha256: 'sha-256',
  sha384: 'sha-384',
  sha512: 'sha-512',
};

function algFromDescription(desc: string): MeasurementAlg | undefined {
  return ALG_NAMES[desc.toLowerCase()];
}

function algFromLength(n: number): MeasurementAlg | undefined {
  for (const [alg, len] of Object.entries(DIGEST_LENGTH) as [MeasurementAlg, number][]) {
    if (len === n) return alg;
  }
  return undefined;
}

/**
 * Decodes one measured-component map (RFC 9783 §4.4.1 keys). `requireDescription`: the Palisade profile requires
 * the algorithm (key 6) [FP-5.2-5]; PSA makes it optional and the digest length then decides [FP-5.3-4].
 */
export function decodeComponent(value: unknown, index: number, requireDescription: boolean): Measurement {
  const r = FieldReader.of(value, `measurement #${index}`, {
    notMap: 'evidence.bad_claim',
    missing: 'evidence.bad_claim',
    bad: 'evidence.bad_claim',
  });
  const nameBounds = { min: 1, max: CLAIM_LIMITS.componentNameMax };
  const component = requireDescription
    ? r.text(COMPONENT_KEY.type, 'measurement-type', nameBounds)
    : (r.optText(COMPONENT_KEY.type, 'measurement-type', nameBounds) ?? `#${index}`);
  const digest = r.bytes(COMPONENT_KEY.value, 'measurement-value', { min: 32, max: 64 });
  const desc = requireDescription
    ? r.text(COMPONENT_KEY.description, 'measurement-desc', { min: 1, max: 16 })
    : r.optText(COMPONENT_KEY.description, 'measurement-desc', { min: 1, max: 16 });
  const alg = desc === undefined ? algFromLength(digest.length) : algFromDescription(desc);
  if (alg === undefined) throw r.bad(COMPONENT_KEY.description, 'measurement-desc', 'names no supported hash');
  if (DIGEST_LENGTH[alg] !== digest.length) {
    throw r.bad(COMPONENT_KEY.value, 'measurement-value', `must be ${DIGEST_LENGTH[alg]} bytes for ${alg}`);
  }
  const m: Measurement = { component, digest, alg };
  const version = r.optText(COMPONENT_KEY.version, 'version', { min: 0, max: CLAIM_LIMITS.versionMax });
  if (version !== undefined) m.version = version;
  const signerId = r.optBytes(COMPONENT_KEY.signerId, 'signer-id', {
    min: CLAIM_LIMITS.signerIdMin,
    max: CLAIM_LIMITS.signerIdMax,
  });
  if (signerId !== undefined) m.signerId = signerId;
  return m;
}

/** Encodes one measurement as a measured-component map; the inverse of {@link decodeComponent}. */
export function encodeComponent(m: Measurement, withDescription: boolean): Map<number, unknown> {
  const fail = (why: string) =>
    new ProtocolError('evidence.bad_claim', `measurement ${m.component}: ${why}`, { details: { why } });
  checkText(m.component, { min: 1, max: CLAIM_LIMITS.componentNameMax }, undefined, fail);
  if (DIGEST_LENGTH[m.alg] === undefined) throw fail('unsupported alg');
  checkBytes(m.digest, { min: DIGEST_LENGTH[m.alg], max: DIGEST_LENGTH[m.alg] }, fail);
  const map = new Map<number, unknown>([
    [COMPONENT_KEY.type, m.component],
    [COMPONENT_KEY.value, new Uint8Array(m.digest)],
  ]);
  if (m.version !== undefined) {
    checkText(m.version, { max: CLAIM_LIMITS.versionMax }, undefined, fail);
    map.set(COMPONENT_KEY.version, m.version);
  }
  if (m.signerId !== undefined) {
    checkBytes(m.signerId, { min: CLAIM_LIMITS.signerIdMin, max: CLAIM_LIMITS.signerIdMax }, fail);
    map.set(COMPONENT_KEY.signerId, new Uint8Array(m.signerId));
  }
  if (withDescription) map.set(COMPONENT_KEY.description, m.alg);
  return map;
}
