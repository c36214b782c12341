export {
  type AuditEntry,
  type DbOrTx,
  type OutboxEntry,
  type OutboxKind,
  recordAudit,
  recordOutbox,
  type Tx,
} from './journal.js';
export { type NonceOutcome, NonceStore } from './nonces.js';
export { type Db, databasePath, type OpenStoreOptions, openStore, type Store } from './open-store.js';
export type {
  AlertRow,
  AlertSeverity,
  AlertState,
  AttestationResultRow,
  AuditRow,
  DeviceRow,
  EnrollmentSource,
  EnrollmentState,
  OutboxRow,
  ReferenceValueRow,
  RollupResolution,
} from './schema.js';
export * as schema from './schema.js';
