import { type Clock, ConflictError, NotFoundError, ValidationError } from '@palisade/shared';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { alerts } from '../alerts/schema.js';
import type { CloudDatabase } from '../db/types.js';
import { type CaseActor, requireRole } from './actor.js';
import { type CaseView, loadCase, toCaseView } from './case-store.js';
import { type MergeInput, mergeInput } from './inputs.js';
import { caseAlerts, caseApprovals, caseComments, caseIocs, cases, caseTimeline } from './schema.js';
import { loadSettings } from './settings.js';
import { recordTimeline } from './timeline.js';
import { parseInput } from './validate.js';
import { maxSeverity, type Severity } from './workflow.js';

/**
 * Merges `sourceCaseIds` into `targetId`: their alert links (with their original strategy and score), IOCs,
 * comments, approvals and timeline move to the target; each source is closed in state `merged` with a pointer to
 * the target and a final timeline entry saying so. The target takes the highest severity and all technique tags,
 * and its alert count and event span are recomputed from the links it now holds. All or nothing.
 */
export async function mergeCases(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  targetId: string,
  input: MergeInput,
  clock: Clock,
): Promise<CaseView> {
  requireRole(actor, 'analyst');
  const m = parseInput(mergeInput, input, 'merge');
  const sourceIds = [...new Set(m.sourceCaseIds)].sort();
  if (sourceIds.includes(targetId)) {
    throw new ValidationError('validation.merge_self', 'a case cannot be merged into itself');
  }
  return db.withTenant(orgId, async (tx) => {
    // Lock in id order (target included) so two merges over the same cases cannot deadlock.
    const locked = await tx
      .select()
      .from(cases)
      .where(and(eq(cases.orgId, orgId), inArray(cases.id, [targetId, ...sourceIds])))
      .orderBy(cases.id)
      .for('update');
    const byId = new Map(locked.map((c) => [c.id, c]));
    const target = byId.get(targetId) ?? (await loadCase(tx, orgId, targetId));
    const missing = sourceIds.filter((id) => !byId.has(id));
    if (missing.length > 0)
      throw new NotFoundError('not_found.case', 'no such case', { details: { caseIds: missing } });
    const sources = sourceIds.map((id) => byId.get(id)!);
    const merged = [target, ...sources].filter((c) => c.state === 'merged');
    if (merged.length > 0) {
      throw new ConflictError('conflict.case_merged', 'a case in the merge was already merged', {
        details: { caseIds: merged.map((c) => c.id) },
      });
    }
    const now = new Date(clock.now());
    await tx
      .update(caseAlerts)
      .set({ caseId: targetId })
      .where(and(eq(caseAlerts.orgId, orgId), inArray(caseAlerts.caseId, sourceIds)));
    await tx.execute(sql`
      insert into ${caseIocs} (org_id, case_id, ioc_id, note, added_by, added_at)
      select org_id, ${targetId}, ioc_id, note, added_by, added_at from ${caseIocs}
      where org_id = ${orgId} and case_id in ${sourceIds}
      on conflict do nothing`);
    await tx.delete(caseIocs).where(and(eq(caseIocs.orgId, orgId), inArray(caseIocs.caseId, sourceIds)));
    for (const t of [caseComments, caseApprovals, caseTimeline] as const) {
      await tx
        .update(t)
        .set({ caseId: targetId })
        .where(and(eq(t.orgId, orgId), inArray(t.caseId, sourceIds)));
    }
    const [span] = await tx
      .select({
        n: sql<number>`count(*)::int`,
        first: sql<string | null>`min(${alerts.occurredAt})`,
        last: sql<string | null>`max(${alerts.lastSeenAt})`,
      })
      .from(caseAlerts)
      .innerJoin(alerts, and(eq(alerts.orgId, caseAlerts.orgId), eq(alerts.id, caseAlerts.alertId)))
      .where(and(eq(caseAlerts.orgId, orgId), eq(caseAlerts.caseId, targetId)));
    const severity = sources.reduce((s, c) => maxSeverity(s, c.severity as Severity), target.severity as Severity);
    const techniques = [...new Set([target, ...sources].flatMap((c) => c.techniques))].sort();
    const [updated] = await tx
      .update(cases)
      .set({
        severity,
        techniques,
        alertCount: span?.n ?? 0,
        firstEventAt: span?.first ? new Date(span.first) : null,
        lastEventAt: span?.last ? new Date(span.last) : null,
        updatedAt: now,
        version: target.version + 1,
      })
      .where(and(eq(cases.orgId, orgId), eq(cases.id, targetId)))
      .returning();
    for (const s of sources) {
      await tx
        .update(cases)
        .set({
          state: 'merged',
          mergedIntoId: targetId,
          alertCount: 0,
          acknowledgedAt: s.acknowledgedAt ?? now,
          resolvedAt: s.resolvedAt ?? now,
          updatedAt: now,
          version: s.version + 1,
        })
        .where(and(eq(cases.orgId, orgId), eq(cases.id, s.id)));
      await recordTimeline(
        tx,
        orgId,
        s.id,
        actor,
        now,
        'case.merged_into',
        { state: s.state },
        {
          state: 'merged',
          mergedIntoId: targetId,
        },
      );
    }
    await recordTimeline(
      tx,
      orgId,
      targetId,
      actor,
      now,
      'case.merged',
      { severity: target.severity, alertCount: target.alertCount },
      { severity, alertCount: span?.n ?? 0, sourceCaseIds: sourceIds, note: m.note ?? null },
    );
    const { sla } = await loadSettings(tx, orgId);
    return toCaseView(updated ?? target, sla, now.getTime());
  });
}
