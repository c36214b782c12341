/**
 * The stylesheet the gateway panel and the SOC dashboard share: hand-written and small, served by each service itself
 * (no CDN, no web fonts, so it works on an isolated plant network); system font stack, one column on narrow screens.
 * Each surface passes its brand colour and appends its own additions.
 */
export function baseStylesheet(o: { brand: string; timelineDateWidth: number }): string {
  return `
/* Actor ids (cloud:user:usr_…) have no break opportunities: let them wrap instead of overflowing their cell. */
.actor { overflow-wrap:anywhere; }
:root { --bg:#f4f6f9; --card:#fff; --ink:#1c2430; --muted:#5b6675; --line:#dde3ea; --brand:${o.brand}; --accent:#2f6fb3;
  --ok:#1f7a3d; --ok-bg:#e3f4e8; --warn:#8a5a00; --warn-bg:#fff2d6; --bad:#a4262c; --bad-bg:#fde7e8; --none-bg:#eceff3; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color:var(--ink); background:var(--bg); }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
header.top { display:flex; align-items:center; gap:24px; padding:0 20px; height:52px; background:var(--brand); color:#fff; }
header.top .logo { font-weight:700; letter-spacing:.02em; white-space:nowrap; }
header.top nav { display:flex; gap:4px; flex:1; min-width:0; overflow-x:auto; }
header.top nav a { color:#cfdbea; padding:6px 10px; border-radius:4px; white-space:nowrap; }
header.top nav a.on, header.top nav a:hover { background:rgba(255,255,255,.12); color:#fff; text-decoration:none; }
header.top .who { display:flex; align-items:center; gap:10px; color:#cfdbea; white-space:nowrap; }
header.top .who button { background:transparent; color:#fff; border:1px solid rgba(255,255,255,.4); }
main { max-width:1280px; margin:0 auto; padding:20px; }
h1 { font-size:20px; margin:0 0 14px; } h2 { font-size:16px; margin:0 0 10px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:16px; margin-bottom:16px; overflow-x:auto; }
.grid { display:grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap:16px; }
.grid .card { margin-bottom:0; }
.stats { display:flex; gap:12px; flex-wrap:wrap; margin-bottom:16px; }
.stat { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:10px 16px; min-width:140px; }
.stat b { display:block; font-size:22px; } .stat span { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; font-weight:600; white-space:nowrap; }
tbody tr:hover { background:#f7f9fc; }
td.mono, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size:12.5px; word-break:break-all; }
td.id, td.id a { white-space:nowrap; word-break:normal; }
h1 .mono { font-size:inherit; }
td.num { text-align:right; font-variant-numeric: tabular-nums; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; white-space:nowrap; background:var(--none-bg); color:var(--muted); }
.badge.ok { background:var(--ok-bg); color:var(--ok); } .badge.warn { background:var(--warn-bg); color:var(--warn); }
.badge.bad { background:var(--bad-bg); color:var(--bad); }
.reasons { display:flex; flex-wrap:wrap; gap:4px; margin-top:3px; }
.reason { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size:11.5px; background:#f1f3f6; border:1px solid var(--line); border-radius:3px; padding:0 5px; }
.muted { color:var(--muted); }
form.filters { display:flex; flex-wrap:wrap; gap:8px; align-items:flex-end; margin-bottom:12px; }
form.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:2px; }
input, select, textarea, button { font:inherit; }
input[type=text], input[type=search], input[type=password], select, textarea { padding:6px 8px; border:1px solid #c4ccd6; border-radius:4px; background:#fff; }
textarea { width:100%; min-height:160px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size:12.5px; }
button, .button { display:inline-block; padding:6px 12px; border-radius:4px; border:1px solid #c4ccd6; background:#fff; color:var(--ink); cursor:pointer; white-space:nowrap; }
button.primary, .button.primary { background:var(--accent); border-color:var(--accent); color:#fff; }
button.danger { background:var(--bad); border-color:var(--bad); color:#fff; }
.actions { display:flex; flex-wrap:wrap; gap:8px; align-items:center; }
td .actions { flex-wrap:nowrap; margin-top:4px; }
.actions form { margin:0; display:flex; gap:6px; align-items:center; }
.pager { display:flex; gap:8px; align-items:center; justify-content:space-between; margin-top:10px; color:var(--muted); }
.flash { padding:10px 14px; border-radius:4px; margin-bottom:14px; background:var(--ok-bg); color:var(--ok); border:1px solid #b9e0c5; }
.flash.error { background:var(--bad-bg); color:var(--bad); border-color:#f3c3c6; }
dl.facts { display:grid; grid-template-columns: max-content 1fr; gap:6px 16px; margin:0; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; min-width:0; overflow-wrap:anywhere; }
.timeline { list-style:none; margin:0; padding:0; }
.timeline li { display:grid; grid-template-columns: ${o.timelineDateWidth}px 1fr; gap:12px; padding:8px 0; border-bottom:1px solid var(--line); }
.timeline li:last-child { border-bottom:0; }
.chart { width:100%; min-height:240px; }
.login { max-width:360px; margin:80px auto; }
.login form { display:flex; flex-direction:column; gap:10px; }
.login label { display:flex; flex-direction:column; gap:4px; font-size:13px; color:var(--muted); }
.live { font-size:12px; color:#9fd3ad; } .live.off { color:#f2b8b5; }
@media (max-width: 720px) { header.top { flex-wrap:wrap; height:auto; padding:8px 12px; gap:8px; } main { padding:12px; } .timeline li { grid-template-columns:1fr; } }
`;
}
