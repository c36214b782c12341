/**
 * The dependency direction of STYLE.md, enforced: shared <- firmware-protocol <- gateway; shared <- cloud;
 * test -> all. Gateway and cloud never import each other; no package reaches into another by a relative path;
 * only an app's config.ts reads process.env.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const allowed: Record<string, string[]> = {
  shared: [],
  'firmware-protocol': ['shared'],
  gateway: ['shared', 'firmware-protocol'],
  cloud: ['shared'],
  test: ['shared', 'firmware-protocol', 'gateway', 'cloud'],
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT_RE =
  /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec) found.push(spec);
  }
  return found;
}

describe('dependency direction (STYLE.md)', () => {
  for (const [pkg, deps] of Object.entries(allowed)) {
    const files = ['src', 'test', 'scripts'].flatMap((d) => {
      try {
        return sourceFiles(join(root, pkg, d));
      } catch {
        return [];
      }
    });

    it(`${pkg} imports only ${deps.length ? deps.join(', ') : 'no other workspace'}`, () => {
      const violations: string[] = [];
      for (const f of files) {
        for (const spec of importsOf(f)) {
          const ws = /^@palisade\/([^/]+)/.exec(spec)?.[1];
          if (ws && ws !== pkg && !deps.includes(ws)) violations.push(`${relative(root, f)} -> ${spec}`);
          if (spec.startsWith('.')) {
            const target = relative(root, resolve(dirname(f), spec));
            const top = target.split(sep)[0];
            if (top !== pkg) violations.push(`${relative(root, f)} -> ${spec} (reaches outside ${pkg}/)`);
          }
        }
      }
      expect(violations).toEqual([]);
    });

    it(`${pkg}: only config.ts reads process.env`, () => {
      const readers = files
        .filter((f) => f.includes(`${sep}src${sep}`) && !f.endsWith('.test.ts') && !/(^|[\\/])config\.ts$/.test(f))
        .filter((f) => /process\.env\b/.test(readFileSync(f, 'utf8')))
        .map((f) => relative(root, f));
      expect(readers).toEqual([]);
    });
  }

  it('the checker itself sees a forbidden import', () => {
    // Guard against a regex that silently matches nothing.
    const sample = "import { x } from '@palisade/cloud';\nexport * from '../gateway/src/a.js';";
    const specs = [...sample.matchAll(IMPORT_RE)].map((m) => m[1] ?? m[2] ?? m[3]);
    expect(specs).toEqual(['@palisade/cloud', '../gateway/src/a.js']);
  });
});
