import { PalisadeError } from '@palisade/shared';
import { and, eq } from 'drizzle-orm';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import { decideApproval, listApprovals, requestApproval } from '../../cases/approvals.js';
import { getCase, listCases, patchCase } from '../../cases/case-service.js';
import type { CaseView } from '../../cases/case-store.js';
import { addComment, listComments, listTimeline } from '../../cases/comments.js';
import { mergeCases } from '../../cases/merge.js';
import type { SlaClock } from '../../cases/sla.js';
import { CASE_STATES, SEVERITIES } from '../../cases/workflow.js';
import { users } from '../../tenancy/schema.js';
import {
  csrfField,
  duration,
  type Html,
  option,
  page,
  severityBadge,
  stateBadge,
  statusBadge,
  summarise,
  when,
} from '../html.js';
import type { DashContext, DashEnv } from '../index.js';
import { caseAlertRows, devicesByIds } from '../queries.js';
import { actorOf, mayAct, requireDashboardRole } from '../session.js';

const OPEN_STATES = 'new,triaged,investigating,contained';

/** An SLA clock as an analyst reads it: time left, or how long overdue, or when it stopped. */
export function slaClock(label: string, clock: SlaClock, nowMs: number): Html {
  if (clock.stoppedAt) {
    return html`<span class="sla stopped ${clock.breached ? 'breached' : ''}" title="due ${clock.dueAt}">${label} ${clock.breached ? 'missed' : 'met'}</span>`;
  }
  const left = Date.parse(clock.dueAt) - nowMs;
  return left >= 0
    ? html`<span class="sla" title="due ${clock.dueAt}">${label} due in ${duration(left)}</span>`
    : html`<span class="sla breached" data-breached="yes" title="due ${clock.dueAt}">${label} overdue ${duration(left)}</span>`;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

export function registerCasePages(app: Hono<DashEnv>, ctx: DashContext): void {
  const { deps, base } = ctx;

  app.get('/cases', async (c) => {
    const user = c.get('user');
    const q = c.req.query();
    const state =
      q['state'] === 'all'
        ? undefined
        : CASE_STATES.includes(q['state'] as never)
          ? q['state']
          : q['state'] === undefined || q['state'] === 'open'
            ? OPEN_STATES
            : undefined;
    const severity = SEVERITIES.includes(q['severity'] as never) ? q['severity'] : undefined;
    const text = q['text']?.trim().slice(0, 200) || undefined;
    const cursor = q['cursor']?.slice(0, 200) || undefined;
    const result = await listCases(
      deps.database,
      user.orgId,
      actorOf(user, c.get('source')),
      {
        limit: 50,
        state,
        severity,
        text,
        cursor,
        site: q['site']?.slice(0, 64) || undefined,
        device: q['device']?.slice(0, 64) || undefined,
      },
      deps.clock,
    );
    const now = deps.clock.now();
    const keep = new URLSearchParams();
    for (const k of ['state', 'severity', 'text', 'site', 'device']) if (q[k]) keep.set(k, q[k] ?? '');
    const next = new URLSearchParams(keep);
    if (result.nextCursor) next.set('cursor', result.nextCursor);
    const stateSel = q['state'] ?? 'open';
    const body = html`<h1>Cases</h1><div class="card">
<form class="filters" method="get" action="${base}/cases">
<label>State<select name="state">${option('open', 'open', stateSel)}${option('all', 'any', stateSel)}${CASE_STATES.map((s) => option(s, s.replace('_', ' '), stateSel))}</select></label>
<label>Severity<select name="severity">${option('', 'any', severity)}${[...SEVERITIES].reverse().map((s) => option(s, s, severity))}</select></label>
<label>Text<input type="search" name="text" value="${text ?? ''}" maxlength="200" placeholder="title or description"></label>
<button class="primary" type="submit">Filter</button> <a class="button" href="${base}/cases">Clear</a></form>
<table id="cases"><thead><tr><th>Case</th><th>Severity</th><th>State</th><th>Alerts</th><th>SLA</th><th>Last event</th></tr></thead><tbody>
${
  result.items.length === 0
    ? html`<tr><td colspan="6" class="muted">No case matches.</td></tr>`
    : result.items.map(
        (
          k,
        ) => html`<tr data-case="${k.id}"><td><a href="${base}/cases/${k.id}">${k.title}</a><div class="muted mono">${k.id}</div></td>
<td>${severityBadge(k.severity)}</td><td>${stateBadge(k.state)}</td><td class="num">${k.alertCount}</td>
<td>${slaClock('ack', k.sla.acknowledge, now)}<br>${slaClock('resolve', k.sla.resolve, now)}</td><td>${when(k.lastEventAt, now)}</td></tr>`,
      )
}</tbody></table>
<div class="pager"><span>${result.items.length} shown${cursor ? ' (later page)' : ''}</span><span class="actions">
${cursor ? html`<a class="button" href="${base}/cases?${keep.toString()}">↑ Newest</a>` : ''}
${result.nextCursor ? html`<a class="button" rel="next" href="${base}/cases?${next.toString()}">Older →</a>` : ''}</span></div></div>`;
    return c.html(page({ base, title: 'Cases', nav: 'cases', user, flash: ctx.takeFlash(user), body }));
  });

  app.get('/cases/:id', async (c) => {
    const user = c.get('user');
    const actor = actorOf(user, c.get('source'));
    const id = c.req.param('id');
    const k: CaseView = await getCase(deps.database, user.orgId, actor, id, deps.clock);
    const [timeline, comments, approvals] = [
      await listTimeline(deps.database, user.orgId, actor, id, { limit: 100 }),
      await listComments(deps.database, user.orgId, actor, id, { limit: 100 }),
      await listApprovals(deps.database, user.orgId, actor, id, deps.clock),
    ];
    const { linked, devs, assignee } = await deps.database.withTenant(user.orgId, async (tx) => {
      const linked = await caseAlertRows(tx, user.orgId, id);
      const ids = [...new Set(linked.map((l) => l.a.deviceId).filter((d): d is string => d !== null))];
      const [assignee] = k.assigneeId
        ? await tx
            .select({ email: users.email })
            .from(users)
            .where(and(eq(users.orgId, user.orgId), eq(users.id, k.assigneeId)))
        : [];
      return { linked, devs: await devicesByIds(tx, user.orgId, ids), assignee };
    });
    const now = deps.clock.now();
    const canAct = mayAct(user) && k.state !== 'merged';
    const post = (path: string, inner: Html, extra: Html = html``) =>
      html`<form class="inline" method="post" action="${base}/cases/${k.id}/${path}">${csrfField(user.csrf)}${extra}${inner}</form>`;
    const body = html`<p><a href="${base}/cases">← Cases</a></p>
<h1>${k.title} ${severityBadge(k.severity)} ${stateBadge(k.state)}</h1>
<div class="card"><div class="kv"><span class="mono">${k.id}</span><span>${k.alertCount} alerts</span><span>opened ${when(k.createdAt, now)}</span>
<span>${k.assigneeId ? `assigned to ${assignee?.email ?? k.assigneeId}` : 'unassigned'}</span>
<span>${slaClock('acknowledge', k.sla.acknowledge, now)}</span><span>${slaClock('resolve', k.sla.resolve, now)}</span>
${k.techniques.length ? html`<span>ATT&CK for ICS: ${k.techniques.join(', ')}</span>` : ''}
${k.mergedIntoId ? html`<span>merged into <a href="${base}/cases/${k.mergedIntoId}">${k.mergedIntoId}</a></span>` : ''}</div>
${k.description ? html`<p>${k.description}</p>` : ''}
${
  canAct
    ? html`<div class="actions" id="case-actions">${k.allowedTransitions.map((t) =>
        post(
          'state',
          html`<button type="submit" data-transition="${t}">Move to ${t.replace('_', ' ')}</button>`,
          html`<input type="hidden" name="state" value="${t}"><input type="hidden" name="version" value="${k.version}">`,
        ),
      )}
${k.assigneeId === user.id ? '' : post('assign', html`<button type="submit" data-action="assign">Assign to me</button>`, html`<input type="hidden" name="version" value="${k.version}">`)}
${post('merge', html`<input type="text" name="sources" placeholder="case ids to merge in, comma-separated" size="38" maxlength="2000"><button type="submit">Merge into this case</button>`)}</div>`
    : mayAct(user)
      ? ''
      : html`<p class="muted">Signed in as a viewer: case actions are hidden.</p>`
}</div>
<div class="card"><h2>Linked alerts <span class="muted">· correlation strategy and score</span></h2>
<table id="linked-alerts"><thead><tr><th>Occurred</th><th>Severity</th><th>Alert</th><th>Device</th><th>Strategy</th><th>Score</th></tr></thead><tbody>${
      linked.length === 0
        ? html`<tr><td colspan="6" class="muted">No alert linked.</td></tr>`
        : linked.map(
            (
              l,
            ) => html`<tr><td>${when(l.a.occurredAt, now)}</td><td>${severityBadge(l.a.severity)}</td><td>${l.a.title}<div class="muted mono">${l.a.type}</div></td>
<td class="mono id">${l.a.deviceId ? html`<a href="${base}/devices/${encodeURIComponent(l.a.deviceId)}">${l.a.deviceId}</a>` : '—'}</td>
<td><span class="badge">${l.strategy}</span></td><td class="num">${l.score.toFixed(2)}</td></tr>`,
          )
    }</tbody></table></div>
<div class="grid">
<div class="card"><h2>Devices</h2>${
      devs.length === 0
        ? html`<p class="muted">No device involved.</p>`
        : html`<table><thead><tr><th>Device</th><th>Family</th><th>Attestation</th><th>Quarantine</th></tr></thead><tbody>${devs.map(
            (d) =>
              html`<tr><td class="mono id"><a href="${base}/devices/${encodeURIComponent(d.id)}">${d.id}</a></td><td>${d.boardFamily}</td><td>${statusBadge(d.attestationStatus)}</td><td>${d.quarantined ? html`<span class="badge bad">quarantined</span>` : '—'}</td></tr>`,
          )}</tbody></table>`
    }</div>
<div class="card"><h2>Approvals</h2>${
      approvals.length === 0
        ? html`<p class="muted">None requested.</p>`
        : html`<table><thead><tr><th>Action</th><th>Status</th><th>Requested</th><th></th></tr></thead><tbody>${approvals.map(
            (
              a,
            ) => html`<tr><td class="mono">${a.action}<div class="muted">${a.reason}</div></td><td>${a.status}${a.decidedBy ? html`<div class="muted">by ${a.decidedBy}</div>` : ''}</td>
<td>${when(a.requestedAt, now)}<div class="muted">expires ${when(a.expiresAt, now)}</div></td>
<td>${
              a.status === 'pending' && mayAct(user, 'admin')
                ? html`<div class="actions">${post(`approvals/${a.id}`, html`<button type="submit" class="primary">Approve</button>`, html`<input type="hidden" name="decision" value="approve">`)}
${post(`approvals/${a.id}`, html`<button type="submit">Reject</button>`, html`<input type="hidden" name="decision" value="reject">`)}</div>`
                : ''
            }</td></tr>`,
          )}</tbody></table>`
    }
${canAct ? html`<p>${post('approvals', html`<input type="text" name="action" value="device.quarantine" maxlength="64" size="18"><input type="text" name="reason" placeholder="reason" maxlength="2000"><button type="submit">Request approval</button>`)}</p>` : ''}</div>
</div>
<div class="grid" style="margin-top:16px">
<div class="card"><h2>Timeline</h2><ul class="timeline" id="case-timeline">${timeline.items.map(
      (
        t,
      ) => html`<li><span>${when(t.at, now)}</span><div><b>${t.action}</b> <span class="muted">by ${t.actorKind} ${t.actorId}</span>
${t.after !== null && t.after !== undefined ? html`<div class="muted">${t.before !== null && t.before !== undefined ? html`${summarise(t.before)} → ` : ''}${summarise(t.after)}</div>` : ''}</div></li>`,
    )}</ul></div>
<div class="card"><h2>Comments</h2>${comments.items.map(
      (m) =>
        html`<div class="comment"><div class="meta">${m.authorKind} ${m.authorId} · ${when(m.createdAt, now)}</div><div>${m.body}</div></div>`,
    )}${comments.items.length === 0 ? html`<p class="muted">No comment yet.</p>` : ''}
${canAct ? html`<form method="post" action="${base}/cases/${k.id}/comments">${csrfField(user.csrf)}<textarea name="body" maxlength="10000" required placeholder="Add a comment" style="min-height:80px"></textarea><p><button type="submit" class="primary">Comment</button></p></form>` : ''}</div>
</div>`;
    return c.html(page({ base, title: k.title, nav: 'cases', user, flash: ctx.takeFlash(user), body }));
  });

  const act = (
    path: string,
    least: 'analyst' | 'admin',
    run: (
      id: string,
      form: Record<string, unknown>,
      c: { user: ReturnType<typeof actorOf>; orgId: string; sub?: string },
    ) => Promise<string>,
  ) =>
    app.post(`/cases/:id/${path}`, async (c) => {
      const user = c.get('user');
      requireDashboardRole(user, least);
      const id = c.req.param('id');
      try {
        const message = await run(id, await c.req.parseBody(), {
          user: actorOf(user, c.get('source')),
          orgId: user.orgId,
          sub: c.req.param('sub'),
        });
        ctx.flash(user, 'ok', message);
      } catch (e) {
        // A refused change (stale version, bad transition, invalid input) is shown on the case, not as an error page.
        if (!(e instanceof PalisadeError) || e.code.startsWith('auth.') || e.code.startsWith('unavailable.')) throw e;
        ctx.flash(user, 'error', `Not done: ${e.message}`);
      }
      return c.redirect(`${base}/cases/${id}`, 303);
    });

  act('state', 'analyst', async (id, f, a) => {
    const version = Number(f['version']);
    const v = await patchCase(
      deps.database,
      a.orgId,
      a.user,
      id,
      { state: str(f['state']) as never, ...(Number.isSafeInteger(version) ? { version } : {}) },
      deps.clock,
    );
    return `Case moved to ${v.state.replace('_', ' ')}.`;
  });
  act('assign', 'analyst', async (id, f, a) => {
    const version = Number(f['version']);
    await patchCase(
      deps.database,
      a.orgId,
      a.user,
      id,
      { assigneeId: a.user.id, ...(Number.isSafeInteger(version) ? { version } : {}) },
      deps.clock,
    );
    return 'The case is assigned to you.';
  });
  act('comments', 'analyst', async (id, f, a) => {
    await addComment(deps.database, a.orgId, a.user, id, { body: str(f['body']) ?? '' }, deps.clock);
    return 'Comment added.';
  });
  act('merge', 'analyst', async (id, f, a) => {
    const sources = (str(f['sources']) ?? '')
      .split(/[\s,]+/)
      .filter((s) => s !== '' && s !== id)
      .slice(0, 50);
    await mergeCases(deps.database, a.orgId, a.user, id, { sourceCaseIds: sources }, deps.clock);
    return `Merged ${sources.length} case(s) into this one.`;
  });
  act('approvals', 'analyst', async (id, f, a) => {
    await requestApproval(
      deps.database,
      a.orgId,
      a.user,
      id,
      { action: str(f['action']) ?? '', reason: str(f['reason']) ?? '' },
      deps.clock,
    );
    return 'Approval requested.';
  });
  act('approvals/:sub', 'admin', async (id, f, a) => {
    const decision = f['decision'] === 'approve' ? 'approve' : 'reject';
    await decideApproval(deps.database, a.orgId, a.user, id, a.sub ?? '', { decision }, deps.clock);
    return decision === 'approve' ? 'Approved.' : 'Rejected.';
  });
}
