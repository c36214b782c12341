import { type Clock, ConflictError, NotFoundError, ValidationError } from '@palisade/shared';
import { and, desc, eq, exists, ilike, inArray, isNull, lt, ne, or, type SQL, sql } from 'drizzle-orm';
import { alerts } from '../alerts/schema.js';
import type { CloudDatabase } from '../db/types.js';
import { decodeCursor, page } from '../http/pagination.js';
import { users } from '../tenancy/schema.js';
import { type CaseActor, requireRole } from './actor.js';
import { type CaseView, loadCase, toCaseView } from './case-store.js';
import { type ListCasesInput, listCasesInput, type PatchCaseInput, patchCaseInput } from './inputs.js';
import { normaliseTechniques } from './mitre.js';
import { caseAlerts, cases } from './schema.js';
import { loadSettings } from './settings.js';
import type { SlaPolicy } from './sla.js';
import { recordTimeline } from './timeline.js';
import { escapeLike, parseInput } from './validate.js';
import { assertTransition, type CaseState, RESOLVED_STATES, SEVERITIES, type Severity } from './workflow.js';

/**
 * `slaStatus(…).<kind>.breached` as SQL, so the list can filter on it: the clock ran (until it stopped, else until
 * now) past the case's creation plus its severity's target. Unknown severities use the medium target, as there.
 */
function slaBreachedSql(policy: SlaPolicy, kind: 'acknowledge' | 'resolve', nowMs: number): SQL {
  const minutes = (s: Severity) => (kind === 'acknowledge' ? policy[s].acknowledgeMinutes : policy[s].resolveMinutes);
  const target = sql.join(
    SEVERITIES.map((s) => sql`when ${s} then ${minutes(s)}::int`),
    sql` `,
  );
  const stopped = kind === 'acknowledge' ? cases.acknowledgedAt : cases.resolvedAt;
  return sql`coalesce(${stopped}, ${new Date(nowMs).toISOString()}::timestamptz) > ${cases.createdAt} + (case ${cases.severity} ${target} else ${minutes('medium')}::int end) * interval '1 minute'`;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Newest first (case ids are time-ordered ULIDs), filtered; merged cases only when asked for by state. */
export async function listCases(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  input: ListCasesInput,
  clock: Clock,
): Promise<Page<CaseView>> {
  requireRole(actor, 'viewer');
  const q = parseInput(listCasesInput, input, 'case_query');
  const [after] = (decodeCursor(q.cursor, 1) ?? []) as string[];
  const where: SQL[] = [eq(cases.orgId, orgId)];
  where.push(q.state ? inArray(cases.state, q.state) : ne(cases.state, 'merged'));
  if (q.severity) where.push(inArray(cases.severity, q.severity));
  if (q.assignee === 'none') where.push(isNull(cases.assigneeId));
  else if (q.assignee) where.push(eq(cases.assigneeId, q.assignee));
  if (q.text) {
    const pattern = `%${escapeLike(q.text)}%`;
    where.push(or(ilike(cases.title, pattern), ilike(cases.description, pattern)) as SQL);
  }
  if (after !== undefined) where.push(lt(cases.id, after));
  return db.withTenant(orgId, async (tx) => {
    const alertOf = (cond: SQL) =>
      exists(
        tx
          .select({ one: caseAlerts.alertId })
          .from(caseAlerts)
          .innerJoin(alerts, and(eq(alerts.orgId, caseAlerts.orgId), eq(alerts.id, caseAlerts.alertId)))
          .where(and(eq(caseAlerts.orgId, orgId), eq(caseAlerts.caseId, cases.id), cond)),
      );
    const { sla } = await loadSettings(tx, orgId);
    const now = clock.now();
    if (q.slaBreached) {
      const ack = slaBreachedSql(sla, 'acknowledge', now);
      const res = slaBreachedSql(sla, 'resolve', now);
      where.push(q.slaBreached === 'acknowledge' ? ack : q.slaBreached === 'resolve' ? res : (or(ack, res) as SQL));
    }
    if (q.device) where.push(alertOf(eq(alerts.deviceId, q.device)));
    if (q.site) where.push(alertOf(eq(alerts.siteId, q.site)));
    const rows = await tx
      .select()
      .from(cases)
      .where(and(...where))
      .orderBy(desc(cases.id))
      .limit(q.limit + 1);
    const p = page(rows, q.limit, (r) => [r.id]);
    return { items: p.items.map((r) => toCaseView(r, sla, now)), nextCursor: p.nextCursor };
  });
}

export async function getCase(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
  clock: Clock,
): Promise<CaseView> {
  requireRole(actor, 'viewer');
  return db.withTenant(orgId, async (tx) => {
    const row = await loadCase(tx, orgId, caseId);
    const { sla } = await loadSettings(tx, orgId);
    return toCaseView(row, sla, clock.now());
  });
}

/**
 * Changes state, severity, assignee, title, description or technique tags. Every changed field gets its own
 * timeline entry (who, before, after). State changes follow the transition table; the first change out of `new`
 * stops the acknowledge clock, entering `resolved`/`false_positive` stops the resolve clock, reopening restarts it.
 */
export async function patchCase(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
  input: PatchCaseInput,
  clock: Clock,
): Promise<CaseView> {
  requireRole(actor, 'analyst');
  const p = parseInput(patchCaseInput, input, 'case_patch');
  const techniques = p.techniques === undefined ? undefined : normaliseTechniques(p.techniques);
  return db.withTenant(orgId, async (tx) => {
    const c = await loadCase(tx, orgId, caseId, true);
    if (c.state === 'merged') {
      throw new ConflictError('conflict.case_merged', 'the case was merged into another', {
        details: { mergedIntoId: c.mergedIntoId },
      });
    }
    if (p.version !== undefined && p.version !== c.version) {
      throw new ConflictError('conflict.case_version', 'the case changed since you loaded it', {
        details: { expected: p.version, actual: c.version },
      });
    }
    const now = new Date(clock.now());
    const set: Partial<typeof cases.$inferInsert> = {};
    const changes: [string, unknown, unknown][] = [];
    if (p.state !== undefined && p.state !== c.state) {
      const to = assertTransition(c.state as CaseState, p.state);
      set.state = to;
      if (c.acknowledgedAt === null) set.acknowledgedAt = now;
      set.resolvedAt = RESOLVED_STATES.includes(to) ? now : null;
      changes.push(['case.state', { state: c.state }, { state: to }]);
    }
    if (p.severity !== undefined && p.severity !== c.severity) {
      set.severity = p.severity;
      changes.push(['case.severity', { severity: c.severity }, { severity: p.severity }]);
    }
    if (p.assigneeId !== undefined && p.assigneeId !== c.assigneeId) {
      if (p.assigneeId !== null) {
        const [u] = await tx
          .select({ role: users.role, disabled: users.disabled })
          .from(users)
          .where(and(eq(users.orgId, orgId), eq(users.id, p.assigneeId)));
        if (!u) throw new NotFoundError('not_found.user', 'no such user in this organisation');
        if (u.disabled || u.role === 'viewer') {
          throw new ValidationError(
            'validation.assignee',
            'cases can be assigned only to enabled analysts and admins',
            {
              details: { role: u.role, disabled: u.disabled },
            },
          );
        }
      }
      set.assigneeId = p.assigneeId;
      changes.push(['case.assignee', { assigneeId: c.assigneeId }, { assigneeId: p.assigneeId }]);
    }
    if (p.title !== undefined && p.title !== c.title) {
      set.title = p.title;
      changes.push(['case.title', { title: c.title }, { title: p.title }]);
    }
    if (p.description !== undefined && p.description !== c.description) {
      set.description = p.description;
      changes.push(['case.description', { description: c.description }, { description: p.description }]);
    }
    if (techniques !== undefined && techniques.join() !== c.techniques.join()) {
      set.techniques = techniques;
      changes.push(['case.techniques', { techniques: c.techniques }, { techniques }]);
    }
    let row = c;
    if (changes.length > 0) {
      const [updated] = await tx
        .update(cases)
        .set({ ...set, updatedAt: now, version: c.version + 1 })
        .where(and(eq(cases.orgId, orgId), eq(cases.id, c.id)))
        .returning();
      row = updated ?? c;
      for (const [action, before, after] of changes)
        await recordTimeline(tx, orgId, c.id, actor, now, action, before, after);
    }
    const { sla } = await loadSettings(tx, orgId);
    return toCaseView(row, sla, now.getTime());
  });
}
