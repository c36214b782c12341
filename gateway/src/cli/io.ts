import { describeError, isPalisadeError } from '@palisade/shared';
import type { GatewayConfig } from '../config/index.js';

/** What a command needs from its process; tests pass buffers and their own environment. */
export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  readStdin: () => Promise<string>;
  /** Builds the configuration from flags (plus file and environment, which only `config.ts` may read). */
  loadConfig: (flags: Record<string, string | boolean | string[] | undefined>) => GatewayConfig;
  /** Resolves when the operator asks the process to stop (Ctrl-C / SIGTERM). */
  waitForStop: () => Promise<void>;
}

/** Exit codes of every command: 0 done, 1 refused or not affirming/valid, 2 unusable input or usage. */
export type ExitCode = 0 | 1 | 2;

/** The one place CLI errors become exit codes: input and configuration problems are 2, refusals are 1. */
export function exitCodeOf(e: unknown): ExitCode {
  if (!isPalisadeError(e)) return 1;
  const family = e.code.split('.')[0];
  return family === 'validation' || family === 'config' || family === 'attestation' || family === 'pki' ? 2 : 1;
}

export function reportError(io: CliIo, e: unknown, json: boolean): ExitCode {
  const { code, message } = describeError(e);
  io.stderr.write(json ? `${JSON.stringify({ error: { code, message } })}\n` : `error: ${message} (${code})\n`);
  return exitCodeOf(e);
}
