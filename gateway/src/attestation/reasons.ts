import { PalisadeError } from '@palisade/shared';

/**
 * Reason codes of the gateway's appraisal (issue 3, PROTOCOL.md §9 "Appraisal reasons"). They travel in result
 * messages, signed EARs, alerts and logs, and tests assert on them: append new codes, never rename one.
 * When a protocol-layer check fails, the result also carries the protocol code (`cose.bad_signature`,
 * `evidence.bad_claim`, `cbor.too_large`, ...) as PROTOCOL.md §9 requires.
 */
export const APPRAISAL_REASON_CODES = [
  // freshness [FP-4.3-1] [FP-7.2-3] [FP-10-1]
  'appraisal.nonce_unknown',
  'appraisal.nonce_expired',
  'appraisal.nonce_reused',
  'appraisal.nonce_mismatch',
  'appraisal.no_evidence',
  // the token itself
  'appraisal.evidence_too_large',
  'appraisal.malformed_evidence',
  'appraisal.format_mismatch',
  'appraisal.bad_signature',
  // key and certificate path [FP-5.3-1] [FP-10-3]
  'appraisal.key_unknown',
  'appraisal.cert_missing',
  'appraisal.cert_malformed',
  'appraisal.cert_untrusted',
  'appraisal.cert_expired',
  'appraisal.cert_not_yet_valid',
  'appraisal.cert_revoked',
  'appraisal.cert_key_usage',
  'appraisal.cert_invalid',
  'appraisal.test_key',
  // identity binding [FP-3.1-3] [FP-5.2-6] [FP-5.3-3]
  'appraisal.identity_mismatch',
  'appraisal.profile_mismatch',
  // firmware [FP-5.2-5]
  'appraisal.measurement_mismatch',
  'appraisal.unknown_reference',
  // boot state [FP-5.2-3]
  'appraisal.rollback',
  'appraisal.clone_suspected',
  'appraisal.boot_seed_reused',
  // hardware [FP-5.3-5]
  'appraisal.lifecycle_not_secured',
  // the verifier itself
  'appraisal.internal_error',
] as const;

export type AppraisalReasonCode = (typeof APPRAISAL_REASON_CODES)[number];

/** Configuration or input the attestation engine cannot work with (reference values, trust anchors, CLI files). */
export class AttestationError extends PalisadeError<`attestation.${string}`> {
  override readonly name = 'AttestationError';
}
