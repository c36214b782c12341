import { type Clock, ValidationError } from '@palisade/shared';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { CloudDatabase, Tx } from '../db/types.js';
import { type CaseActor, requireRole } from './actor.js';
import { recordAudit } from './audit.js';
import { caseSettings } from './schema.js';
import { DEFAULT_SLA, type SlaPolicy } from './sla.js';
import { SEVERITIES } from './workflow.js';

/** Approvals expire after 4 hours unless an admin sets another lifetime. */
export const DEFAULT_APPROVAL_TTL_MINUTES = 240;

export interface CaseSettings {
  sla: SlaPolicy;
  approvalTtlMinutes: number;
  updatedAt: string | null;
  updatedBy: string | null;
}

const minutes = z
  .number()
  .int()
  .min(1)
  .max(365 * 24 * 60);
const target = z
  .object({ acknowledgeMinutes: minutes, resolveMinutes: minutes })
  .refine((t) => t.acknowledgeMinutes <= t.resolveMinutes, 'acknowledgeMinutes must not exceed resolveMinutes');

export const caseSettingsInputSchema = z.object({
  sla: z
    .object(
      Object.fromEntries(SEVERITIES.map((s) => [s, target])) as Record<(typeof SEVERITIES)[number], typeof target>,
    )
    .partial()
    .optional(),
  approvalTtlMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .optional(),
});
export type CaseSettingsInput = z.infer<typeof caseSettingsInputSchema>;

export async function loadSettings(tx: Tx, orgId: string): Promise<CaseSettings> {
  const [row] = await tx.select().from(caseSettings).where(eq(caseSettings.orgId, orgId));
  if (!row) {
    return { sla: DEFAULT_SLA, approvalTtlMinutes: DEFAULT_APPROVAL_TTL_MINUTES, updatedAt: null, updatedBy: null };
  }
  return {
    sla: { ...DEFAULT_SLA, ...(row.sla as Partial<SlaPolicy>) },
    approvalTtlMinutes: row.approvalTtlMinutes,
    updatedAt: row.updatedAt.toISOString(),
    updatedBy: row.updatedBy,
  };
}

export async function getCaseSettings(db: CloudDatabase, orgId: string, actor: CaseActor): Promise<CaseSettings> {
  requireRole(actor, 'viewer');
  return db.withTenant(orgId, (tx) => loadSettings(tx, orgId));
}

/** Admin only: SLA targets per severity (partial updates merge) and the approval lifetime. */
export async function updateCaseSettings(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  input: CaseSettingsInput,
  clock: Clock,
): Promise<CaseSettings> {
  requireRole(actor, 'admin');
  const parsed = caseSettingsInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new ValidationError('validation.case_settings', 'invalid case settings', {
      details: { issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  return db.withTenant(orgId, async (tx) => {
    const before = await loadSettings(tx, orgId);
    const now = new Date(clock.now());
    const sla = { ...before.sla, ...parsed.data.sla } as SlaPolicy;
    const approvalTtlMinutes = parsed.data.approvalTtlMinutes ?? before.approvalTtlMinutes;
    await tx
      .insert(caseSettings)
      .values({ orgId, sla, approvalTtlMinutes, updatedAt: now, updatedBy: actor.id })
      .onConflictDoUpdate({
        target: caseSettings.orgId,
        set: { sla, approvalTtlMinutes, updatedAt: now, updatedBy: actor.id },
      });
    const after = { sla, approvalTtlMinutes, updatedAt: now.toISOString(), updatedBy: actor.id };
    await recordAudit(tx, orgId, actor, now, 'case_settings.update', 'case_settings', orgId, before, after);
    return after;
  });
}
