import { html } from 'hono/html';

/** A rendered fragment; `html` escapes every interpolated string, so what gateways and analysts wrote is safe. */
export type Html = ReturnType<typeof html>;

export type NavKey = 'overview' | 'cases' | 'alerts' | 'fleet' | 'commands' | 'none';

export interface Viewer {
  email: string;
  role: string;
  csrf: string;
}

export interface Shell {
  base: string;
  title: string;
  nav: NavKey;
  user?: Viewer | undefined;
  flash?: { kind: 'ok' | 'error'; text: string } | undefined;
  body: Html;
}

export function page(p: Shell): Html {
  const link = (key: NavKey, href: string, label: string) =>
    html`<a href="${p.base}${href}" class="${p.nav === key ? 'on' : ''}">${label}</a>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${p.title} · Palisade SOC</title>
<link rel="stylesheet" href="${p.base}/assets/uplot.css"><link rel="stylesheet" href="${p.base}/assets/dashboard.css">
<script src="${p.base}/assets/uplot.js" defer></script><script src="${p.base}/assets/dashboard.js" defer></script>
</head><body>
<header class="top"><span class="logo">Palisade · SOC</span>
${
  p.user
    ? html`<nav>${link('overview', '', 'Overview')}${link('cases', '/cases', 'Cases')}${link('alerts', '/alerts', 'Alert stream')}${link('fleet', '/fleet', 'Fleet')}${link('commands', '/commands', 'Commands')}</nav>
<div class="who"><span>${p.user.email} (${p.user.role})</span>
<form method="post" action="${p.base}/logout"><input type="hidden" name="_csrf" value="${p.user.csrf}"><button type="submit">Sign out</button></form></div>`
    : html`<nav></nav>`
}
</header>
<main>${p.flash ? html`<div class="flash ${p.flash.kind === 'error' ? 'error' : ''}" role="status">${p.flash.text}</div>` : ''}${p.body}</main>
</body></html>`;
}

export function severityBadge(severity: string): Html {
  const cls =
    severity === 'critical' || severity === 'high'
      ? 'bad'
      : severity === 'medium' || severity === 'warning'
        ? 'warn'
        : severity === 'low' || severity === 'info'
          ? ''
          : '';
  return html`<span class="badge ${cls}" data-severity="${severity}">${severity}</span>`;
}

export function statusBadge(status: string | null | undefined): Html {
  const s = status ?? 'none';
  const cls = s === 'affirming' ? 'ok' : s === 'warning' ? 'warn' : s === 'contraindicated' ? 'bad' : '';
  const label = s === 'contraindicated' ? 'failed' : s === 'affirming' ? 'passed' : s;
  return html`<span class="badge ${cls}" data-status="${s}">${label}</span>`;
}

export function stateBadge(state: string): Html {
  const cls =
    state === 'new'
      ? 'warn'
      : state === 'resolved' || state === 'false_positive'
        ? 'ok'
        : state === 'merged'
          ? ''
          : 'warn';
  return html`<span class="badge ${cls}">${state.replace('_', ' ')}</span>`;
}

export function ago(ms: number): string {
  const future = ms < 0;
  const s = Math.floor(Math.abs(ms) / 1000);
  const t =
    s < 60
      ? `${s}s`
      : s < 3600
        ? `${Math.floor(s / 60)}m`
        : s < 86_400
          ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
          : `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
  return future ? `in ${t}` : `${t} ago`;
}

export function when(value: Date | string | number | null | undefined, nowMs: number): Html {
  if (value === null || value === undefined) return html`<span class="muted">never</span>`;
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : value;
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}" title="${iso}">${iso.slice(0, 16).replace('T', ' ')} <span class="muted">(${ago(nowMs - ms)})</span></time>`;
}

/** Duration in words for lags and clocks (`2m 5s`, `3h 10m`). */
export function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

export function passBar(passed: number, total: number): Html {
  if (total === 0) return html`<span class="muted">no devices</span>`;
  const pct = (100 * passed) / total;
  return html`<span class="bar" title="${passed} of ${total}"><i style="width:${pct.toFixed(1)}%"></i></span>${pct.toFixed(1)} %`;
}

export function csrfField(csrf: string): Html {
  return html`<input type="hidden" name="_csrf" value="${csrf}">`;
}

export function option(value: string, label: string, current: string | undefined): Html {
  return html`<option value="${value}" ${current === value ? html`selected` : ''}>${label}</option>`;
}

/** A short human summary of a JSON value (timeline before/after, alert details): never raw JSON. */
export function summarise(v: unknown, depth = 0): string {
  if (v === null || v === undefined) return '—';
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return v.map((x) => summarise(x, depth + 1)).join(', ');
  if (depth > 1) return '…';
  return Object.entries(v as Record<string, unknown>)
    .slice(0, 8)
    .map(([k, x]) => `${k}: ${summarise(x, depth + 1)}`)
    .join(' · ');
}
