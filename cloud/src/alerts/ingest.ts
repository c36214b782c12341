import { type Clock, ImplementationError, newId, systemClock, ValidationError } from '@palisade/shared';
import { and, eq, sql } from 'drizzle-orm';
import { SYSTEM_ACTOR } from '../cases/actor.js';
import {
  type CorrelationOutcome,
  type CorrelationPolicy,
  correlateAlert,
  DEFAULT_CORRELATION,
} from '../cases/correlate.js';
import { ICS_TECHNIQUES } from '../cases/mitre.js';
import { caseAlerts, cases } from '../cases/schema.js';
import { recordTimeline } from '../cases/timeline.js';
import { maxSeverity, type Severity } from '../cases/workflow.js';
import type { Tx } from '../db/types.js';
import { alertContentHash, type IngestAlert, type IngestAlertInput, ingestAlertSchema } from './alert-input.js';
import { alerts } from './schema.js';

/** First key of the per-organisation advisory lock around correlation ("CORR"). */
const CORRELATION_LOCK = 0x434f5252;

export interface IngestAlertsOptions {
  clock?: Clock;
  correlation?: CorrelationPolicy;
}

export type IngestedAlert =
  | { status: 'inserted'; alertId: string; contentHash: string; correlation: CorrelationOutcome }
  | { status: 'updated' | 'duplicate'; alertId: string; contentHash: string };

export interface IngestAlertsResult {
  inserted: number;
  updated: number;
  duplicates: number;
  /** One entry per input alert, in processing order (event time, then content hash). */
  alerts: IngestedAlert[];
}

function parseAlert(raw: IngestAlertInput, index: number): IngestAlert {
  const r = ingestAlertSchema.safeParse(raw);
  if (!r.success) {
    throw new ValidationError('validation.alert', `alert ${index} is malformed`, {
      details: {
        index,
        issues: r.error.issues.slice(0, 5).map((i) => ({ path: i.path.join('.'), message: i.message })),
      },
    });
  }
  return r.data;
}

/**
 * Stores a gateway's alerts for one site and correlates every new one into a case, all inside the caller's tenant
 * transaction (so a failed batch leaves nothing behind).
 *
 * De-duplication is by content hash (see `alertContentHash`), unique per organisation:
 * - a re-delivered alert (same content, same or lower count) changes nothing;
 * - a repeat the gateway counted (same content, higher count) raises `count` and `last_seen_at` only;
 * - a new alert is inserted and correlated.
 * Alerts are processed in event-time order so the same batch always yields the same cases.
 * Technique tags the cloud does not know are kept under `details.unknownTechniques` instead of failing the batch:
 * the gateway cannot fix them, and refusing would make it resend the batch forever.
 */
export async function ingestAlerts(
  tx: Tx,
  orgId: string,
  siteId: string,
  gatewayId: string,
  input: readonly IngestAlertInput[],
  options: IngestAlertsOptions = {},
): Promise<IngestAlertsResult> {
  const clock = options.clock ?? systemClock;
  const policy = options.correlation ?? DEFAULT_CORRELATION;
  const parsed = input.map((raw, i) => {
    const a = parseAlert(raw, i);
    return { a, hash: alertContentHash(siteId, a) };
  });
  parsed.sort(
    (x, y) => x.a.occurredAt.getTime() - y.a.occurredAt.getTime() || (x.hash < y.hash ? -1 : x.hash > y.hash ? 1 : 0),
  );
  const result: IngestAlertsResult = { inserted: 0, updated: 0, duplicates: 0, alerts: [] };
  if (parsed.length === 0) return result;
  // One correlating writer per organisation at a time: two gateways syncing related alerts concurrently would
  // otherwise each miss the other's uncommitted alert and open two cases. Released when the transaction ends.
  await tx.execute(sql`select pg_advisory_xact_lock(${CORRELATION_LOCK}, hashtext(${orgId}))`);
  for (const { a, hash } of parsed) {
    const now = new Date(clock.now());
    const known = a.techniques.map((t) => t.trim().toUpperCase()).filter((t) => ICS_TECHNIQUES[t] !== undefined);
    const unknown = a.techniques.filter((t) => ICS_TECHNIQUES[t.trim().toUpperCase()] === undefined);
    const lastSeenAt = a.lastSeenAt && a.lastSeenAt > a.occurredAt ? a.lastSeenAt : a.occurredAt;
    const details = unknown.length > 0 ? { ...a.details, unknownTechniques: unknown } : a.details;
    const [row] = await tx
      .insert(alerts)
      .values({
        id: newId('alert', now.getTime()),
        orgId,
        siteId,
        gatewayId,
        sourceAlertId: a.sourceAlertId ?? null,
        deviceId: a.deviceId ?? null,
        type: a.type,
        severity: a.severity,
        title: a.title,
        description: a.description,
        firmwareMeasurement: a.firmwareMeasurement ?? null,
        techniques: [...new Set(known)].sort(),
        occurredAt: a.occurredAt,
        lastSeenAt,
        receivedAt: now,
        contentHash: hash,
        count: a.count,
        details,
      })
      .onConflictDoNothing({ target: [alerts.orgId, alerts.contentHash] })
      .returning();
    if (row) {
      const correlation = await correlateAlert(tx, orgId, row, clock, policy);
      result.inserted++;
      result.alerts.push({ status: 'inserted', alertId: row.id, contentHash: hash, correlation });
      continue;
    }
    const repeat = await applyRepeat(tx, orgId, hash, a, lastSeenAt, details, now);
    if (repeat.updated) result.updated++;
    else result.duplicates++;
    result.alerts.push({
      status: repeat.updated ? 'updated' : 'duplicate',
      alertId: repeat.alertId,
      contentHash: hash,
    });
  }
  return result;
}

/**
 * An alert whose content is already stored. Only a higher count is news (the gateway saw it again): the count,
 * last sighting and details follow the gateway, severity only ever rises, and the alert's case follows both (its
 * event span, and its severity with a timeline entry). An equal or lower count is a re-delivery or an older copy
 * arriving late, and changes nothing.
 */
async function applyRepeat(
  tx: Tx,
  orgId: string,
  hash: string,
  a: IngestAlert,
  lastSeenAt: Date,
  details: Record<string, unknown>,
  now: Date,
): Promise<{ alertId: string; updated: boolean }> {
  const [existing] = await tx
    .select()
    .from(alerts)
    .where(and(eq(alerts.orgId, orgId), eq(alerts.contentHash, hash)))
    .for('update');
  if (!existing) throw new ImplementationError('implementation.alert_vanished', 'a conflicting alert is not visible');
  if (existing.count >= a.count) return { alertId: existing.id, updated: false };
  const severity = maxSeverity(existing.severity as Severity, a.severity);
  const seen = existing.lastSeenAt > lastSeenAt ? existing.lastSeenAt : lastSeenAt;
  await tx
    .update(alerts)
    .set({ count: a.count, lastSeenAt: seen, severity, details })
    .where(and(eq(alerts.orgId, orgId), eq(alerts.id, existing.id)));
  const [link] = await tx
    .select({ c: cases })
    .from(caseAlerts)
    .innerJoin(cases, and(eq(cases.orgId, caseAlerts.orgId), eq(cases.id, caseAlerts.caseId)))
    .where(and(eq(caseAlerts.orgId, orgId), eq(caseAlerts.alertId, existing.id)))
    .for('update');
  if (link) {
    const c = link.c;
    const caseSeverity = maxSeverity(c.severity as Severity, severity);
    const lastEventAt = c.lastEventAt && c.lastEventAt > seen ? c.lastEventAt : seen;
    await tx
      .update(cases)
      .set({ lastEventAt, severity: caseSeverity, updatedAt: now, version: c.version + 1 })
      .where(and(eq(cases.orgId, orgId), eq(cases.id, c.id)));
    if (caseSeverity !== c.severity) {
      await recordTimeline(
        tx,
        orgId,
        c.id,
        SYSTEM_ACTOR,
        now,
        'case.severity',
        { severity: c.severity },
        {
          severity: caseSeverity,
          alertId: existing.id,
        },
      );
    }
  }
  return { alertId: existing.id, updated: true };
}
