import { html } from 'hono/html';

/** A rendered fragment; `html` escapes every interpolated string, so rows from the store are safe to print. */
export type Html = ReturnType<typeof html>;

export interface PageShell {
  base: string;
  title: string;
  nav: 'devices' | 'alerts' | 'refvals' | 'none';
  operator?: { name: string; role: string; csrf: string } | undefined;
  flash?: { kind: 'ok' | 'error'; text: string } | undefined;
  body: Html;
}

/** The page around every panel view: top bar, navigation, flash message, live-update indicator. */
export function page(p: PageShell): Html {
  const link = (key: PageShell['nav'], href: string, label: string) =>
    html`<a href="${p.base}${href}" class="${p.nav === key ? 'on' : ''}">${label}</a>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${p.title} · Palisade gateway</title>
<link rel="stylesheet" href="${p.base}/assets/uplot.css"><link rel="stylesheet" href="${p.base}/assets/panel.css">
<script src="${p.base}/assets/uplot.js" defer></script><script src="${p.base}/assets/panel.js" defer></script>
</head><body>
<header class="top"><span class="logo">Palisade · gateway</span>
${
  p.operator
    ? html`<nav>${link('devices', '/devices', 'Devices')}${link('alerts', '/alerts', 'Alerts')}${link('refvals', '/reference-values', 'Reference values')}</nav>
<div class="who"><span class="live off" data-live="${p.base}/events">● connecting</span><span>${p.operator.name} (${p.operator.role})</span>
<form method="post" action="${p.base}/logout"><input type="hidden" name="_csrf" value="${p.operator.csrf}"><button type="submit">Sign out</button></form></div>`
    : html`<nav></nav>`
}
</header>
<main>${p.flash ? html`<div class="flash ${p.flash.kind === 'error' ? 'error' : ''}" role="status">${p.flash.text}</div>` : ''}${p.body}</main>
</body></html>`;
}

/** EAR status → badge colour. */
export function statusBadge(status: string | null | undefined): Html {
  const s = status ?? 'none';
  const cls = s === 'affirming' ? 'ok' : s === 'warning' ? 'warn' : s === 'contraindicated' ? 'bad' : '';
  const label = s === 'contraindicated' ? 'failed (contraindicated)' : s === 'affirming' ? 'passed (affirming)' : s;
  return html`<span class="badge ${cls}" data-status="${s}">${label}</span>`;
}

export function severityBadge(severity: string): Html {
  const cls =
    severity === 'critical' || severity === 'high'
      ? 'bad'
      : severity === 'warning' || severity === 'medium'
        ? 'warn'
        : '';
  return html`<span class="badge ${cls}">${severity}</span>`;
}

export function reasonList(reasons: readonly string[]): Html {
  if (reasons.length === 0) return html``;
  return html`<div class="reasons">${reasons.map((r) => html`<span class="reason">${r}</span>`)}</div>`;
}

/** A UTC time a person can read, with the exact value as a tooltip. */
export function when(ms: number | null | undefined, nowMs: number): Html {
  if (ms === null || ms === undefined) return html`<span class="muted">never</span>`;
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}" title="${iso}">${iso.slice(0, 19).replace('T', ' ')} <span class="muted">(${ago(nowMs - ms)})</span></time>`;
}

export function ago(ms: number): string {
  if (ms < 0) return 'in the future';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Previous / next links that keep the current filters; `total` shown so the operator knows the size of the set. */
export function pager(
  basePath: string,
  params: URLSearchParams,
  pageNo: number,
  pageSize: number,
  total: number,
): Html {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const to = (n: number) => {
    const q = new URLSearchParams(params);
    q.set('page', String(n));
    return `${basePath}?${q.toString()}`;
  };
  const first = total === 0 ? 0 : (pageNo - 1) * pageSize + 1;
  const last = Math.min(total, pageNo * pageSize);
  return html`<div class="pager"><span>${first}–${last} of ${total}</span><span class="actions">
${pageNo > 1 ? html`<a class="button" href="${to(pageNo - 1)}" rel="prev">← Previous</a>` : ''}
<span>page ${pageNo} / ${pages}</span>
${pageNo < pages ? html`<a class="button" href="${to(pageNo + 1)}" rel="next">Next →</a>` : ''}</span></div>`;
}

export function csrfField(csrf: string): Html {
  return html`<input type="hidden" name="_csrf" value="${csrf}">`;
}
