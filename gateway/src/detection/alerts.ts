import { type Clock, NotFoundError, newId } from '@palisade/shared';
import { and, desc, eq, ne, type SQL } from 'drizzle-orm';
import { recordAudit, recordOutbox } from '../store/journal.js';
import type { Db } from '../store/open-store.js';
import { type AlertRow, type AlertSeverity, type AlertState, alerts } from '../store/schema.js';

/** The alert types of the gateway's local detection (issue 3 §Local detection). Append only: the SOC keys on them. */
export const ALERT_TYPES = [
  'attestation_failed',
  'firmware_changed',
  'boot_rollback',
  'suspected_clone',
  'unknown_device',
  'auth_failures',
  'message_rate_anomaly',
  'cert_expiring',
  /** The sync outbox passed its disk budget and telemetry rollups were thinned (gateway/src/sync/budget.ts). */
  'outbox_thinned',
  /** A device publishes messages that do not decode. */
  'payload_anomaly',
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

export interface AlertInput {
  type: AlertType;
  severity: AlertSeverity;
  deviceId?: string | null;
  /** Defaults to `type:deviceId`. Repeats of an open alert with the same key increment its counter. */
  dedupKey?: string;
  details?: Record<string, unknown>;
}

export interface RaiseOutcome {
  alert: AlertRow;
  created: boolean;
}

const SEVERITY_RANK: Record<AlertSeverity, number> = { info: 0, warning: 1, critical: 2 };

/**
 * Alerts with de-duplication: at most one live (open or acknowledged) alert per key, enforced by a partial unique
 * index; repeats increment its counter. Only a closed alert lets the next repeat open a new one.
 */
export class AlertStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  raise(input: AlertInput): RaiseOutcome {
    const now = this.clock.now();
    const dedupKey = input.dedupKey ?? `${input.type}:${input.deviceId ?? '-'}`;
    return this.db.transaction((tx) => {
      const open = tx
        .select()
        .from(alerts)
        .where(and(eq(alerts.dedupKey, dedupKey), ne(alerts.state, 'closed')))
        .get();
      let alert: AlertRow;
      let created = false;
      if (open === undefined) {
        alert = tx
          .insert(alerts)
          .values({
            id: newId('al', now),
            dedupKey,
            type: input.type,
            severity: input.severity,
            deviceId: input.deviceId ?? null,
            firstSeen: now,
            lastSeen: now,
            details: JSON.stringify(input.details ?? {}),
          })
          .returning()
          .get();
        created = true;
      } else {
        // The latest details win; severity only ever escalates while the alert is open.
        const severity = SEVERITY_RANK[input.severity] > SEVERITY_RANK[open.severity] ? input.severity : open.severity;
        alert = tx
          .update(alerts)
          .set({ count: open.count + 1, lastSeen: now, severity, details: JSON.stringify(input.details ?? {}) })
          .where(eq(alerts.id, open.id))
          .returning()
          .get();
      }
      recordOutbox(tx, { at: now, kind: 'alert', entityId: alert.id, payload: alert });
      return { alert, created };
    });
  }

  list(filter: { state?: AlertState; deviceId?: string; type?: AlertType; limit?: number } = {}): AlertRow[] {
    const conds: SQL[] = [];
    if (filter.state) conds.push(eq(alerts.state, filter.state));
    if (filter.deviceId) conds.push(eq(alerts.deviceId, filter.deviceId));
    if (filter.type) conds.push(eq(alerts.type, filter.type));
    return this.db
      .select()
      .from(alerts)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(desc(alerts.lastSeen), desc(alerts.id))
      .limit(filter.limit ?? 500)
      .all();
  }

  /** Moves an alert to `acknowledged` or `closed`; a later repeat of a closed alert opens a new one. */
  setState(id: string, state: Exclude<AlertState, 'open'>, actor: string): AlertRow {
    const now = this.clock.now();
    return this.db.transaction((tx) => {
      const row = tx.update(alerts).set({ state }).where(eq(alerts.id, id)).returning().get();
      if (row === undefined) throw new NotFoundError('not_found.alert', `no alert ${id}`);
      recordAudit(tx, { at: now, actor, action: `alert.${state}`, deviceId: row.deviceId, details: { alertId: id } });
      recordOutbox(tx, { at: now, kind: 'alert', entityId: id, payload: row });
      return row;
    });
  }
}
