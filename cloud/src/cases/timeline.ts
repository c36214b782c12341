import { newId } from '@palisade/shared';
import type { Tx } from '../db/types.js';
import type { CaseActor } from './actor.js';
import { recordAudit } from './audit.js';
import { caseTimeline } from './schema.js';

/**
 * Appends one timeline entry: who did what to the case, with the values before and after. Changes made by people
 * or API keys also go to the organisation's audit log; the correlator's own changes stay on the timeline only.
 */
export async function recordTimeline(
  tx: Tx,
  orgId: string,
  caseId: string,
  actor: CaseActor,
  at: Date,
  action: string,
  before: unknown,
  after: unknown,
): Promise<void> {
  await tx.insert(caseTimeline).values({
    id: newId('tl', at.getTime()),
    orgId,
    caseId,
    at,
    actorKind: actor.kind,
    actorId: actor.id,
    action,
    before: before ?? null,
    after: after ?? null,
  });
  if (actor.kind !== 'system') await recordAudit(tx, orgId, actor, at, action, 'case', caseId, before, after);
}
