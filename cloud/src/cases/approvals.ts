import { AuthError, type Clock, ConflictError, NotFoundError, newId, PAGE_LIMIT_MAX } from '@palisade/shared';
import { and, asc, eq, gt, lte, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { CloudDatabase } from '../db/types.js';
import { decodeCursor, page } from '../http/pagination.js';
import { type CaseActor, requireRole } from './actor.js';
import type { Page } from './case-service.js';
import { loadCase } from './case-store.js';
import {
  type ApprovalDecisionInput,
  type ApprovalRequestInput,
  approvalDecisionInput,
  approvalRequestInput,
  pageParams,
} from './inputs.js';
import { type ApprovalRow, caseApprovals } from './schema.js';
import { loadSettings } from './settings.js';
import { recordTimeline } from './timeline.js';
import { parseInput } from './validate.js';

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

export interface ApprovalView {
  id: string;
  caseId: string;
  action: string;
  reason: string;
  /** `expired` is computed: a pending approval whose `expiresAt` has passed. */
  status: ApprovalStatus;
  requestedBy: string;
  requestedAt: string;
  expiresAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionNote: string | null;
}

export function approvalStatus(a: Pick<ApprovalRow, 'status' | 'expiresAt'>, nowMs: number): ApprovalStatus {
  if (a.status === 'pending' && nowMs >= a.expiresAt.getTime()) return 'expired';
  return a.status as ApprovalStatus;
}

function toView(a: ApprovalRow, nowMs: number): ApprovalView {
  return {
    id: a.id,
    caseId: a.caseId,
    action: a.action,
    reason: a.reason,
    status: approvalStatus(a, nowMs),
    requestedBy: a.requestedBy,
    requestedAt: a.requestedAt.toISOString(),
    expiresAt: a.expiresAt.toISOString(),
    decidedBy: a.decidedBy,
    decidedAt: a.decidedAt?.toISOString() ?? null,
    decisionNote: a.decisionNote,
  };
}

/**
 * An analyst asks for a human decision on a risky action. It expires after the requested lifetime, capped at the
 * organisation's approval lifetime (4 hours by default), so a stale "yes" can never authorise an action later.
 */
export async function requestApproval(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
  input: ApprovalRequestInput,
  clock: Clock,
): Promise<ApprovalView> {
  requireRole(actor, 'analyst');
  const r = parseInput(approvalRequestInput, input, 'approval_request');
  return db.withTenant(orgId, async (tx) => {
    const c = await loadCase(tx, orgId, caseId, true);
    if (c.state === 'merged') {
      throw new ConflictError('conflict.case_merged', 'request approvals on the case it was merged into', {
        details: { mergedIntoId: c.mergedIntoId },
      });
    }
    const { approvalTtlMinutes } = await loadSettings(tx, orgId);
    const ttl = Math.min(r.ttlMinutes ?? approvalTtlMinutes, approvalTtlMinutes);
    const now = new Date(clock.now());
    const [row] = await tx
      .insert(caseApprovals)
      .values({
        id: newId('apr', now.getTime()),
        orgId,
        caseId,
        action: r.action,
        reason: r.reason,
        status: 'pending',
        requestedBy: actor.id,
        requestedAt: now,
        expiresAt: new Date(now.getTime() + ttl * 60_000),
      })
      .returning();
    if (!row) throw new ConflictError('conflict.approval', 'the approval could not be stored');
    await recordTimeline(tx, orgId, caseId, actor, now, 'approval.requested', null, {
      approvalId: row.id,
      action: r.action,
      expiresAt: row.expiresAt.toISOString(),
    });
    return toView(row, now.getTime());
  });
}

/**
 * An admin approves or rejects a pending request. Refused: a decided request (`conflict.approval_decided`), an
 * expired one (`conflict.approval_expired` — it must be requested again), and a decision by the person who asked
 * (`auth.self_approval`: approvals are a second pair of eyes).
 */
export async function decideApproval(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
  approvalId: string,
  input: ApprovalDecisionInput,
  clock: Clock,
): Promise<ApprovalView> {
  requireRole(actor, 'admin');
  const d = parseInput(approvalDecisionInput, input, 'approval_decision');
  return db.withTenant(orgId, async (tx) => {
    const [a] = await tx
      .select()
      .from(caseApprovals)
      .where(and(eq(caseApprovals.orgId, orgId), eq(caseApprovals.caseId, caseId), eq(caseApprovals.id, approvalId)))
      .for('update');
    if (!a) throw new NotFoundError('not_found.approval', 'no such approval on this case');
    const now = new Date(clock.now());
    const status = approvalStatus(a, now.getTime());
    if (status === 'expired') {
      throw new ConflictError('conflict.approval_expired', 'the approval expired; request it again', {
        details: { expiresAt: a.expiresAt.toISOString() },
      });
    }
    if (status !== 'pending') {
      throw new ConflictError('conflict.approval_decided', `the approval was already ${status}`, {
        details: { status },
      });
    }
    if (a.requestedBy === actor.id) {
      throw new AuthError('auth.self_approval', 'an approval must be decided by someone other than its requester');
    }
    const next = d.decision === 'approve' ? 'approved' : 'rejected';
    const [row] = await tx
      .update(caseApprovals)
      .set({ status: next, decidedBy: actor.id, decidedAt: now, decisionNote: d.note ?? null })
      .where(and(eq(caseApprovals.orgId, orgId), eq(caseApprovals.id, a.id)))
      .returning();
    await recordTimeline(
      tx,
      orgId,
      caseId,
      actor,
      now,
      `approval.${next}`,
      { approvalId: a.id, status: 'pending' },
      {
        approvalId: a.id,
        status: next,
        note: d.note ?? null,
      },
    );
    return toView(row ?? a, now.getTime());
  });
}

export const listApprovalsInput = z.object({
  ...pageParams,
  status: z.enum(['pending', 'approved', 'rejected', 'expired']).optional(),
});
export type ListApprovalsInput = z.input<typeof listApprovalsInput>;

/** A case's approvals, oldest first, optionally by (effective) status. */
export async function listApprovalsPage(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
  input: ListApprovalsInput,
  clock: Clock,
): Promise<Page<ApprovalView>> {
  requireRole(actor, 'viewer');
  const q = parseInput(listApprovalsInput, input, 'approval_query');
  const [after] = (decodeCursor(q.cursor, 1) ?? []) as string[];
  const now = clock.now();
  const where: (SQL | undefined)[] = [eq(caseApprovals.orgId, orgId), eq(caseApprovals.caseId, caseId)];
  if (after !== undefined) where.push(gt(caseApprovals.id, String(after)));
  if (q.status === 'expired' || q.status === 'pending') {
    where.push(eq(caseApprovals.status, 'pending'));
    where.push(
      q.status === 'expired' ? lte(caseApprovals.expiresAt, new Date(now)) : gt(caseApprovals.expiresAt, new Date(now)),
    );
  } else if (q.status) {
    where.push(eq(caseApprovals.status, q.status));
  }
  return db.withTenant(orgId, async (tx) => {
    await loadCase(tx, orgId, caseId);
    const rows = await tx
      .select()
      .from(caseApprovals)
      .where(and(...where))
      .orderBy(asc(caseApprovals.id))
      .limit(q.limit + 1);
    const p = page(rows, q.limit, (r) => [r.id]);
    return { items: p.items.map((r) => toView(r, now)), nextCursor: p.nextCursor };
  });
}

/** All of a case's approvals (up to the page maximum), for views that show them at once. */
export async function listApprovals(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
  clock: Clock,
): Promise<ApprovalView[]> {
  return (await listApprovalsPage(db, orgId, actor, caseId, { limit: PAGE_LIMIT_MAX }, clock)).items;
}
