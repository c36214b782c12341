/**
 * The browser script the gateway panel and the SOC dashboard share, as plain ES2017 text (no build step): charts
 * (uPlot, served by each service itself), re-fetching the current page and swapping its `<main>` in unless the user is
 * typing, and confirmation of consequential buttons. Each surface appends how it learns of changes (`live`): the
 * panel by server-sent events, the dashboard by polling; the tail must define `live()` and close the wrapper.
 */
export function clientScript(live: string): string {
  return (
    `
(function () {
  'use strict';
  var COLORS = ['#2f6fb3', '#1f7a3d', '#6c3fb5', '#0f7c8c', '#8a5a00', '#c0392b'];

  function drawCharts(root) {
    if (typeof uPlot === 'undefined') return;
    root.querySelectorAll('[data-chart]').forEach(function (el) {
      var spec;
      try { spec = JSON.parse(el.getAttribute('data-chart')); } catch (e) { return; }
      el.textContent = '';
      if (!spec.x || spec.x.length === 0) {
        var p = document.createElement('p'); p.className = 'muted'; p.textContent = spec.empty || 'No data in this period.';
        el.appendChild(p); return;
      }
      var series = [{}].concat(spec.series.map(function (s, i) {
        var shown = s.y.filter(function (v) { return v != null; }).length;
        return { label: s.label, stroke: s.color || COLORS[i % COLORS.length], width: 2,
          points: { size: shown <= 3 ? 10 : 5 },
          fill: s.fill ? (s.color || COLORS[i % COLORS.length]) + '22' : undefined,
          value: function (u, v) { return v == null ? '–' : (spec.unit === '%' ? v.toFixed(1) + ' %' : String(Math.round(v * 100) / 100)); } };
      }));
      var opts = { width: Math.max(280, el.clientWidth), height: spec.height || 240, series: series,
        scales: xScale(spec, spec.unit === '%' ? { y: { range: [0, 100] } } : {}),
        axes: [{}, spec.unit === 'count'
          ? { size: 56, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] }
          : { size: 56, values: function (u, vals) { return vals.map(function (v) { return spec.unit === '%' ? v + '%' : v; }); } }] };
      if (spec.unit === 'count') opts.scales.y = { range: function (u, lo, hi) { return [0, Math.max(1, hi)]; } };
      var data = [spec.x].concat(spec.series.map(function (s) { return s.y; }));
      new uPlot(opts, data, el);
    });
  }

  // One sample (or all at one instant) would make uPlot stretch the time axis over years: centre it on an hour.
  function xScale(spec, scales) {
    var lo = Math.min.apply(null, spec.x), hi = Math.max.apply(null, spec.x);
    if (hi - lo < 60) scales.x = { time: true, range: [lo - 1800, hi + 1800] };
    return scales;
  }

  function bindConfirm(root) {
    root.querySelectorAll('form[data-confirm]').forEach(function (f) {
      f.addEventListener('submit', function (ev) { if (!window.confirm(f.getAttribute('data-confirm'))) ev.preventDefault(); });
    });
  }

  function typing() {
    var a = document.activeElement;
    return a && (a.tagName === 'INPUT' || a.tagName === 'TEXTAREA' || a.tagName === 'SELECT') && a.type !== 'submit';
  }

  var pending = null;
  function refresh() {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      if (typing()) return;
      fetch(location.href, { credentials: 'same-origin', headers: { 'x-live-refresh': '1' } }).then(function (r) {
        if (!r.ok || r.redirected) return null;
        return r.text();
      }).then(function (text) {
        if (!text || typing()) return;
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var next = doc.querySelector('main'); var cur = document.querySelector('main');
        if (!next || !cur) return;
        cur.innerHTML = next.innerHTML;
        drawCharts(cur); bindConfirm(cur);
      }).catch(function () {});
    }, 500);
  }

` + live
  );
}
