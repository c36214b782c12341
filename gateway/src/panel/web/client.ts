import { clientScript } from '@palisade/shared';

/**
 * The panel's only script, served as `/panel/assets/panel.js`. Pages are rendered on the server and work without
 * it; the shared script adds charts, page refresh and confirmations, and the panel learns of changes by server-sent
 * events (on a change the current page is fetched again and its `<main>` swapped in, unless the operator is typing).
 */
export const PANEL_JS = clientScript(`  function live() {
    var el = document.querySelector('[data-live]');
    if (!el || typeof EventSource === 'undefined') return;
    var es = new EventSource(el.getAttribute('data-live'));
    es.addEventListener('open', function () { el.textContent = '● live'; el.className = 'live'; });
    es.addEventListener('error', function () { el.textContent = '● reconnecting'; el.className = 'live off'; });
    es.addEventListener('change', refresh);
  }

  document.addEventListener('DOMContentLoaded', function () {
    drawCharts(document); bindConfirm(document); live();
  });
})();
`);
