import { NotFoundError } from '@palisade/shared';
import { and, eq } from 'drizzle-orm';
import type { Tx } from '../db/types.js';
import { type CaseRow, cases } from './schema.js';
import type { SlaPolicy, SlaStatus } from './sla.js';
import { slaStatus } from './sla.js';
import { type CaseState, TRANSITIONS } from './workflow.js';

/** A case as the API shows it: the row, its SLA clocks computed now, and the states it may move to. */
export interface CaseView {
  id: string;
  title: string;
  description: string;
  state: string;
  severity: string;
  assigneeId: string | null;
  techniques: string[];
  alertCount: number;
  firstEventAt: string | null;
  lastEventAt: string | null;
  createdAt: string;
  updatedAt: string;
  acknowledgedAt: string | null;
  resolvedAt: string | null;
  mergedIntoId: string | null;
  version: number;
  allowedTransitions: string[];
  sla: SlaStatus;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toCaseView(c: CaseRow, policy: SlaPolicy, nowMs: number): CaseView {
  return {
    id: c.id,
    title: c.title,
    description: c.description,
    state: c.state,
    severity: c.severity,
    assigneeId: c.assigneeId,
    techniques: c.techniques,
    alertCount: c.alertCount,
    firstEventAt: iso(c.firstEventAt),
    lastEventAt: iso(c.lastEventAt),
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    acknowledgedAt: iso(c.acknowledgedAt),
    resolvedAt: iso(c.resolvedAt),
    mergedIntoId: c.mergedIntoId,
    version: c.version,
    allowedTransitions: [...(TRANSITIONS[c.state as CaseState] ?? [])],
    sla: slaStatus(c, policy, nowMs),
  };
}

/** The case, locked for the rest of the transaction when `forUpdate`; `not_found.case` when not visible. */
export async function loadCase(tx: Tx, orgId: string, caseId: string, forUpdate = false): Promise<CaseRow> {
  const q = tx
    .select()
    .from(cases)
    .where(and(eq(cases.orgId, orgId), eq(cases.id, caseId)));
  const [row] = forUpdate ? await q.for('update') : await q;
  if (!row) throw new NotFoundError('not_found.case', 'no such case', { details: { caseId } });
  return row;
}
