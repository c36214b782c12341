import { z } from '@hono/zod-openapi';

/** Response shapes of the case and alert API, for validation of nothing but the OpenAPI document. */

const slaClock = z.object({
  targetMinutes: z.number(),
  dueAt: z.string(),
  elapsedMs: z.number(),
  stoppedAt: z.string().nullable(),
  breached: z.boolean(),
});

export const caseView = z
  .object({
    id: z.string(),
    title: z.string(),
    description: z.string(),
    state: z.string(),
    severity: z.string(),
    assigneeId: z.string().nullable(),
    techniques: z.array(z.string()),
    alertCount: z.number(),
    firstEventAt: z.string().nullable(),
    lastEventAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    acknowledgedAt: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    mergedIntoId: z.string().nullable(),
    version: z.number(),
    allowedTransitions: z.array(z.string()),
    sla: z.object({ acknowledge: slaClock, resolve: slaClock }),
  })
  .openapi('Case');

export const commentView = z
  .object({
    id: z.string(),
    caseId: z.string(),
    authorKind: z.string(),
    authorId: z.string(),
    body: z.string(),
    createdAt: z.string(),
  })
  .openapi('CaseComment');

export const timelineEntryView = z
  .object({
    id: z.string(),
    caseId: z.string(),
    at: z.string(),
    actorKind: z.string(),
    actorId: z.string(),
    action: z.string(),
    before: z.unknown(),
    after: z.unknown(),
  })
  .openapi('CaseTimelineEntry');

export const iocView = z
  .object({
    id: z.string(),
    type: z.string(),
    value: z.string(),
    firstSeenAt: z.string(),
    lastSeenAt: z.string(),
    note: z.string().nullable(),
    addedBy: z.string(),
    addedAt: z.string(),
  })
  .openapi('Ioc');

export const approvalView = z
  .object({
    id: z.string(),
    caseId: z.string(),
    action: z.string(),
    reason: z.string(),
    status: z.enum(['pending', 'approved', 'rejected', 'expired']),
    requestedBy: z.string(),
    requestedAt: z.string(),
    expiresAt: z.string(),
    decidedBy: z.string().nullable(),
    decidedAt: z.string().nullable(),
    decisionNote: z.string().nullable(),
  })
  .openapi('CaseApproval');

export const orgIocView = z
  .object({
    id: z.string(),
    type: z.string(),
    value: z.string(),
    firstSeenAt: z.string(),
    lastSeenAt: z.string(),
    caseIds: z.array(z.string()),
  })
  .openapi('OrgIoc');

const slaTarget = z.object({ acknowledgeMinutes: z.number(), resolveMinutes: z.number() });
export const settingsView = z
  .object({
    sla: z.record(z.string(), slaTarget),
    approvalTtlMinutes: z.number(),
    updatedAt: z.string().nullable(),
    updatedBy: z.string().nullable(),
  })
  .openapi('CaseSettings');

export const alertView = z
  .object({
    id: z.string(),
    siteId: z.string(),
    gatewayId: z.string(),
    sourceAlertId: z.string().nullable(),
    deviceId: z.string().nullable(),
    type: z.string(),
    severity: z.string(),
    title: z.string(),
    description: z.string(),
    firmwareMeasurement: z.string().nullable(),
    techniques: z.array(z.string()),
    occurredAt: z.string(),
    lastSeenAt: z.string(),
    receivedAt: z.string(),
    count: z.number(),
    contentHash: z.string(),
    details: z.record(z.string(), z.unknown()),
    link: z
      .object({
        caseId: z.string(),
        strategy: z.string(),
        score: z.number(),
        details: z.record(z.string(), z.unknown()),
        linkedAt: z.string(),
      })
      .nullable(),
  })
  .openapi('Alert');

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
