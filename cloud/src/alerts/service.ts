import { z } from '@hono/zod-openapi';
import { NotFoundError, ValidationError } from '@palisade/shared';
import { and, desc, eq, gte, ilike, inArray, lt, or, type SQL } from 'drizzle-orm';
import { type CaseActor, requireRole } from '../cases/actor.js';
import { pageParams } from '../cases/inputs.js';
import { caseAlerts } from '../cases/schema.js';
import { escapeLike, parseInput } from '../cases/validate.js';
import { SEVERITIES } from '../cases/workflow.js';
import type { CloudDatabase } from '../db/types.js';
import { decodeCursor, page } from '../http/pagination.js';
import { type AlertRow, alerts } from './schema.js';

export interface AlertView {
  id: string;
  siteId: string;
  gatewayId: string;
  sourceAlertId: string | null;
  deviceId: string | null;
  type: string;
  severity: string;
  title: string;
  description: string;
  firmwareMeasurement: string | null;
  techniques: string[];
  occurredAt: string;
  lastSeenAt: string;
  receivedAt: string;
  count: number;
  contentHash: string;
  details: Record<string, unknown>;
  /** The case the alert was correlated into, and why. */
  link: { caseId: string; strategy: string; score: number; details: Record<string, unknown>; linkedAt: string } | null;
}

const severityList = z
  .string()
  .max(100)
  .transform((s, ctx) => {
    const parts = s.split(',').filter((p) => p !== '');
    if (!parts.every((p) => (SEVERITIES as readonly string[]).includes(p))) {
      ctx.addIssue({ code: 'custom', message: `severities are ${SEVERITIES.join(', ')}` });
      return z.NEVER;
    }
    return parts;
  });

export const listAlertsInput = z.object({
  ...pageParams,
  severity: severityList.optional().openapi({ description: 'comma-separated severities' }),
  type: z.string().max(64).optional(),
  device: z.string().max(64).optional(),
  site: z.string().max(64).optional(),
  gateway: z.string().max(64).optional(),
  caseId: z.string().max(64).optional(),
  text: z.string().min(1).max(200).optional().openapi({ description: 'substring of title or description' }),
  from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'event time at or after' }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: 'event time before' }),
});
export type ListAlertsInput = z.input<typeof listAlertsInput>;

function toView(a: AlertRow, link: typeof caseAlerts.$inferSelect | null): AlertView {
  return {
    id: a.id,
    siteId: a.siteId,
    gatewayId: a.gatewayId,
    sourceAlertId: a.sourceAlertId,
    deviceId: a.deviceId,
    type: a.type,
    severity: a.severity,
    title: a.title,
    description: a.description,
    firmwareMeasurement: a.firmwareMeasurement,
    techniques: a.techniques,
    occurredAt: a.occurredAt.toISOString(),
    lastSeenAt: a.lastSeenAt.toISOString(),
    receivedAt: a.receivedAt.toISOString(),
    count: a.count,
    contentHash: a.contentHash,
    details: a.details,
    link: link
      ? {
          caseId: link.caseId,
          strategy: link.strategy,
          score: link.score,
          details: link.details,
          linkedAt: link.linkedAt.toISOString(),
        }
      : null,
  };
}

/** Newest device event first; keyset-paginated on (event time, id). */
export async function listAlerts(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  input: ListAlertsInput,
): Promise<{ items: AlertView[]; nextCursor: string | null }> {
  requireRole(actor, 'viewer');
  const q = parseInput(listAlertsInput, input, 'alert_query');
  const cursor = decodeCursor(q.cursor, 2);
  const where: (SQL | undefined)[] = [eq(alerts.orgId, orgId)];
  if (q.severity) where.push(inArray(alerts.severity, q.severity));
  if (q.type) where.push(eq(alerts.type, q.type));
  if (q.device) where.push(eq(alerts.deviceId, q.device));
  if (q.site) where.push(eq(alerts.siteId, q.site));
  if (q.gateway) where.push(eq(alerts.gatewayId, q.gateway));
  if (q.caseId) where.push(eq(caseAlerts.caseId, q.caseId));
  if (q.from) where.push(gte(alerts.occurredAt, new Date(q.from)));
  if (q.to) where.push(lt(alerts.occurredAt, new Date(q.to)));
  if (q.text) {
    const pattern = `%${escapeLike(q.text)}%`;
    where.push(or(ilike(alerts.title, pattern), ilike(alerts.description, pattern)));
  }
  if (cursor) {
    const [at, id] = cursor;
    const t = new Date(typeof at === 'number' ? at : Number.NaN);
    if (Number.isNaN(t.getTime()) || typeof id !== 'string')
      throw new ValidationError('validation.cursor', 'invalid cursor');
    where.push(or(lt(alerts.occurredAt, t), and(eq(alerts.occurredAt, t), lt(alerts.id, id))));
  }
  return db.withTenant(orgId, async (tx) => {
    const rows = await tx
      .select({ a: alerts, l: caseAlerts })
      .from(alerts)
      .leftJoin(caseAlerts, and(eq(caseAlerts.orgId, alerts.orgId), eq(caseAlerts.alertId, alerts.id)))
      .where(and(...where))
      .orderBy(desc(alerts.occurredAt), desc(alerts.id))
      .limit(q.limit + 1);
    const p = page(rows, q.limit, (r) => [r.a.occurredAt.getTime(), r.a.id]);
    return { items: p.items.map((r) => toView(r.a, r.l)), nextCursor: p.nextCursor };
  });
}

export async function getAlert(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  alertId: string,
): Promise<AlertView> {
  requireRole(actor, 'viewer');
  return db.withTenant(orgId, async (tx) => {
    const [r] = await tx
      .select({ a: alerts, l: caseAlerts })
      .from(alerts)
      .leftJoin(caseAlerts, and(eq(caseAlerts.orgId, alerts.orgId), eq(caseAlerts.alertId, alerts.id)))
      .where(and(eq(alerts.orgId, orgId), eq(alerts.id, alertId)));
    if (!r) throw new NotFoundError('not_found.alert', 'no such alert', { details: { alertId } });
    return toView(r.a, r.l);
  });
}
