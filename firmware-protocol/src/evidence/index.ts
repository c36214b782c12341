/** Evidence profiles (Palisade EAT, PSA) decoded into one normalised claims model. @see PROTOCOL.md §5, §6 */
export * from './claims.js';
export {
  createPalisadeEvidence,
  createPsaEvidence,
  type DecodedEvidence,
  decodeEvidence,
  decodeEvidenceClaims,
  detectProfile,
  MAX_EVIDENCE_BYTES,
  verifyEvidence,
} from './evidence.js';
export { checkUeid, decodePalisadeClaims, encodePalisadeClaims, type PalisadeEvidenceClaims } from './palisade-eat.js';
export { decodePsaClaims, encodePsaClaims, type PsaEvidenceClaims } from './psa.js';
