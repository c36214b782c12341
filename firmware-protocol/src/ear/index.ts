/** Attestation results (EAR, draft-ietf-rats-ear) signed as ES256 JWTs. @see PROTOCOL.md §8 */
export {
  deriveEarStatus,
  EAR_PROFILE,
  EAR_STATUSES,
  EAR_SUBMOD,
  type EarClaims,
  type EarStatus,
  earReasons,
  TRUSTWORTHINESS_CLAIMS,
  type TrustworthinessClaim,
  type TrustworthinessVector,
  trustTier,
} from '@palisade/shared';
export {
  type AttestationResultInput,
  buildAttestationResult,
  DEFAULT_VERIFIER_ID,
  decodeAttestationResult,
  signAttestationResult,
  verifyAttestationResult,
} from './attestation-result.js';
export { TRUST } from './trust-claims.js';
