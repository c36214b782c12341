import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_REASON_CODES } from '../../src/errors.js';

const PKG = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const doc = readFileSync(join(PKG, 'docs/PROTOCOL.md'), 'utf8');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('PROTOCOL.md is the normative reference', () => {
  it('lists every reason code of errors.ts in its reason-code table (§9)', () => {
    for (const code of PROTOCOL_REASON_CODES) {
      expect(doc, code).toContain(`| \`${code}\` |`);
    }
  });

  it('defines every [FP-…] statement that code and tests cite', () => {
    const defined = new Set([...doc.matchAll(/\[(FP-[0-9.]+-[0-9]+)\]/g)].map((m) => m[1]));
    const cited = new Set<string>();
    for (const f of [...files(join(PKG, 'src')), ...files(join(PKG, 'test')), ...files(join(PKG, 'scripts'))]) {
      for (const m of readFileSync(f, 'utf8').matchAll(/FP-[0-9.]+-([0-9]+)(?:\.\.([0-9]+))?/g)) {
        const base = m[0].replace(/\.\.[0-9]+$/, '').replace(/-[0-9]+$/, '');
        const from = Number(m[1]);
        const to = m[2] === undefined ? from : Number(m[2]);
        for (let i = from; i <= to; i++) cited.add(`${base}-${i}`);
      }
    }
    expect(cited.size).toBeGreaterThan(20);
    expect([...cited].filter((c) => !defined.has(c))).toEqual([]);
  });
});
