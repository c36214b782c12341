import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Hono } from 'hono';
import { PANEL_JS } from './web/client.js';
import { PANEL_CSS } from './web/styles.js';

const require = createRequire(import.meta.url);

/**
 * Static assets, all served by the gateway itself (the plant network has no internet): the stylesheet and script
 * of the panel, and uPlot (charts, ~50 KB) read once from its npm package. Cached by the browser for an hour.
 */
export function registerAssets(app: Hono, prefix: string): void {
  const files: Record<string, { type: string; body: string }> = {
    'panel.css': { type: 'text/css; charset=utf-8', body: PANEL_CSS },
    'panel.js': { type: 'text/javascript; charset=utf-8', body: PANEL_JS },
    'uplot.js': {
      type: 'text/javascript; charset=utf-8',
      body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    },
    'uplot.css': {
      type: 'text/css; charset=utf-8',
      body: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    },
  };
  app.get(`${prefix}/:name`, (c) => {
    const f = files[c.req.param('name')];
    if (f === undefined) return c.notFound();
    return c.body(f.body, 200, { 'content-type': f.type, 'cache-control': 'private, max-age=3600' });
  });
}
