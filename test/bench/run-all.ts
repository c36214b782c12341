/**
 * Runs every benchmark in this directory (`*.bench.js`), one after the other, each in its own process so that one
 * benchmark's heap, threads and sockets do not disturb the next. Each benchmark's JSON lines are printed as they
 * come; its other output goes to stderr. A benchmark that exits with 2 lacks something it needs (PostgreSQL, say):
 * it is reported as skipped. Any other non-zero exit is a failure and makes the run exit 1.
 *
 * Usage (root `npm run bench`): `node test/dist/bench/run-all.js [--only SUBSTRING]`
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { only: { type: 'string' } } });
const dir = dirname(fileURLToPath(import.meta.url));
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js') && (values.only === undefined || f.includes(values.only)))
  .sort();

function run(file: string): Promise<{ code: number | null; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(dir, file)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let rest = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        // JSON lines are the results; anything else a benchmark prints is commentary.
        if (line.startsWith('{')) process.stdout.write(`${line}\n`);
        else if (line !== '') process.stderr.write(`${file}: ${line}\n`);
      }
    });
    child.on('close', (code) => {
      if (rest.startsWith('{')) process.stdout.write(`${rest}\n`);
      resolve({ code, seconds: (performance.now() - started) / 1000 });
    });
  });
}

let failed = 0;
for (const file of benches) {
  const bench = file.replace(/\.bench\.js$/, '');
  process.stderr.write(`run-all: ${bench}\n`);
  const { code, seconds } = await run(file);
  const status = code === 0 ? 'ok' : code === 2 ? 'skipped' : 'failed';
  if (status === 'failed') failed++;
  process.stderr.write(`run-all: ${bench} ${status} (exit ${code}, ${seconds.toFixed(1)} s)\n`);
}
process.stderr.write(`run-all: ${benches.length} benchmarks, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;
