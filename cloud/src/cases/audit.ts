import { newId } from '@palisade/shared';
import type { Tx } from '../db/types.js';
import { auditLog } from '../tenancy/schema.js';
import type { CaseActor } from './actor.js';

/**
 * Writes a case-domain change to the organisation's audit log (who, what, before/after, from where), in the same
 * transaction as the change.
 */
export async function recordAudit(
  tx: Tx,
  orgId: string,
  actor: CaseActor,
  at: Date,
  action: string,
  targetType: string,
  targetId: string,
  before: unknown,
  after: unknown,
): Promise<void> {
  await tx.insert(auditLog).values({
    id: newId('aud', at.getTime()),
    orgId,
    at,
    actorKind: actor.kind,
    actorId: actor.id,
    action,
    targetType,
    targetId,
    before: before ?? null,
    after: after ?? null,
    sourceIp: actor.source?.ip ?? null,
    userAgent: actor.source?.userAgent?.slice(0, 256) ?? null,
  });
}
