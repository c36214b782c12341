import type { Hono } from 'hono';
import { html } from 'hono/html';
import { ALERT_SEVERITIES, ALERT_STATES } from '../../store/schema.js';
import { csrfField, type Html, page, pager, severityBadge, when } from '../html.js';
import type { PanelContext, PanelEnv } from '../index.js';
import { requireOperator } from '../operators.js';
import { listAlerts, PAGE_SIZE } from '../queries.js';

function option(value: string, label: string, current: string | undefined): Html {
  return html`<option value="${value}" ${current === value ? html`selected` : ''}>${label}</option>`;
}

/** What an alert's details say, as short `key: value` pairs (never a raw JSON dump). */
function summary(details: string): string {
  try {
    const v = JSON.parse(details) as Record<string, unknown>;
    return Object.entries(v)
      .slice(0, 6)
      .map(
        ([k, x]) =>
          `${k}: ${
            Array.isArray(x)
              ? x.join(', ')
              : typeof x === 'object' && x !== null
                ? Object.entries(x)
                    .map(([a, b]) => `${a}=${String(b)}`)
                    .join(', ')
                : String(x)
          }`,
      )
      .join(' · ');
  } catch {
    return '';
  }
}

export function registerAlertPages(app: Hono<PanelEnv>, ctx: PanelContext): void {
  const { deps, base } = ctx;

  app.get('/alerts', (c) => {
    const session = c.get('session');
    const q = c.req.query();
    const state = ALERT_STATES.includes(q['state'] as never) ? q['state'] : q['state'] === 'all' ? undefined : 'open';
    const severity = ALERT_SEVERITIES.includes(q['severity'] as never) ? q['severity'] : undefined;
    const pageNo = Math.max(1, Math.min(1_000_000, Math.trunc(Number(q['page'] ?? '1')) || 1));
    const { rows, total } = listAlerts(deps.store, { state, severity }, pageNo);
    const now = deps.clock.now();
    const params = new URLSearchParams({ state: state ?? 'all', ...(severity ? { severity } : {}) });
    const canAct = session.role === 'operator';
    const body = html`<h1>Alerts</h1><div class="card">
<form class="filters" method="get" action="${base}/alerts">
<label>State<select name="state">${option('all', 'any', state ?? 'all')}${ALERT_STATES.map((s) => option(s, s, state))}</select></label>
<label>Severity<select name="severity">${option('', 'any', severity)}${ALERT_SEVERITIES.map((s) => option(s, s, severity))}</select></label>
<button type="submit" class="primary">Filter</button></form>
<table id="alerts"><thead><tr><th>Last seen</th><th>Severity</th><th>Type</th><th>Device</th><th>Count</th><th>Details</th><th>State</th></tr></thead><tbody>
${
  rows.length === 0
    ? html`<tr><td colspan="7" class="muted">No alert matches.</td></tr>`
    : rows.map(
        (
          a,
        ) => html`<tr><td>${when(a.lastSeen, now)}</td><td>${severityBadge(a.severity)}</td><td class="mono id">${a.type}</td>
<td class="mono id">${a.deviceId ? html`<a href="${base}/devices/${encodeURIComponent(a.deviceId)}">${a.deviceId}</a>` : '—'}</td>
<td class="num">${a.count}</td><td>${summary(a.details)}</td>
<td class="id">${a.state}${
          canAct && a.state !== 'closed'
            ? html`<div class="actions">${a.state === 'open' ? html`<form method="post" action="${base}/alerts/${a.id}/acknowledged">${csrfField(session.csrf)}<button type="submit">Acknowledge</button></form>` : ''}
<form method="post" action="${base}/alerts/${a.id}/closed">${csrfField(session.csrf)}<button type="submit">Close</button></form></div>`
            : ''
        }</td></tr>`,
      )
}</tbody></table>${pager(`${base}/alerts`, params, pageNo, PAGE_SIZE, total)}</div>`;
    return c.html(
      page({ base, title: 'Alerts', nav: 'alerts', operator: session, flash: ctx.takeFlash(session), body }),
    );
  });

  app.post('/alerts/:id/:state{acknowledged|closed}', (c) => {
    const session = c.get('session');
    requireOperator(session);
    const state = c.req.param('state') as 'acknowledged' | 'closed';
    deps.alerts.setState(c.req.param('id'), state, `operator:${session.name}`);
    ctx.flash(session, 'ok', `Alert ${state}.`);
    ctx.feed.check();
    return c.redirect(`${base}/alerts`, 303);
  });
}
