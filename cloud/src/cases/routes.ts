import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getAlert, listAlerts, listAlertsInput } from '../alerts/service.js';
import { member, requireRole } from '../auth/roles.js';
import type { CloudDeps } from '../http/deps.js';
import type { AppEnv } from '../http/env.js';
import { newRouter } from '../http/router.js';
import type { CaseActor } from './actor.js';
import { decideApproval, listApprovalsInput, listApprovalsPage, requestApproval } from './approvals.js';
import { getCase, listCases, patchCase } from './case-service.js';
import { addComment, listComments, listTimeline } from './comments.js';
import {
  approvalDecisionInput,
  approvalRequestInput,
  commentInput,
  iocInput,
  listCasesInput,
  mergeInput,
  pageParams,
  patchCaseInput,
} from './inputs.js';
import { addCaseIoc, listCaseIocsInput, listCaseIocsPage, listIocs, listIocsInput, removeCaseIoc } from './iocs.js';
import { mergeCases } from './merge.js';
import { ICS_TECHNIQUES } from './mitre.js';
import { caseSettingsInputSchema, getCaseSettings, updateCaseSettings } from './settings.js';
import {
  alertView,
  approvalView,
  caseView,
  commentView,
  iocView,
  orgIocView,
  pageOf,
  settingsView,
  timelineEntryView,
} from './views.js';

const json = <T extends z.ZodType>(schema: T, description = 'OK') => ({
  content: { 'application/json': { schema } },
  description,
});
const body = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } }, required: true });
const id = z.string().min(1).max(64);
const caseParams = z.object({ id });
const pageQuery = z.object(pageParams);

/** The calling user or API key as a case actor, with its organisation. Gateways are refused. */
function caller(c: Context<AppEnv>): { orgId: string; actor: CaseActor } {
  const p = member(c.get('principal'));
  return { orgId: p.orgId, actor: { kind: p.kind, id: p.id, role: p.role, source: c.get('source') } };
}

/**
 * `/api/v1/cases…` and `/api/v1/alerts…`. Role rules (checked by the route guard and again by every service):
 * viewer reads; analyst works cases (patch, comment, merge, IOCs, request approvals); admin also decides approvals
 * and sets the SLA / approval configuration. Query strings are handed to the services as received, so the same
 * schemas validate HTTP and direct callers.
 */
export function caseRoutes(deps: CloudDeps): OpenAPIHono<AppEnv> {
  const { database: db, clock } = deps;
  const r = newRouter();

  // Static paths first, so `/cases/settings` is never taken for a case id.
  r.openapi(
    createRoute({
      method: 'get',
      path: '/cases/settings',
      tags: ['cases'],
      summary: 'SLA targets per severity and the approval lifetime',
      middleware: [requireRole('viewer')] as const,
      responses: { 200: json(settingsView) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await getCaseSettings(db, orgId, actor), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'put',
      path: '/cases/settings',
      tags: ['cases'],
      summary: 'Set SLA targets (partial, per severity) and the approval lifetime (admin)',
      middleware: [requireRole('admin')] as const,
      request: { body: body(caseSettingsInputSchema) },
      responses: { 200: json(settingsView) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await updateCaseSettings(db, orgId, actor, c.req.valid('json'), clock), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/cases/techniques',
      tags: ['cases'],
      summary: 'The MITRE ATT&CK for ICS techniques cases can be tagged with',
      middleware: [requireRole('viewer')] as const,
      responses: { 200: json(z.object({ items: z.array(z.object({ id: z.string(), name: z.string() })) })) },
    }),
    (c) => c.json({ items: Object.entries(ICS_TECHNIQUES).map(([tid, name]) => ({ id: tid, name })) }, 200),
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/cases',
      tags: ['cases'],
      summary: 'Cases, newest first, with filters',
      middleware: [requireRole('viewer')] as const,
      request: { query: listCasesInput },
      responses: { 200: json(pageOf(caseView)) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await listCases(db, orgId, actor, c.req.query(), clock), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/cases/{id}',
      tags: ['cases'],
      middleware: [requireRole('viewer')] as const,
      request: { params: caseParams },
      responses: { 200: json(caseView) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await getCase(db, orgId, actor, c.req.valid('param').id, clock), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'patch',
      path: '/cases/{id}',
      tags: ['cases'],
      summary: 'Change state (per the transition table), severity, assignee, title, description or techniques',
      middleware: [requireRole('analyst')] as const,
      request: { params: caseParams, body: body(patchCaseInput) },
      responses: { 200: json(caseView) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await patchCase(db, orgId, actor, c.req.valid('param').id, c.req.valid('json'), clock), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/cases/{id}/timeline',
      tags: ['cases'],
      middleware: [requireRole('viewer')] as const,
      request: { params: caseParams, query: pageQuery },
      responses: { 200: json(pageOf(timelineEntryView)) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await listTimeline(db, orgId, actor, c.req.valid('param').id, c.req.query()), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/cases/{id}/comments',
      tags: ['cases'],
      middleware: [requireRole('viewer')] as const,
      request: { params: caseParams, query: pageQuery },
      responses: { 200: json(pageOf(commentView)) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await listComments(db, orgId, actor, c.req.valid('param').id, c.req.query()), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/cases/{id}/comments',
      tags: ['cases'],
      middleware: [requireRole('analyst')] as const,
      request: { params: caseParams, body: body(commentInput) },
      responses: { 201: json(commentView, 'Created') },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await addComment(db, orgId, actor, c.req.valid('param').id, c.req.valid('json'), clock), 201);
    },
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/cases/{id}/merge',
      tags: ['cases'],
      summary: 'Merge other cases into this one; they close as merged with a pointer here',
      middleware: [requireRole('analyst')] as const,
      request: { params: caseParams, body: body(mergeInput) },
      responses: { 200: json(caseView) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await mergeCases(db, orgId, actor, c.req.valid('param').id, c.req.valid('json'), clock), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/cases/{id}/iocs',
      tags: ['cases'],
      middleware: [requireRole('viewer')] as const,
      request: { params: caseParams, query: listCaseIocsInput },
      responses: { 200: json(pageOf(iocView)) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await listCaseIocsPage(db, orgId, actor, c.req.valid('param').id, c.req.query()), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/cases/{id}/iocs',
      tags: ['cases'],
      summary: 'Attach an indicator (unique per organisation by type and value)',
      middleware: [requireRole('analyst')] as const,
      request: { params: caseParams, body: body(iocInput) },
      responses: { 200: json(z.object({ ioc: iocView, created: z.boolean(), linked: z.boolean() })) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await addCaseIoc(db, orgId, actor, c.req.valid('param').id, c.req.valid('json'), clock), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'delete',
      path: '/cases/{id}/iocs/{iocId}',
      tags: ['cases'],
      middleware: [requireRole('analyst')] as const,
      request: { params: z.object({ id, iocId: id }) },
      responses: { 200: json(z.object({ ok: z.literal(true) })) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      const p = c.req.valid('param');
      await removeCaseIoc(db, orgId, actor, p.id, p.iocId, clock);
      return c.json({ ok: true as const }, 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/cases/{id}/approvals',
      tags: ['cases'],
      middleware: [requireRole('viewer')] as const,
      request: { params: caseParams, query: listApprovalsInput },
      responses: { 200: json(pageOf(approvalView)) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await listApprovalsPage(db, orgId, actor, c.req.valid('param').id, c.req.query(), clock), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/cases/{id}/approvals',
      tags: ['cases'],
      summary: 'Ask for a human approval; it expires (4 h by default)',
      middleware: [requireRole('analyst')] as const,
      request: { params: caseParams, body: body(approvalRequestInput) },
      responses: { 201: json(approvalView, 'Created') },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await requestApproval(db, orgId, actor, c.req.valid('param').id, c.req.valid('json'), clock), 201);
    },
  );
  r.openapi(
    createRoute({
      method: 'post',
      path: '/cases/{id}/approvals/{approvalId}/decision',
      tags: ['cases'],
      summary: 'Approve or reject (admin, not the requester); expired approvals are refused',
      middleware: [requireRole('admin')] as const,
      request: { params: z.object({ id, approvalId: id }), body: body(approvalDecisionInput) },
      responses: { 200: json(approvalView) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      const p = c.req.valid('param');
      return c.json(await decideApproval(db, orgId, actor, p.id, p.approvalId, c.req.valid('json'), clock), 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/iocs',
      tags: ['cases'],
      summary: "The organisation's indicators, each with the cases that carry it",
      middleware: [requireRole('viewer')] as const,
      request: { query: listIocsInput },
      responses: { 200: json(pageOf(orgIocView)) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await listIocs(db, orgId, actor, c.req.query()), 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/alerts',
      tags: ['alerts'],
      summary: 'Alerts, newest device event first, with the case each was correlated into',
      middleware: [requireRole('viewer')] as const,
      request: { query: listAlertsInput },
      responses: { 200: json(pageOf(alertView)) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await listAlerts(db, orgId, actor, c.req.query()), 200);
    },
  );
  r.openapi(
    createRoute({
      method: 'get',
      path: '/alerts/{id}',
      tags: ['alerts'],
      middleware: [requireRole('viewer')] as const,
      request: { params: caseParams },
      responses: { 200: json(alertView) },
    }),
    async (c) => {
      const { orgId, actor } = caller(c);
      return c.json(await getAlert(db, orgId, actor, c.req.valid('param').id), 200);
    },
  );
  return r;
}

/** Mounts the case and alert routes on an `/api/v1` router (what `createCloudApp`'s `routes` option does). */
export function registerCaseRoutes(app: OpenAPIHono<AppEnv>, deps: CloudDeps): void {
  app.route('/', caseRoutes(deps));
}
