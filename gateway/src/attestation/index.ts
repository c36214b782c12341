/**
 * The attestation engine: challenges, appraisal of evidence, signed results. @see PROTOCOL.md §7, §8
 *
 * Wiring (the gateway's main does this over its SQLite stores):
 * - `ChallengeManager`: `connected(id)` when a device subscribes to its challenge topic, `disconnected(id)`,
 *   `request(id)` for operators and `re-attest`; its `attestation.timeout` event with `final: true` is the
 *   device's `none` / `appraisal.no_evidence` result [FP-7.2-1].
 * - `Appraiser.appraise(token, { deviceId, messageNonce, format, certificateChain? })` for each evidence message;
 *   publish `{ nonce, status, reasons, ear: jwt }` as the result message, then call `challenges.answered(id, nonceHex)`.
 *   A `refused` result must not change the device's last result [FP-7.2-3]; a `duplicate` is re-published as is.
 */
export {
  type AppraisalContext,
  type AppraisalResult,
  Appraiser,
  type AppraiserOptions,
} from './appraiser.js';
export { type AttestVerifyOutput, runAttestVerify } from './attest-verify.js';
export {
  type ChallengeEvent,
  ChallengeManager,
  type ChallengeManagerOptions,
  type Scheduler,
  systemScheduler,
} from './challenge-manager.js';
export { psaInstanceId } from './claim-checks.js';
export { KeyResolver, type TrustAnchors } from './key-resolver.js';
export { MemoryDeviceStateStore, MemoryNonceStore, MemoryResultSink } from './memory-stores.js';
export { APPRAISAL_REASON_CODES, type AppraisalReasonCode, AttestationError } from './reasons.js';
export {
  type ReferenceComponent,
  type ReferenceEntry,
  ReferenceValues,
  type ReferenceValuesDocument,
  referenceValuesSchema,
} from './reference-values.js';
export type {
  BootObservation,
  DeviceAttestationState,
  DeviceStateStore,
  NonceOutcome,
  NonceStore,
  RecordedAppraisal,
  ResultSink,
  StoredAppraisal,
} from './stores.js';
export { spkiFingerprint, TEST_KEY_DENY_LIST } from './test-keys.js';
