import { ValidationError } from '@palisade/shared';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import { ReferenceValues } from '../../attestation/reference-values.js';
import { csrfField, page } from '../html.js';
import type { PanelContext, PanelEnv } from '../index.js';
import { requireOperator } from '../operators.js';

/** Largest import accepted from the form (the schema allows 10,000 entries of up to 16 components). */
const MAX_IMPORT_BYTES = 4 * 1024 * 1024;

export function registerReferencePages(app: Hono<PanelEnv>, ctx: PanelContext): void {
  const { deps, base } = ctx;

  app.get('/reference-values', (c) => {
    const session = c.get('session');
    const doc = deps.referenceValues.get().document;
    const entries = [...doc.entries].sort(
      (a, b) =>
        a.boardFamily.localeCompare(b.boardFamily) ||
        a.firmwareVersion.localeCompare(b.firmwareVersion, 'en', { numeric: true }),
    );
    const body = html`<h1>Reference values</h1>
<div class="card"><div class="actions"><span>${entries.length} firmware entries in use by the appraiser.</span>
<a class="button" href="${base}/reference-values/export" download="reference-values.json">Export JSON</a></div></div>
<div class="card"><table id="reference-values"><thead><tr><th>Family</th><th>Firmware</th><th>Component</th><th>Alg</th><th>Digest</th></tr></thead><tbody>
${
  entries.length === 0
    ? html`<tr><td colspan="5" class="muted">No reference values: every device's firmware is unknown until some are imported.</td></tr>`
    : entries.slice(0, 500).flatMap((e) =>
        e.components.map(
          (
            comp,
            i,
          ) => html`<tr>${i === 0 ? html`<td rowspan="${e.components.length}">${e.boardFamily}</td><td rowspan="${e.components.length}">${e.firmwareVersion}${e.description ? html`<div class="muted">${e.description}</div>` : ''}</td>` : ''}
<td>${comp.name}</td><td>${comp.alg}</td><td class="mono">${comp.digest}</td></tr>`,
        ),
      )
}</tbody></table>${entries.length > 500 ? html`<p class="muted">First 500 entries shown; export for the full set.</p>` : ''}</div>
${
  session.role === 'operator'
    ? html`<div class="card"><h2>Import</h2><p class="muted">Each entry replaces the stored one of the same family and version. The whole file is checked first: a bad file changes nothing.</p>
<form method="post" action="${base}/reference-values/import" enctype="multipart/form-data">${csrfField(session.csrf)}
<p><input type="file" name="file" accept="application/json,.json"></p><p>or paste JSON:</p>
<textarea name="json" placeholder='{"version":1,"entries":[...]}'></textarea>
<p><button type="submit" class="primary">Import</button></p></form></div>`
    : ''
}`;
    return c.html(
      page({ base, title: 'Reference values', nav: 'refvals', operator: session, flash: ctx.takeFlash(session), body }),
    );
  });

  app.get('/reference-values/export', (c) =>
    c.body(deps.referenceValues.get().export(), 200, {
      'content-type': 'application/json; charset=utf-8',
      'content-disposition': 'attachment; filename="reference-values.json"',
    }),
  );

  app.post('/reference-values/import', async (c) => {
    const session = c.get('session');
    requireOperator(session);
    const form = await c.req.parseBody();
    const file = form['file'];
    let text = typeof form['json'] === 'string' ? form['json'].trim() : '';
    if (file instanceof File && file.size > 0) {
      if (file.size > MAX_IMPORT_BYTES)
        throw new ValidationError('validation.too_large', 'the file is larger than 4 MiB');
      text = await file.text();
    }
    if (text === '') {
      ctx.flash(session, 'error', 'Choose a file or paste the JSON to import.');
      return c.redirect(`${base}/reference-values`, 303);
    }
    if (text.length > MAX_IMPORT_BYTES)
      throw new ValidationError('validation.too_large', 'the JSON is larger than 4 MiB');
    let next: ReferenceValues;
    try {
      next = ReferenceValues.parse(text);
    } catch (e) {
      ctx.flash(session, 'error', `Nothing imported: ${e instanceof Error ? e.message : String(e)}`);
      return c.redirect(`${base}/reference-values`, 303);
    }
    deps.referenceValues.import(next, `operator:${session.name}`);
    ctx.log.info({ operator: session.name, entries: next.size }, 'reference values imported from the panel');
    ctx.flash(session, 'ok', `Imported ${next.size} firmware entries.`);
    return c.redirect(`${base}/reference-values`, 303);
  });
}
