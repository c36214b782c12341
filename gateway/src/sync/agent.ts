import { type Clock, type Logger, ValidationError } from '@palisade/shared';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { AlertInput } from '../detection/alerts.js';
import type { Store } from '../store/open-store.js';
import { CommandApplier, type CommandHandlers } from './commands.js';
import { loadCloudIdentity } from './identity.js';
import { registerSyncMetrics } from './metrics.js';
import { SyncClient } from './sync-client.js';

/** What the gateway hands its sync agent (one call in `main.ts`). */
export interface CloudSyncDeps {
  store: Store;
  dataDir: string;
  clock: Clock;
  logger?: Logger;
  registry: {
    quarantine(id: string, actor: string, reason: string): unknown;
    release(id: string, actor: string): unknown;
  };
  alerts: { raise(input: AlertInput): unknown };
  /** `ChallengeManager.request(deviceId, 'on-demand')`: re-attest now. */
  reattest?: (deviceId: string) => boolean;
  /** `ReferenceStore.import(doc, actor)`. */
  importReferenceValues?: (document: unknown, actor: string) => unknown;
  /** Replaces the manufacturer CRLs the appraisal uses. */
  updateRevocations?: (crlPems: string[], actor: string) => unknown;
  /** Outbox disk budget, bytes; default 256 MiB. */
  outboxBudgetBytes?: number;
  metrics?: MetricsRegistry;
}

export const DEFAULT_OUTBOX_BUDGET_BYTES = 256 * 1024 * 1024;

/**
 * Starts syncing to the cloud when this gateway is enrolled (`palisade-gateway enroll`); returns undefined otherwise,
 * so a gateway without a cloud keeps working on its own. Commands from the cloud go to the registry (quarantine,
 * release) and to the optional handlers; the agent's gauges join the gateway's metrics.
 */
export function startCloudSync(deps: CloudSyncDeps): SyncClient | undefined {
  const identity = loadCloudIdentity(deps.dataDir);
  if (identity === undefined) return undefined;
  const log = deps.logger;
  const handlers: CommandHandlers = {
    quarantine: (id, actor, reason) => deps.registry.quarantine(id, actor, reason),
    release: (id, actor) => deps.registry.release(id, actor),
  };
  const reattest = deps.reattest;
  if (reattest) {
    handlers.reattest = (id) => {
      if (!reattest(id)) throw new ValidationError('validation.not_connected', `device ${id} is not connected`);
    };
  }
  const importRefs = deps.importReferenceValues;
  if (importRefs) handlers.updateReferenceValues = (doc, actor) => importRefs(doc, actor);
  if (deps.updateRevocations) handlers.updateRevocations = deps.updateRevocations;
  const client = new SyncClient({
    sqlite: deps.store.sqlite,
    cloudUrl: identity.cloudUrl,
    gatewayId: identity.gatewayId,
    privateKey: identity.privateKey,
    clock: deps.clock,
    ...(log === undefined ? {} : { logger: log }),
    budget: {
      maxBytes: deps.outboxBudgetBytes ?? DEFAULT_OUTBOX_BUDGET_BYTES,
      raiseAlert: (a) => deps.alerts.raise(a),
    },
    commands: new CommandApplier(deps.store.db, deps.store.sqlite, handlers, deps.clock, log),
  });
  if (deps.metrics) registerSyncMetrics(deps.metrics, client);
  client.start();
  log?.info({ gatewayId: identity.gatewayId, cloud: identity.cloudUrl }, 'cloud sync started');
  return client;
}
