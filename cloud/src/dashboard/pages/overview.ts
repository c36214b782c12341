import type { Hono } from 'hono';
import { html } from 'hono/html';
import { listCases } from '../../cases/case-service.js';
import { option, page, passBar, severityBadge, stateBadge, when } from '../html.js';
import type { DashContext, DashEnv } from '../index.js';
import { alertSeries, fleetTotals, passRateSeries, RANGES, type RangeKey, siteSummaries } from '../queries.js';
import { actorOf } from '../session.js';

const SEVERITY_COLORS: Record<string, string> = {
  critical: '#a4262c',
  high: '#d9534f',
  warning: '#c98a00',
  medium: '#c98a00',
  low: '#2f6fb3',
  info: '#7d8b99',
};

/** Fills the buckets of a range so a chart's x axis is the whole range, with gaps where nothing happened. */
function buckets(fromMs: number, toMs: number, bucketS: number): number[] {
  const out: number[] = [];
  for (let t = Math.floor(fromMs / 1000 / bucketS) * bucketS; t * 1000 <= toMs; t += bucketS) out.push(t);
  return out;
}

export function registerOverview(app: Hono<DashEnv>, ctx: DashContext): void {
  const { deps, base } = ctx;

  app.get('/', async (c) => {
    const user = c.get('user');
    const rangeKey: RangeKey = (Object.keys(RANGES) as RangeKey[]).includes(c.req.query('range') as RangeKey)
      ? (c.req.query('range') as RangeKey)
      : '24h';
    const range = RANGES[rangeKey];
    const now = deps.clock.now();
    const from = now - range.ms;
    const data = await deps.database.withTenant(user.orgId, async (tx) => ({
      pass: await passRateSeries(tx, user.orgId, from, range.bucketS),
      alerts: await alertSeries(tx, user.orgId, from, range.bucketS),
      sites: await siteSummaries(tx, user.orgId),
      totals: await fleetTotals(tx, user.orgId),
    }));
    const openCases = await listCases(
      deps.database,
      user.orgId,
      actorOf(user, c.get('source')),
      { state: 'new,triaged,investigating,contained', limit: 8 },
      deps.clock,
    );
    const xs = buckets(from, now, range.bucketS);
    const siteName = new Map(data.sites.map((s) => [s.id, s.name]));
    const siteIds = [...new Set(data.pass.map((p) => p.siteId))].slice(0, 5);
    const rate = (pts: { total: number; passed: number }[]) => {
      const total = pts.reduce((a, p) => a + p.total, 0);
      return total === 0 ? null : (100 * pts.reduce((a, p) => a + p.passed, 0)) / total;
    };
    const passChart = {
      unit: '%',
      empty: 'No attestation results in this period.',
      x: data.pass.length === 0 ? [] : xs,
      series: [
        { label: 'all sites', y: xs.map((t) => rate(data.pass.filter((p) => p.t === t))), color: '#1d2a44' },
        ...siteIds.map((id) => ({
          label: siteName.get(id) ?? id,
          y: xs.map((t) => rate(data.pass.filter((p) => p.t === t && p.siteId === id))),
        })),
      ],
    };
    const severities = [...new Set(data.alerts.map((a) => a.severity))];
    const alertChart = {
      unit: 'count',
      empty: 'No alerts in this period.',
      x: data.alerts.length === 0 ? [] : xs,
      series: severities.map((s) => ({
        label: s,
        color: SEVERITY_COLORS[s],
        fill: true,
        y: xs.map((t) => data.alerts.find((a) => a.t === t && a.severity === s)?.n ?? 0),
      })),
    };
    const body = html`<h1>Overview</h1>
<div class="stats">
<a class="stat" href="${base}/cases"><b>${openCases.items.length}${openCases.nextCursor ? '+' : ''}</b><span>open cases</span></a>
<a class="stat" href="${base}/fleet/devices"><b>${data.totals.devices}</b><span>devices</span></a>
<a class="stat" href="${base}/fleet/devices?status=contraindicated"><b>${data.totals.failed}</b><span>failing attestation</span></a>
<a class="stat" href="${base}/fleet/devices?quarantined=yes"><b>${data.totals.quarantined}</b><span>quarantined</span></a>
<a class="stat" href="${base}/fleet"><b>${data.totals.gateways}</b><span>gateways</span></a>
</div>
<div class="card"><form class="filters" method="get" action="${base}"><label>Period<select name="range">
${(Object.keys(RANGES) as RangeKey[]).map((k) => option(k, `last ${k}`, rangeKey))}</select></label><button type="submit">Show</button></form>
<div class="grid">
<div><h2>Attestation pass rate</h2><div class="chart" id="pass-rate-chart" data-chart="${JSON.stringify(passChart)}"></div></div>
<div><h2>Alerts by severity</h2><div class="chart" id="alerts-chart" data-chart="${JSON.stringify(alertChart)}"></div></div>
</div></div>
<div class="grid">
<div class="card"><h2>Open cases</h2>${
      openCases.items.length === 0
        ? html`<p class="muted">No open case.</p>`
        : html`<table><thead><tr><th>Case</th><th>Severity</th><th>State</th><th>Updated</th></tr></thead><tbody>${openCases.items.map(
            (k) =>
              html`<tr><td><a href="${base}/cases/${k.id}">${k.title}</a></td><td>${severityBadge(k.severity)}</td><td>${stateBadge(k.state)}</td><td>${when(k.updatedAt, now)}</td></tr>`,
          )}</tbody></table>`
    }</div>
<div class="card"><h2>Pass rate per site</h2><table><thead><tr><th>Site</th><th>Devices</th><th>Passing now</th></tr></thead><tbody>${data.sites.map(
      (s) =>
        html`<tr><td><a href="${base}/fleet/devices?site=${encodeURIComponent(s.id)}">${s.name}</a></td><td class="num">${s.devices}</td><td>${passBar(s.passed, s.devices)}</td></tr>`,
    )}</tbody></table></div>
</div>`;
    return c.html(page({ base, title: 'Overview', nav: 'overview', user, flash: ctx.takeFlash(user), body }));
  });
}
