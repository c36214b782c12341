/**
 * Store-and-forward sync to the cloud: enrollment (identity.ts), the durable batch queue over the outbox
 * (outbox-queue.ts), the signed, compressed, retrying uploader (sync-client.ts), the outbox budget (budget.ts) and
 * cloud commands (commands.ts).
 */

export { type CloudSyncDeps, DEFAULT_OUTBOX_BUDGET_BYTES, startCloudSync } from './agent.js';
export { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF, parseRetryAfter } from './backoff.js';
export {
  type BudgetOutcome,
  enforceOutboxBudget,
  OUTBOX_ROW_OVERHEAD,
  type OutboxBudgetOptions,
  outboxBytes,
} from './budget.js';
export { CommandApplier, type CommandHandlers, commandActor } from './commands.js';
export { runEnroll } from './enroll-command.js';
export {
  type CloudIdentity,
  type EnrollOptions,
  enrollGateway,
  IDENTITY_FILES,
  loadCloudIdentity,
} from './identity.js';
export { registerSyncMetrics } from './metrics.js';
export { OutboxQueue, type OutboxQueueOptions, type PreparedBatch, type SyncStateRow } from './outbox-queue.js';
export { type MapOutcome, mapOutboxRow, recordTelemetryRollup, TELEMETRY_ROLLUP_KIND } from './records.js';
export { SyncAttemptError, SyncClient, type SyncClientOptions, type SyncStatus } from './sync-client.js';
