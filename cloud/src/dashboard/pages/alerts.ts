import type { Hono } from 'hono';
import { html } from 'hono/html';
import { option, page, severityBadge, when } from '../html.js';
import type { DashContext, DashEnv } from '../index.js';
import { alertPage, PAGE_SIZE } from '../queries.js';

const SEVERITY_FILTER = ['critical', 'high', 'warning', 'medium', 'low', 'info'];

/** Cursor of the alert stream: `<received ms>_<id>` of the last row shown. */
function parseBefore(v: string | undefined): { at: Date; id: string } | undefined {
  const m = /^(\d{1,15})_([A-Za-z0-9._-]{1,64})$/.exec(v ?? '');
  return m ? { at: new Date(Number(m[1])), id: m[2] ?? '' } : undefined;
}

export function registerAlertPages(app: Hono<DashEnv>, ctx: DashContext): void {
  const { deps, base } = ctx;

  app.get('/alerts', async (c) => {
    const user = c.get('user');
    const q = c.req.query();
    const severity = SEVERITY_FILTER.includes(q['severity'] ?? '') ? q['severity'] : undefined;
    const before = parseBefore(q['before']);
    const rows = await deps.database.withTenant(user.orgId, (tx) =>
      alertPage(
        tx,
        user.orgId,
        { severity, siteId: q['site']?.slice(0, 64) || undefined, deviceId: q['device']?.slice(0, 64) || undefined },
        before,
      ),
    );
    const shown = rows.slice(0, PAGE_SIZE);
    const last = shown.at(-1);
    const keep = new URLSearchParams();
    for (const k of ['severity', 'site', 'device']) if (q[k]) keep.set(k, q[k] ?? '');
    const older = new URLSearchParams(keep);
    if (last) older.set('before', `${last.a.receivedAt.getTime()}_${last.a.id}`);
    const now = deps.clock.now();
    const body = html`<h1>Alert stream</h1><div class="card" ${before ? '' : html`data-refresh="10"`}>
<form class="filters" method="get" action="${base}/alerts">
<label>Severity<select name="severity">${option('', 'any', severity)}${SEVERITY_FILTER.map((s) => option(s, s, severity))}</select></label>
<button class="primary" type="submit">Filter</button>${before ? '' : html` <span class="muted">refreshes every 10 s</span>`}</form>
<table id="alert-stream"><thead><tr><th>Received</th><th>Severity</th><th>Alert</th><th>Device</th><th>Site · gateway</th><th>Case</th></tr></thead><tbody>
${
  shown.length === 0
    ? html`<tr><td colspan="6" class="muted">No alert.</td></tr>`
    : shown.map(
        (
          r,
        ) => html`<tr><td>${when(r.a.receivedAt, now)}${r.a.receivedAt.getTime() - r.a.occurredAt.getTime() > 60_000 ? html`<div class="muted">occurred ${when(r.a.occurredAt, now)}</div>` : ''}</td>
<td>${severityBadge(r.a.severity)}</td><td>${r.a.title}<div class="muted mono">${r.a.type}${r.a.count > 1 ? ` ×${r.a.count}` : ''}</div></td>
<td class="mono id">${r.a.deviceId ? html`<a href="${base}/devices/${encodeURIComponent(r.a.deviceId)}">${r.a.deviceId}</a>` : '—'}</td>
<td class="id">${r.siteName ?? r.a.siteId}<div class="muted">${r.gatewayName ?? r.a.gatewayId}</div></td>
<td>${r.caseId ? html`<a href="${base}/cases/${r.caseId}">case</a> <span class="muted">${r.strategy} · ${(r.score ?? 0).toFixed(2)}</span>` : html`<span class="muted">—</span>`}</td></tr>`,
      )
}</tbody></table>
<div class="pager"><span>${shown.length} shown</span><span class="actions">${before ? html`<a class="button" href="${base}/alerts?${keep.toString()}">↑ Newest</a>` : ''}
${rows.length > PAGE_SIZE ? html`<a class="button" rel="next" href="${base}/alerts?${older.toString()}">Older →</a>` : ''}</span></div></div>`;
    return c.html(page({ base, title: 'Alert stream', nav: 'alerts', user, flash: ctx.takeFlash(user), body }));
  });
}
