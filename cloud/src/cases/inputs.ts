import { z } from '@hono/zod-openapi';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '@palisade/shared';
import { CASE_STATES, SEVERITIES } from './workflow.js';

/** Request shapes of the case API; the services validate with them too, so a direct caller gets the same checks. */

const id = z.string().min(1).max(64);
const csv = <T extends string>(values: readonly [T, ...T[]]) =>
  z
    .string()
    .max(200)
    .transform((s, ctx) => {
      const parts = s
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '');
      for (const p of parts) {
        if (!(values as readonly string[]).includes(p)) {
          ctx.addIssue({ code: 'custom', message: `unknown value ${p.slice(0, 30)}; one of ${values.join(', ')}` });
          return z.NEVER;
        }
      }
      return parts as T[];
    });

export const pageParams = {
  limit: z.coerce.number().int().min(1).max(PAGE_LIMIT_MAX).default(PAGE_LIMIT_DEFAULT),
  cursor: z.string().max(512).optional(),
};

export const listCasesInput = z.object({
  ...pageParams,
  state: csv(CASE_STATES).optional().openapi({ description: 'comma-separated states; default: all but merged' }),
  severity: csv(SEVERITIES).optional().openapi({ description: 'comma-separated severities' }),
  assignee: z.string().max(64).optional().openapi({ description: 'a user id, or `none` for unassigned cases' }),
  device: z.string().max(64).optional().openapi({ description: 'cases with an alert from this device' }),
  site: z.string().max(64).optional().openapi({ description: 'cases with an alert from this site' }),
  text: z.string().min(1).max(200).optional().openapi({ description: 'substring of title or description' }),
  slaBreached: z
    .enum(['acknowledge', 'resolve', 'any'])
    .optional()
    .openapi({ description: 'cases whose acknowledge / resolve / either SLA clock is breached now' }),
});
export type ListCasesInput = z.input<typeof listCasesInput>;

export const patchCaseInput = z
  .object({
    state: z.enum(CASE_STATES).optional(),
    severity: z.enum(SEVERITIES).optional(),
    assigneeId: id.nullable().optional().openapi({ description: 'a user of the organisation; null unassigns' }),
    title: z.string().min(1).max(500).optional(),
    description: z.string().max(10_000).optional(),
    techniques: z
      .array(z.string().max(16))
      .max(64)
      .optional()
      .openapi({ description: 'ATT&CK for ICS ids, replaces the set' }),
    version: z.number().int().min(1).optional().openapi({ description: 'refuse the change if the case has moved on' }),
  })
  .refine((p) => Object.keys(p).some((k) => k !== 'version'), 'nothing to change');
export type PatchCaseInput = z.input<typeof patchCaseInput>;

export const commentInput = z.object({ body: z.string().trim().min(1).max(10_000) });
export type CommentInput = z.input<typeof commentInput>;

export const mergeInput = z.object({
  sourceCaseIds: z.array(id).min(1).max(50).openapi({ description: 'cases merged INTO the path case and closed' }),
  note: z.string().max(2000).optional(),
});
export type MergeInput = z.input<typeof mergeInput>;

export const IOC_TYPES = [
  'ip',
  'domain',
  'url',
  'email',
  'md5',
  'sha1',
  'sha256',
  'mac',
  'device_id',
  'cert_serial',
  'firmware_measurement',
] as const;
export type IocType = (typeof IOC_TYPES)[number];

export const iocInput = z.object({
  type: z.enum(IOC_TYPES),
  value: z.string().trim().min(1).max(2048),
  note: z.string().max(2000).optional(),
});
export type IocInput = z.input<typeof iocInput>;

export const approvalRequestInput = z.object({
  action: z
    .string()
    .regex(/^[a-z][a-z0-9_.-]{0,63}$/)
    .openapi({ description: 'what is to be approved, e.g. device.quarantine' }),
  reason: z.string().max(2000).default(''),
  ttlMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .optional()
    .openapi({
      description: "lifetime; capped at the organisation's approval lifetime",
    }),
});
export type ApprovalRequestInput = z.input<typeof approvalRequestInput>;

export const approvalDecisionInput = z.object({
  decision: z.enum(['approve', 'reject']),
  note: z.string().max(2000).optional(),
});
export type ApprovalDecisionInput = z.input<typeof approvalDecisionInput>;
