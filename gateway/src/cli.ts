#!/usr/bin/env node
import { runCli } from './cli/run.js';
import { configFromProcess } from './config.js';

/** `palisade-gateway`: see `palisade-gateway help`. Exit codes: 0 done, 1 refused / not affirming, 2 bad input. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  readStdin,
  loadConfig: (flags) => configFromProcess({ flags }),
  waitForStop: () =>
    new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }),
});
process.exitCode = code;
