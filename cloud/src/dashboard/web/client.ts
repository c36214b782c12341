import { clientScript } from '@palisade/shared';

/**
 * The dashboard's only script, served as `/dashboard/assets/dashboard.js`. Pages are rendered on the server and work
 * without it; the shared script adds charts, page refresh and confirmations, and a page marked `data-refresh` fetches
 * itself again every so many seconds (unless the analyst is typing).
 */
export const DASHBOARD_JS = clientScript(`  function live() {
    var el = document.querySelector('[data-refresh]');
    if (!el) return;
    var seconds = Math.max(5, Number(el.getAttribute('data-refresh')) || 15);
    setInterval(function () { if (document.visibilityState === 'visible') refresh(); }, seconds * 1000);
  }

  document.addEventListener('DOMContentLoaded', function () {
    drawCharts(document); bindConfirm(document); live();
  });
})();
`);
