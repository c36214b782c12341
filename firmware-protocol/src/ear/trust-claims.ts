/**
 * Named AR4SI trustworthiness claim values (draft-ietf-rats-ar4si §2.3.4), so appraisal code says what it means
 * (`TRUST.executables.unrecognized`) instead of a bare number. The tier of each value follows from its range:
 * none [-1, 1], affirming [2, 31], warning [32, 95], contraindicated [96, 127]. @see PROTOCOL.md §8.2
 */
export const TRUST = {
  /** Shared by every claim. */
  any: { verifierMalfunction: -1, noClaim: 0, unexpectedEvidence: 1, cryptoValidationFailed: 99 },
  'instance-identity': { trustworthy: 2, untrustworthy: 96, unrecognized: 97 },
  configuration: { approved: 2, noKnownVulnerabilities: 3, unsafe: 32, unsupportable: 96 },
  executables: { approvedRuntime: 2, approvedBoot: 3, unsafe: 32, unrecognized: 33, contraindicated: 96 },
  'file-system': { approved: 2, unrecognized: 32, contraindicated: 96 },
  hardware: { genuine: 2, unsafe: 32, contraindicated: 96, unrecognized: 97 },
  'runtime-opaque': { encryptedMemory: 2, isolatedMemory: 32, visibleMemory: 96 },
  'storage-opaque': { hwKeysEncrypted: 2, swKeysEncrypted: 32, unencrypted: 96 },
  'sourced-data': { trusted: 2, untrusted: 32, contraindicated: 96 },
} as const;
