/**
 * Writes the project's evidence test vectors to firmware-protocol/vectors/ (PROTOCOL.md §11).
 * Run from the repository root:  npx tsx --conditions=source firmware-protocol/scripts/generate-vectors.ts
 * (or, after `npx tsc -b firmware-protocol`:  node firmware-protocol/dist/scripts/generate-vectors.js).
 * The output is deterministic; the test suite re-generates the vectors and fails if any byte differs.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildVectors, serializeVector } from './vector-cases.js';

function packageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!dir.endsWith('firmware-protocol')) dir = dirname(dir);
  return dir;
}

const out = resolve(packageDir(), 'vectors');
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) if (f.endsWith('.json')) rmSync(join(out, f));
const vectors = buildVectors();
for (const v of vectors) writeFileSync(join(out, `${v.name}.json`), serializeVector(v));
process.stdout.write(`wrote ${vectors.length} vectors to ${out}\n`);
