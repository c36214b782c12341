import { bigserial, index, integer, jsonb, pgTable, primaryKey, real, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { alerts } from '../alerts/schema.js';
import { ts } from '../db/columns.js';
import { tenantPolicy } from '../db/tenancy.js';
import { organizations } from '../tenancy/schema.js';

/** An investigation grouping correlated alerts. `state` follows the transition table in `workflow.ts`. */
export const cases = pgTable(
  'cases',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id),
    title: text('title').notNull(),
    description: text('description').notNull().default(''),
    state: text('state').notNull(),
    severity: text('severity').notNull(),
    assigneeId: text('assignee_id'),
    techniques: jsonb('techniques').$type<string[]>().notNull().default([]),
    alertCount: integer('alert_count').notNull().default(0),
    /** Earliest and latest device event time among the case's alerts. */
    firstEventAt: ts('first_event_at'),
    lastEventAt: ts('last_event_at'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    /** Stops the time-to-acknowledge clock: the first change that takes the case out of `new`. */
    acknowledgedAt: ts('acknowledged_at'),
    /** Stops the time-to-resolve clock: entering `resolved` or `false_positive` (cleared on reopen). */
    resolvedAt: ts('resolved_at'),
    mergedIntoId: text('merged_into_id'),
    /** Raised on every change; a PATCH carrying a stale version is refused. */
    version: integer('version').notNull().default(1),
  },
  (t) => [index('cases_org_state').on(t.orgId, t.state), tenantPolicy('cases', t.orgId)],
);

/** Which case an alert belongs to and why: the correlation strategy and its score. One case per alert. */
export const caseAlerts = pgTable(
  'case_alerts',
  {
    orgId: text('org_id').notNull(),
    alertId: text('alert_id')
      .notNull()
      .references(() => alerts.id),
    caseId: text('case_id')
      .notNull()
      .references(() => cases.id),
    strategy: text('strategy').notNull(),
    score: real('score').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    linkedAt: ts('linked_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.alertId] }),
    index('case_alerts_case').on(t.orgId, t.caseId),
    tenantPolicy('case_alerts', t.orgId),
  ],
);

/** Every change to a case: who, what, before/after. Append-only. */
export const caseTimeline = pgTable(
  'case_timeline',
  {
    id: text('id').primaryKey(),
    /** Insertion order: entries written in the same millisecond still list in the order they happened. */
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    orgId: text('org_id').notNull(),
    caseId: text('case_id')
      .notNull()
      .references(() => cases.id),
    at: ts('at').notNull(),
    actorKind: text('actor_kind').notNull(),
    actorId: text('actor_id').notNull(),
    action: text('action').notNull(),
    before: jsonb('before'),
    after: jsonb('after'),
  },
  (t) => [index('case_timeline_case').on(t.orgId, t.caseId, t.seq), tenantPolicy('case_timeline', t.orgId)],
);

export const caseComments = pgTable(
  'case_comments',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    caseId: text('case_id')
      .notNull()
      .references(() => cases.id),
    authorKind: text('author_kind').notNull(),
    authorId: text('author_id').notNull(),
    body: text('body').notNull(),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [index('case_comments_case').on(t.orgId, t.caseId), tenantPolicy('case_comments', t.orgId)],
);

/** Indicators of compromise, unique by (type, value) within an organisation; cases reference them. */
export const iocs = pgTable(
  'iocs',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id),
    type: text('type').notNull(),
    value: text('value').notNull(),
    firstSeenAt: ts('first_seen_at').notNull(),
    lastSeenAt: ts('last_seen_at').notNull(),
  },
  (t) => [uniqueIndex('iocs_org_type_value').on(t.orgId, t.type, t.value), tenantPolicy('iocs', t.orgId)],
);

export const caseIocs = pgTable(
  'case_iocs',
  {
    orgId: text('org_id').notNull(),
    caseId: text('case_id')
      .notNull()
      .references(() => cases.id),
    iocId: text('ioc_id')
      .notNull()
      .references(() => iocs.id),
    note: text('note'),
    addedBy: text('added_by').notNull(),
    addedAt: ts('added_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.caseId, t.iocId] }), tenantPolicy('case_iocs', t.orgId)],
);

/**
 * Human approvals gating a risky action on a case. `status` is what was decided; a pending approval past
 * `expires_at` is expired (computed from the clock) and can no longer be approved.
 */
export const caseApprovals = pgTable(
  'case_approvals',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    caseId: text('case_id')
      .notNull()
      .references(() => cases.id),
    action: text('action').notNull(),
    reason: text('reason').notNull().default(''),
    status: text('status').notNull(),
    requestedBy: text('requested_by').notNull(),
    requestedAt: ts('requested_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
    decidedBy: text('decided_by'),
    decidedAt: ts('decided_at'),
    decisionNote: text('decision_note'),
  },
  (t) => [index('case_approvals_case').on(t.orgId, t.caseId), tenantPolicy('case_approvals', t.orgId)],
);

/** Per-organisation case settings (admin only): SLA targets per severity and the approval lifetime. */
export const caseSettings = pgTable(
  'case_settings',
  {
    orgId: text('org_id')
      .primaryKey()
      .references(() => organizations.id),
    sla: jsonb('sla').$type<Record<string, { acknowledgeMinutes: number; resolveMinutes: number }>>().notNull(),
    approvalTtlMinutes: integer('approval_ttl_minutes').notNull(),
    updatedAt: ts('updated_at').notNull(),
    updatedBy: text('updated_by').notNull(),
  },
  (t) => [tenantPolicy('case_settings', t.orgId)],
);

export type CaseRow = typeof cases.$inferSelect;
export type CaseAlertRow = typeof caseAlerts.$inferSelect;
export type TimelineRow = typeof caseTimeline.$inferSelect;
export type ApprovalRow = typeof caseApprovals.$inferSelect;
