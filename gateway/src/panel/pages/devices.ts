import type { Hono } from 'hono';
import { html } from 'hono/html';
import { csrfField, type Html, page, pager, reasonList, statusBadge, when } from '../html.js';
import type { PanelContext, PanelEnv } from '../index.js';
import { requireOperator } from '../operators.js';
import {
  bootCountOf,
  type DeviceFilter,
  deviceCounts,
  deviceMetrics,
  families,
  listDevices,
  minuteSeries,
  PAGE_SIZE,
  parseReasons,
  STATUS_FILTERS,
} from '../queries.js';

const ENROLLMENTS = ['pending', 'approved', 'revoked'] as const;

function pageNumber(v: string | undefined): number {
  const n = Number(v ?? '1');
  return Number.isSafeInteger(n) && n >= 1 && n <= 1_000_000 ? n : 1;
}

/** Only known values pass into a query; anything else is dropped (an unknown filter shows everything). */
function oneOf<T extends string>(v: string | undefined, allowed: readonly T[]): T | undefined {
  return allowed.includes(v as T) ? (v as T) : undefined;
}

function option(value: string, label: string, current: string | undefined): Html {
  return html`<option value="${value}" ${current === value ? html`selected` : ''}>${label}</option>`;
}

export function registerDevicePages(app: Hono<PanelEnv>, ctx: PanelContext): void {
  const { deps, base } = ctx;

  app.get('/devices', (c) => {
    const session = c.get('session');
    const q = c.req.query();
    const fams = families(deps.store);
    const filter: DeviceFilter = {
      q: q['q']?.trim().slice(0, 100) || undefined,
      status: oneOf(q['status'], STATUS_FILTERS),
      family: oneOf(q['family'], fams),
      enrollment: oneOf(q['enrollment'], ENROLLMENTS),
      quarantined: oneOf(q['quarantined'], ['yes', 'no'] as const),
    };
    const pageNo = pageNumber(q['page']);
    const { rows, total } = listDevices(deps.store, filter, pageNo);
    const counts = deviceCounts(deps.store);
    const now = deps.clock.now();
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v) params.set(k, v);
    const body = html`<h1>Devices</h1>
<div class="stats">
<a class="stat" href="${base}/devices"><b>${counts.total}</b><span>devices</span></a>
<a class="stat" href="${base}/devices?status=contraindicated"><b>${counts.failed}</b><span>failed attestation</span></a>
<a class="stat" href="${base}/devices?quarantined=yes"><b>${counts.quarantined}</b><span>quarantined</span></a>
<a class="stat" href="${base}/devices?enrollment=pending"><b>${counts.pending}</b><span>awaiting approval</span></a>
</div>
<div class="card">
<form class="filters" method="get" action="${base}/devices">
<label>Search<input type="search" name="q" value="${filter.q ?? ''}" placeholder="id, certificate, firmware" maxlength="100"></label>
<label>Attestation<select name="status">${option('', 'any', filter.status)}${STATUS_FILTERS.map((s) => option(s, s, filter.status))}</select></label>
<label>Family<select name="family">${option('', 'any', filter.family)}${fams.map((f) => option(f, f, filter.family))}</select></label>
<label>Enrollment<select name="enrollment">${option('', 'any', filter.enrollment)}${ENROLLMENTS.map((s) => option(s, s, filter.enrollment))}</select></label>
<label>Quarantine<select name="quarantined">${option('', 'any', filter.quarantined)}${option('yes', 'quarantined', filter.quarantined)}${option('no', 'not quarantined', filter.quarantined)}</select></label>
<button type="submit" class="primary">Filter</button> <a class="button" href="${base}/devices">Clear</a>
</form>
<table id="devices"><thead><tr><th>Device</th><th>Family</th><th>Firmware</th><th>Attestation</th><th>Last seen</th><th>Enrollment</th><th>Quarantine</th></tr></thead>
<tbody>${
      rows.length === 0
        ? html`<tr><td colspan="7" class="muted">No device matches.</td></tr>`
        : rows.map(
            (d) => html`<tr data-device="${d.id}">
<td class="mono id"><a href="${base}/devices/${encodeURIComponent(d.id)}">${d.id}</a></td>
<td>${d.family ?? html`<span class="muted">—</span>`}</td><td>${d.firmwareVersion ?? html`<span class="muted">—</span>`}</td>
<td>${statusBadge(d.lastStatus)}${reasonList(d.reasons)}</td><td>${when(d.lastSeen, now)}</td>
<td>${d.enrollment === 'approved' ? html`<span class="badge ok">approved</span>` : d.enrollment === 'pending' ? html`<span class="badge warn">pending</span>` : html`<span class="badge bad">${d.enrollment}</span>`}</td>
<td>${d.quarantined ? html`<span class="badge bad" data-quarantined="yes">quarantined</span><div>${d.quarantineReason ?? ''}</div><div class="muted actor">by ${d.quarantinedBy ?? '?'}</div>` : html`<span class="muted">—</span>`}</td></tr>`,
          )
    }</tbody></table>
${pager(`${base}/devices`, params, pageNo, PAGE_SIZE, total)}
</div>`;
    return c.html(
      page({ base, title: 'Devices', nav: 'devices', operator: session, flash: ctx.takeFlash(session), body }),
    );
  });

  app.get('/devices/:id', (c) => {
    const session = c.get('session');
    const id = c.req.param('id');
    const d = deps.registry.require(id);
    const now = deps.clock.now();
    const history = deps.registry.history(id, 50);
    const boots = history
      .map((r) => ({ t: r.createdAt, n: bootCountOf(r) }))
      .filter((b): b is { t: number; n: number } => b.n !== undefined)
      .reverse();
    const metrics = deviceMetrics(deps.store, id);
    const metric = oneOf(c.req.query('metric'), metrics) ?? metrics[0];
    const series = metric ? minuteSeries(deps.store, id, metric, now - 6 * 3600_000, now + 60_000) : [];
    const telemetryChart = {
      unit: '',
      empty: 'No telemetry in the last 6 hours.',
      x: series.map((p) => p.t / 1000),
      series: [
        { label: `${metric ?? ''} avg`, y: series.map((p) => p.avg) },
        { label: 'min', y: series.map((p) => p.min), color: '#9aa7b6' },
        { label: 'max', y: series.map((p) => p.max), color: '#c0392b' },
      ],
    };
    const bootChart = {
      unit: '',
      height: 180,
      empty: 'No boot counter reported yet.',
      x: boots.map((b) => b.t / 1000),
      series: [{ label: 'boot counter', y: boots.map((b) => b.n), fill: true }],
    };
    const auditRows = deps.store.sqlite
      .prepare('SELECT at, actor, action, details FROM audit WHERE device_id = ? ORDER BY at DESC, id DESC LIMIT 20')
      .all(id) as { at: number; actor: string; action: string; details: string }[];
    const canAct = session.role === 'operator';
    const post = (action: string, label: string, cls = '', extra: Html = html``, confirm?: string) =>
      html`<form method="post" action="${base}/devices/${encodeURIComponent(id)}/${action}" ${confirm ? html`data-confirm="${confirm}"` : ''}>${csrfField(session.csrf)}${extra}<button type="submit" class="${cls}" data-action="${action}">${label}</button></form>`;
    const actions = canAct
      ? html`<div class="actions" id="device-actions">
${d.enrollment === 'pending' ? post('approve', 'Approve enrollment', 'primary') : ''}
${
  d.quarantined
    ? post(
        'release',
        'Release from quarantine',
        '',
        html``,
        'Release this device? Its publishes will be accepted again.',
      )
    : post(
        'quarantine',
        'Quarantine',
        'danger',
        html`<input type="text" name="reason" placeholder="reason" maxlength="200" value="operator decision">`,
      )
}
${post('reattest', 'Re-attest now')}</div>`
      : html`<p class="muted">Signed in as a viewer: actions are hidden.</p>`;
    const body = html`<p><a href="${base}/devices">← Devices</a></p>
<h1><span class="mono">${d.id}</span> ${statusBadge(d.lastStatus)} ${d.quarantined ? html`<span class="badge bad" data-quarantined="yes">quarantined</span>` : ''}</h1>
<div class="card">${actions}</div>
<div class="grid">
<div class="card"><h2>Device</h2><dl class="facts">
<dt>Family</dt><dd>${d.family ?? '—'}</dd><dt>Firmware</dt><dd>${d.firmwareVersion ?? '—'}</dd>
<dt>Measurement</dt><dd class="mono">${d.measurement ?? '—'}</dd><dt>UEID</dt><dd class="mono">${d.ueid ?? '—'}</dd>
<dt>Enrollment</dt><dd>${d.enrollment} <span class="muted">(${d.enrolledVia})</span></dd>
<dt>Boot counter</dt><dd>${d.lastBootCount ?? '—'} <span class="muted">(${d.reboots} reboots seen)</span></dd>
<dt>Last seen</dt><dd>${when(d.lastSeen, now)}</dd>
<dt>Quarantine</dt><dd>${d.quarantined ? html`yes — ${d.quarantineReason ?? ''} <span class="muted actor">by ${d.quarantinedBy ?? '?'}, ${when(d.quarantinedAt, now)}</span>` : 'no'}</dd>
</dl></div>
<div class="card"><h2>Certificate</h2><dl class="facts">
<dt>Subject</dt><dd class="mono">${d.certSubject ?? '—'}</dd><dt>Serial</dt><dd class="mono">${d.certSerial ?? '—'}</dd>
<dt>Not after</dt><dd>${d.certNotAfter ? html`${new Date(d.certNotAfter).toISOString().slice(0, 10)} ${d.certNotAfter < now ? html`<span class="badge bad">expired</span>` : ''}` : '—'}</dd>
<dt>SHA-256</dt><dd class="mono">${d.certFingerprint ?? '—'}</dd>
<dt>Attestation key</dt><dd class="mono">${d.attestationKey ? `${d.attestationKey.slice(0, 48)}…` : '—'}</dd>
</dl></div>
</div>
<div class="grid" style="margin-top:16px">
<div class="card"><h2>Telemetry ${metric ? html`<span class="muted">· ${metric}, 1-minute buckets, last 6 h</span>` : ''}</h2>
${metrics.length > 1 ? html`<p class="actions">${metrics.map((m) => html`<a class="button" href="?metric=${encodeURIComponent(m)}">${m}</a>`)}</p>` : ''}
<div class="chart" id="telemetry-chart" data-chart="${JSON.stringify(telemetryChart)}"></div></div>
<div class="card"><h2>Boot counter history</h2><div class="chart" id="boot-chart" data-chart="${JSON.stringify(bootChart)}"></div></div>
</div>
<div class="card" style="margin-top:16px"><h2>Attestation timeline <span class="muted">· last ${history.length}</span></h2>
${
  history.length === 0
    ? html`<p class="muted">No attestation yet.</p>`
    : html`<ul class="timeline" id="attestation-timeline">${history.map(
        (
          r,
        ) => html`<li><span>${when(r.createdAt, now)}</span><div>${statusBadge(r.status)} <span class="muted mono">${r.id}</span>
${bootCountOf(r) !== undefined ? html` <span class="muted">boot counter ${bootCountOf(r)}</span>` : ''}${reasonList(parseReasons(r.reasons))}</div></li>`,
      )}</ul>`
}</div>
<div class="card"><h2>Audit</h2>${
      auditRows.length === 0
        ? html`<p class="muted">Nothing recorded.</p>`
        : html`<table><thead><tr><th>When</th><th>Who</th><th>What</th><th>Details</th></tr></thead><tbody>${auditRows.map(
            (a) =>
              html`<tr><td>${when(a.at, now)}</td><td>${a.actor}</td><td>${a.action}</td><td>${detailsText(a.details)}</td></tr>`,
          )}</tbody></table>`
    }</div>`;
    return c.html(page({ base, title: d.id, nav: 'devices', operator: session, flash: ctx.takeFlash(session), body }));
  });

  const act = (
    path: string,
    run: (id: string, actor: string, form: Record<string, unknown>) => string | { error: string },
  ) =>
    app.post(`/devices/:id/${path}`, async (c) => {
      const session = c.get('session');
      requireOperator(session);
      const id = c.req.param('id');
      deps.registry.require(id);
      const message = run(id, `operator:${session.name}`, await c.req.parseBody());
      ctx.log.info({ deviceId: id, operator: session.name, action: path }, 'panel action');
      if (typeof message === 'string') ctx.flash(session, 'ok', message);
      else ctx.flash(session, 'error', message.error);
      ctx.feed.check();
      return c.redirect(`${base}/devices/${encodeURIComponent(id)}`, 303);
    });

  act('approve', (id, actor) => {
    deps.registry.approve(id, actor);
    return `Enrollment of ${id} approved.`;
  });
  act('quarantine', (id, actor, form) => {
    const reason =
      typeof form['reason'] === 'string' && form['reason'].trim()
        ? form['reason'].trim().slice(0, 200)
        : 'operator decision';
    deps.registry.quarantine(id, actor, reason);
    return `${id} quarantined: its publishes are refused until it is released.`;
  });
  act('release', (id, actor) => {
    deps.registry.release(id, actor);
    return `${id} released from quarantine.`;
  });
  act('reattest', (id) => {
    if (!deps.reattest(id)) return { error: `${id} is not connected now; it is challenged as soon as it connects.` };
    return `Challenge sent to ${id}; the result appears in the timeline.`;
  });
}

/** An audit row's details as `key: value` text, never as raw JSON. */
function detailsText(json: string): string {
  try {
    const v = JSON.parse(json) as Record<string, unknown>;
    return Object.entries(v)
      .map(
        ([k, x]) =>
          `${k}: ${
            typeof x === 'object' && x !== null
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
