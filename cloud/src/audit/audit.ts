import { newId } from '@palisade/shared';
import type { Tx } from '../db/types.js';
import type { Principal, RequestSource } from '../http/env.js';
import { auditLog } from '../tenancy/schema.js';

export interface AuditEntry {
  /** Dotted verb: `user.create`, `api_key.revoke`, `gateway.enroll`. */
  action: string;
  targetType: string;
  targetId: string;
  before?: unknown;
  after?: unknown;
}

/** Actor of changes made by the service itself (first-start bootstrap). */
export const SYSTEM_ACTOR = { kind: 'system', id: 'system' } as const;

/**
 * Records a change in the same transaction as the change itself, so there is never a change without its entry
 * (or an entry for a change that rolled back). Secrets must not be passed in before/after.
 */
export async function recordAudit(
  tx: Tx,
  orgId: string,
  actor: Principal | typeof SYSTEM_ACTOR,
  source: RequestSource | undefined,
  entry: AuditEntry,
  now: number,
): Promise<void> {
  await tx.insert(auditLog).values({
    id: newId('aud', now),
    orgId,
    at: new Date(now),
    actorKind: actor.kind,
    actorId: actor.id,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    before: entry.before ?? null,
    after: entry.after ?? null,
    sourceIp: source?.ip ?? null,
    userAgent: source?.userAgent?.slice(0, 256) ?? null,
  });
}
