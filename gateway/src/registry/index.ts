export { SqliteDeviceStateStore, SqliteResultSink } from './attestation-state.js';
export { type BootState, type BootVerdict, classifyBoot } from './boot.js';
export { CredentialStore } from './credentials.js';
export { DeviceGate } from './device-gate.js';
export { measurementDigest } from './firmware.js';
export { ReferenceStore } from './reference-store.js';
export {
  type AdmitInput,
  type AdmitOutcome,
  type CertificateFacts,
  DETECTION_ACTOR,
  NEVER_AFFIRMED,
  Registry,
  type RegistryOptions,
  type ResultInput,
  type ResultOutcome,
  SYSTEM_ACTOR,
} from './registry.js';
export { CLOUD_CRLS_FILE, loadCloudCrls, RevocationStore } from './revocation-store.js';
