import { baseStylesheet } from '@palisade/shared';

/** The SOC dashboard stylesheet, served from `/dashboard/assets/dashboard.css`: the shared base in the SOC's colour. */
export const DASHBOARD_CSS = baseStylesheet({ brand: '#1d2a44', timelineDateWidth: 215 });

/** Additions for the dashboard's own views (SLA clocks, fleet tree, command states). */
export const DASHBOARD_EXTRA_CSS = `
.sla { font-size:12px; white-space:nowrap; } .sla.breached { color:var(--bad); font-weight:600; } .sla.stopped { color:var(--muted); }
.tree { list-style:none; margin:0; padding-left:0; } .tree ul { list-style:none; padding-left:18px; border-left:2px solid var(--line); margin:6px 0 6px 6px; }
.tree li { padding:3px 0; }
.bar { display:inline-block; height:8px; border-radius:4px; background:var(--bad-bg); width:100px; vertical-align:middle; overflow:hidden; margin-right:6px; }
.bar > i { display:block; height:100%; background:var(--ok); }
.kv { display:flex; gap:16px; flex-wrap:wrap; color:var(--muted); font-size:13px; margin-bottom:10px; }
.comment { border-bottom:1px solid var(--line); padding:8px 0; } .comment:last-child { border-bottom:0; }
.comment .meta { color:var(--muted); font-size:12px; }
.inline { display:inline-flex; gap:6px; align-items:center; margin:0; }
`;
