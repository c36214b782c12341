/**
 * A self-contained HTML reference of the API rendered from the OpenAPI document (no CDN, no script): one section
 * per operation with its method, path, summary, roles and parameters.
 */
interface OperationLike {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; description?: string }[];
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderReferencePage(doc: {
  info?: { title?: string; version?: string };
  paths?: Record<string, Record<string, OperationLike>>;
}): string {
  const rows: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    for (const [method, op] of Object.entries(ops)) {
      const params = (op.parameters ?? [])
        .map(
          (p) =>
            `<li><code>${esc(p.name)}</code> (${esc(p.in)}${p.required ? ', required' : ''})${p.description ? ` — ${esc(p.description)}` : ''}</li>`,
        )
        .join('');
      rows.push(
        `<section><h2><span class="m">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h2>` +
          `${op.summary ? `<p>${esc(op.summary)}</p>` : ''}${op.description ? `<p>${esc(op.description)}</p>` : ''}` +
          `${params ? `<ul>${params}</ul>` : ''}</section>`,
      );
    }
  }
  const title = esc(`${doc.info?.title ?? 'API'} ${doc.info?.version ?? ''}`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title><style>
body{font:14px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{font-size:1rem;margin:1.5rem 0 .25rem}.m{display:inline-block;min-width:4rem;color:#05c}section{border-top:1px solid #ddd}
</style></head><body><h1>${title}</h1><p>Machine-readable: <a href="openapi.json">openapi.json</a>. Errors: <code>{"error":{"code","message","details"}}</code>.</p>${rows.join('')}</body></html>`;
}
