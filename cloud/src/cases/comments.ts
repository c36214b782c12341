import { type Clock, ConflictError, newId, ValidationError } from '@palisade/shared';
import { and, asc, eq, gt } from 'drizzle-orm';
import { z } from 'zod';
import type { CloudDatabase } from '../db/types.js';
import { decodeCursor, page } from '../http/pagination.js';
import { type CaseActor, requireRole } from './actor.js';
import type { Page } from './case-service.js';
import { loadCase } from './case-store.js';
import { type CommentInput, commentInput, pageParams } from './inputs.js';
import { caseComments, caseTimeline } from './schema.js';
import { recordTimeline } from './timeline.js';
import { parseInput } from './validate.js';

export interface CommentView {
  id: string;
  caseId: string;
  authorKind: string;
  authorId: string;
  body: string;
  createdAt: string;
}

export interface TimelineEntryView {
  id: string;
  caseId: string;
  at: string;
  actorKind: string;
  actorId: string;
  action: string;
  before: unknown;
  after: unknown;
}

const pageInput = z.object(pageParams);
export type PageInput = z.input<typeof pageInput>;

export async function addComment(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
  input: CommentInput,
  clock: Clock,
): Promise<CommentView> {
  requireRole(actor, 'analyst');
  const { body } = parseInput(commentInput, input, 'comment');
  return db.withTenant(orgId, async (tx) => {
    const c = await loadCase(tx, orgId, caseId, true);
    if (c.state === 'merged') {
      throw new ConflictError('conflict.case_merged', 'comment on the case it was merged into', {
        details: { mergedIntoId: c.mergedIntoId },
      });
    }
    const now = new Date(clock.now());
    const row = {
      id: newId('cmt', now.getTime()),
      orgId,
      caseId,
      authorKind: actor.kind,
      authorId: actor.id,
      body,
      createdAt: now,
    };
    await tx.insert(caseComments).values(row);
    await recordTimeline(tx, orgId, caseId, actor, now, 'comment.added', null, { commentId: row.id });
    return {
      id: row.id,
      caseId,
      authorKind: row.authorKind,
      authorId: row.authorId,
      body,
      createdAt: now.toISOString(),
    };
  });
}

/** Oldest first, so a conversation reads top-down. */
export async function listComments(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
  input: PageInput,
): Promise<Page<CommentView>> {
  requireRole(actor, 'viewer');
  const q = parseInput(pageInput, input, 'page_query');
  const [after] = (decodeCursor(q.cursor, 1) ?? []) as string[];
  return db.withTenant(orgId, async (tx) => {
    await loadCase(tx, orgId, caseId);
    const rows = await tx
      .select()
      .from(caseComments)
      .where(
        and(
          eq(caseComments.orgId, orgId),
          eq(caseComments.caseId, caseId),
          after === undefined ? undefined : gt(caseComments.id, after),
        ),
      )
      .orderBy(asc(caseComments.id))
      .limit(q.limit + 1);
    const p = page(rows, q.limit, (r) => [r.id]);
    return {
      items: p.items.map((r) => ({
        id: r.id,
        caseId: r.caseId,
        authorKind: r.authorKind,
        authorId: r.authorId,
        body: r.body,
        createdAt: r.createdAt.toISOString(),
      })),
      nextCursor: p.nextCursor,
    };
  });
}

/** Every change to the case, oldest first (entries moved in by a merge keep their original times). */
export async function listTimeline(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
  input: PageInput,
): Promise<Page<TimelineEntryView>> {
  requireRole(actor, 'viewer');
  const q = parseInput(pageInput, input, 'page_query');
  const [after] = (decodeCursor(q.cursor, 1) ?? []) as number[];
  if (after !== undefined && !Number.isSafeInteger(after))
    throw new ValidationError('validation.cursor', 'invalid cursor');
  return db.withTenant(orgId, async (tx) => {
    await loadCase(tx, orgId, caseId);
    const rows = await tx
      .select()
      .from(caseTimeline)
      .where(
        and(
          eq(caseTimeline.orgId, orgId),
          eq(caseTimeline.caseId, caseId),
          after === undefined ? undefined : gt(caseTimeline.seq, after),
        ),
      )
      .orderBy(asc(caseTimeline.seq))
      .limit(q.limit + 1);
    const p = page(rows, q.limit, (r) => [r.seq]);
    return {
      items: p.items.map((r) => ({
        id: r.id,
        caseId: r.caseId,
        at: r.at.toISOString(),
        actorKind: r.actorKind,
        actorId: r.actorId,
        action: r.action,
        before: r.before,
        after: r.after,
      })),
      nextCursor: p.nextCursor,
    };
  });
}
