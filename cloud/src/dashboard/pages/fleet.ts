import { NotFoundError } from '@palisade/shared';
import { and, desc, eq } from 'drizzle-orm';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import { gateways } from '../../gateways/schema.js';
import { attestationResults, devices } from '../../inventory/schema.js';
import { organizations, sites } from '../../tenancy/schema.js';
import { duration, type Html, option, page, passBar, statusBadge, when } from '../html.js';
import type { DashContext, DashEnv } from '../index.js';
import { cohortSummaries, devicePage, gatewaysOf, PAGE_SIZE, siteSummaries } from '../queries.js';
import { mayAct } from '../session.js';
import { commandForm, recentCommands } from './commands.js';

const STATUSES = ['affirming', 'warning', 'contraindicated', 'none'];

/** A gateway is stale when it has not synced for five minutes (it syncs every few seconds when healthy). */
const STALE_MS = 5 * 60_000;

export function registerFleetPages(app: Hono<DashEnv>, ctx: DashContext): void {
  const { deps, base } = ctx;

  app.get('/fleet', async (c) => {
    const user = c.get('user');
    const now = deps.clock.now();
    const data = await deps.database.withTenant(user.orgId, async (tx) => ({
      org: (await tx.select().from(organizations).where(eq(organizations.id, user.orgId)))[0],
      sites: await siteSummaries(tx, user.orgId),
      gateways: await gatewaysOf(tx, user.orgId),
      cohorts: await cohortSummaries(tx, user.orgId),
    }));
    const gatewayRow = (g: (typeof data.gateways)[number]): Html => {
      const stale = g.lastSeenAt === null || now - g.lastSeenAt.getTime() > STALE_MS;
      return html`<tr data-gateway="${g.id}"><td><a href="${base}/fleet/devices?gateway=${encodeURIComponent(g.id)}">${g.name}</a><div class="muted mono">${g.id}</div></td>
<td>${g.revokedAt ? html`<span class="badge bad">revoked</span>` : stale ? html`<span class="badge warn">stale</span>` : html`<span class="badge ok">syncing</span>`}</td>
<td>${when(g.lastSeenAt, now)}</td><td class="num">${g.syncLagMs === null ? '—' : duration(g.syncLagMs)}</td><td class="num">${g.devices}</td></tr>`;
    };
    const body = html`<h1>Fleet <span class="muted">· ${data.org?.name ?? ''}</span></h1>
${data.sites.map((s) => {
  const gws = data.gateways.filter((g) => g.siteId === s.id);
  return html`<div class="card" data-site="${s.id}"><h2>${s.name} <span class="muted">· site</span></h2>
<div class="kv"><span>${s.devices} devices</span><span>attestation pass rate ${passBar(s.passed, s.devices)}</span><span>${s.failed} failing</span><span>${s.quarantined} quarantined</span>
<a href="${base}/fleet/devices?site=${encodeURIComponent(s.id)}">devices →</a></div>
${
  gws.length === 0
    ? html`<p class="muted">No gateway enrolled.</p>`
    : html`<table style="margin-top:10px"><thead><tr><th>Gateway</th><th>State</th><th>Last seen</th><th>Sync lag</th><th>Devices</th></tr></thead><tbody>${gws.map(gatewayRow)}</tbody></table>`
}</div>`;
})}
${data.sites.length === 0 ? html`<div class="card"><p class="muted">No site yet.</p></div>` : ''}
<div class="card"><h2>Firmware cohorts <span class="muted">· devices running the same measured image</span></h2>
<table id="cohorts"><thead><tr><th>Measurement</th><th>Family</th><th>Version</th><th>Devices</th><th>Pass rate</th></tr></thead><tbody>${
      data.cohorts.length === 0
        ? html`<tr><td colspan="5" class="muted">No firmware reported yet.</td></tr>`
        : data.cohorts.map(
            (
              k,
            ) => html`<tr><td class="mono"><a href="${base}/fleet/devices?cohort=${k.firmwareMeasurement}" title="${k.firmwareMeasurement}">${k.firmwareMeasurement.slice(0, 16)}…</a></td>
<td>${k.boardFamily}</td><td>${k.firmwareVersion ?? '—'}</td><td class="num">${k.devices}</td><td>${passBar(k.passed, k.devices)}</td></tr>`,
          )
    }</tbody></table></div>`;
    return c.html(page({ base, title: 'Fleet', nav: 'fleet', user, flash: ctx.takeFlash(user), body }));
  });

  app.get('/fleet/devices', async (c) => {
    const user = c.get('user');
    const q = c.req.query();
    const pageNo = Math.max(1, Math.min(1_000_000, Math.trunc(Number(q['page'] ?? '1')) || 1));
    const f = {
      siteId: q['site']?.slice(0, 64) || undefined,
      gatewayId: q['gateway']?.slice(0, 64) || undefined,
      status: STATUSES.includes(q['status'] ?? '') ? q['status'] : undefined,
      cohort: /^[0-9a-f]{16,128}$/.test(q['cohort'] ?? '') ? q['cohort'] : undefined,
      q: q['q']?.trim().slice(0, 64) || undefined,
    };
    const { rows, total } = await deps.database.withTenant(user.orgId, (tx) => devicePage(tx, user.orgId, f, pageNo));
    const now = deps.clock.now();
    const keep = new URLSearchParams();
    for (const [k, v] of Object.entries({
      site: f.siteId,
      gateway: f.gatewayId,
      status: f.status,
      cohort: f.cohort,
      q: f.q,
    }))
      if (v) keep.set(k, v);
    const to = (n: number) => {
      const p = new URLSearchParams(keep);
      p.set('page', String(n));
      return `${base}/fleet/devices?${p.toString()}`;
    };
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const body = html`<p><a href="${base}/fleet">← Fleet</a></p><h1>Devices</h1><div class="card">
<form class="filters" method="get" action="${base}/fleet/devices">
${f.siteId ? html`<input type="hidden" name="site" value="${f.siteId}">` : ''}${f.gatewayId ? html`<input type="hidden" name="gateway" value="${f.gatewayId}">` : ''}${f.cohort ? html`<input type="hidden" name="cohort" value="${f.cohort}">` : ''}
<label>Search<input type="search" name="q" value="${f.q ?? ''}" maxlength="64" placeholder="device id"></label>
<label>Attestation<select name="status">${option('', 'any', f.status)}${STATUSES.map((s) => option(s, s, f.status))}</select></label>
<button class="primary" type="submit">Filter</button> <a class="button" href="${base}/fleet/devices">Clear</a>
${f.siteId || f.gatewayId || f.cohort ? html`<span class="muted">within ${f.siteId ? `site ${f.siteId}` : ''}${f.gatewayId ? ` gateway ${f.gatewayId}` : ''}${f.cohort ? ` cohort ${f.cohort.slice(0, 12)}…` : ''}</span>` : ''}</form>
<table id="fleet-devices"><thead><tr><th>Device</th><th>Family</th><th>Firmware</th><th>Attestation</th><th>Risk</th><th>Last seen</th><th>Quarantine</th></tr></thead><tbody>
${
  rows.length === 0
    ? html`<tr><td colspan="7" class="muted">No device matches.</td></tr>`
    : rows.map(
        (
          d,
        ) => html`<tr data-device="${d.id}"><td class="mono id"><a href="${base}/devices/${encodeURIComponent(d.id)}">${d.id}</a><div class="muted">${d.siteId} · ${d.gatewayId}</div></td>
<td>${d.boardFamily}</td><td>${d.firmwareVersion ?? '—'}</td><td>${statusBadge(d.attestationStatus)}</td><td class="num">${d.riskScore.toFixed(0)}</td>
<td>${when(d.lastSeenAt, now)}</td><td>${d.quarantined ? html`<span class="badge bad">quarantined</span>` : '—'}</td></tr>`,
      )
}</tbody></table>
<div class="pager"><span>${total === 0 ? 0 : (pageNo - 1) * PAGE_SIZE + 1}–${Math.min(total, pageNo * PAGE_SIZE)} of ${total}</span><span class="actions">
${pageNo > 1 ? html`<a class="button" rel="prev" href="${to(pageNo - 1)}">← Previous</a>` : ''}<span>page ${pageNo} / ${pages}</span>
${pageNo < pages ? html`<a class="button" rel="next" href="${to(pageNo + 1)}">Next →</a>` : ''}</span></div></div>`;
    return c.html(page({ base, title: 'Devices', nav: 'fleet', user, flash: ctx.takeFlash(user), body }));
  });

  app.get('/devices/:id', async (c) => {
    const user = c.get('user');
    const id = c.req.param('id');
    const now = deps.clock.now();
    const data = await deps.database.withTenant(user.orgId, async (tx) => {
      const [row] = await tx
        .select({ d: devices, siteName: sites.name, gatewayName: gateways.name })
        .from(devices)
        .leftJoin(sites, eq(sites.id, devices.siteId))
        .leftJoin(gateways, eq(gateways.id, devices.gatewayId))
        .where(and(eq(devices.orgId, user.orgId), eq(devices.id, id)));
      if (!row) throw new NotFoundError('not_found.device', 'no such device');
      const d = { ...row.d, siteName: row.siteName ?? row.d.siteId, gatewayName: row.gatewayName ?? row.d.gatewayId };
      const results = await tx
        .select()
        .from(attestationResults)
        .where(and(eq(attestationResults.orgId, user.orgId), eq(attestationResults.deviceId, id)))
        .orderBy(desc(attestationResults.appraisedAt))
        .limit(30);
      const commands = await recentCommands(tx, user.orgId, now, { deviceId: id });
      return { d, results, commands };
    });
    const { d } = data;
    const body = html`<p><a href="${base}/fleet/devices">← Devices</a></p>
<h1><span class="mono">${d.id}</span> ${statusBadge(d.attestationStatus)} ${d.quarantined ? html`<span class="badge bad" data-quarantined="yes">quarantined</span>` : ''}</h1>
<div class="grid"><div class="card"><h2>Device</h2><dl class="facts">
<dt>Site · gateway</dt><dd>${d.siteName} · ${d.gatewayName}</dd><dt>Family</dt><dd>${d.boardFamily}</dd><dt>Firmware</dt><dd>${d.firmwareVersion ?? '—'}</dd>
<dt>Measurement</dt><dd class="mono">${d.firmwareMeasurement ? html`<a href="${base}/fleet/devices?cohort=${d.firmwareMeasurement}">${d.firmwareMeasurement}</a>` : '—'}</dd>
<dt>Certificate serial</dt><dd class="mono">${d.certSerial ?? '—'}</dd><dt>Risk score</dt><dd>${d.riskScore.toFixed(0)}</dd>
<dt>Last seen</dt><dd>${when(d.lastSeenAt, now)}</dd><dt>Last attested</dt><dd>${when(d.lastAttestedAt, now)}</dd>
<dt>Cases</dt><dd><a href="${base}/cases?device=${encodeURIComponent(d.id)}&state=all">cases with this device →</a></dd></dl></div>
<div class="card"><h2>Issue a command</h2>${
      mayAct(user)
        ? commandForm(base, user.csrf, { kind: 'device', value: d.id, measurement: d.firmwareMeasurement })
        : html`<p class="muted">Signed in as a viewer: commands are hidden.</p>`
    }</div></div>
<div class="card" style="margin-top:16px"><h2>Commands for this device</h2>${data.commands.length === 0 ? html`<p class="muted">None.</p>` : data.commands.map((cmd) => cmd.html)}</div>
<div class="card"><h2>Attestation history</h2><ul class="timeline" id="cloud-attestations">${
      data.results.length === 0
        ? html`<li class="muted">No result synced yet.</li>`
        : data.results.map(
            (
              r,
            ) => html`<li><span>${when(r.appraisedAt, now)}</span><div>${statusBadge(r.status)} <span class="muted mono">${r.jti}</span> <span class="muted">signed by ${r.gatewayId}</span>
${r.reasons.length ? html`<div class="reasons">${r.reasons.map((x) => html`<span class="reason">${x}</span>`)}</div>` : ''}</div></li>`,
          )
    }</ul></div>`;
    return c.html(page({ base, title: d.id, nav: 'fleet', user, flash: ctx.takeFlash(user), body }));
  });
}
