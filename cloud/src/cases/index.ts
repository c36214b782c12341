/**
 * Cases: investigations grouping correlated alerts.
 * - Correlation (`correlate.ts`) runs at alert ingest: same device, same firmware cohort, same site, similar text,
 *   within windows of device event time; each link keeps its strategy and score.
 * - Workflow (`workflow.ts`): new → triaged → investigating → contained → resolved | false_positive, with an
 *   explicit transition table; `merged` only by merging.
 * - Service functions take `(db, orgId, actor, …)`, check the actor's role (viewer reads, analyst works cases,
 *   admin also decides approvals and configures SLAs) and run in one tenant transaction each; every change is on
 *   the case's timeline and, for people, in the audit log.
 * - HTTP: `registerCaseRoutes(app, deps)` mounts `/api/v1/cases…` and `/api/v1/alerts…`.
 */
export { type CaseActor, SYSTEM_ACTOR } from './actor.js';
export {
  type ApprovalStatus,
  type ApprovalView,
  approvalStatus,
  decideApproval,
  type ListApprovalsInput,
  listApprovals,
  listApprovalsPage,
  requestApproval,
} from './approvals.js';
export { getCase, listCases, type Page, patchCase } from './case-service.js';
export type { CaseView } from './case-store.js';
export { addComment, type CommentView, listComments, listTimeline, type TimelineEntryView } from './comments.js';
export {
  type CorrelationOutcome,
  type CorrelationPolicy,
  type CorrelationStrategy,
  correlateAlert,
  DEFAULT_CORRELATION,
} from './correlate.js';
export {
  addCaseIoc,
  type IocView,
  type ListCaseIocsInput,
  type ListIocsInput,
  listCaseIocs,
  listCaseIocsPage,
  listIocs,
  normaliseIoc,
  type OrgIocView,
  removeCaseIoc,
} from './iocs.js';
export { mergeCases } from './merge.js';
export { ICS_TECHNIQUES, normaliseTechniques } from './mitre.js';
export { caseRoutes, registerCaseRoutes } from './routes.js';
export { type CaseSettings, getCaseSettings, updateCaseSettings } from './settings.js';
export { DEFAULT_SLA, type SlaPolicy, type SlaStatus, slaStatus } from './sla.js';
export { CASE_STATES, type CaseState, SEVERITIES, type Severity, TRANSITIONS } from './workflow.js';
