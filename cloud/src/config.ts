import { ValidationError } from '@palisade/shared';
import { z } from 'zod';

/**
 * The cloud's environment, parsed once. Nothing else in `cloud/src` reads `process.env`.
 * - `DATABASE_URL`: PostgreSQL connection string; unset = embedded PGlite in the data directory.
 * - `PALISADE_DATA_DIR`: PGlite data directory when `--data-dir` is not given.
 * - `PALISADE_ADMIN_PASSWORD` / `PALISADE_ADMIN_API_KEY`: first-start credentials of the admin (else a one-time
 *   password is generated and printed once). The API key must have the `pk_<id>_<secret>` shape of issued keys.
 * - `PALISADE_LOG_LEVEL`: pino level (default info).
 */
const envSchema = z.object({
  DATABASE_URL: z.string().min(1).optional(),
  PALISADE_DATA_DIR: z.string().min(1).optional(),
  PALISADE_ADMIN_EMAIL: z.email().optional(),
  PALISADE_ADMIN_PASSWORD: z.string().min(12).optional(),
  PALISADE_ADMIN_API_KEY: z
    .string()
    .regex(/^pk_[A-Za-z0-9]{8,40}_[A-Za-z0-9_-]{32,128}$/)
    .optional(),
  PALISADE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
});

export interface CloudEnv {
  databaseUrl: string | undefined;
  dataDir: string | undefined;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  adminApiKey: string | undefined;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' | undefined;
}

/** The process environment, for the CLI to hand to {@link readCloudEnv} (tests pass their own). */
export function processEnv(): Record<string, string | undefined> {
  return process.env;
}

export function readCloudEnv(env: Record<string, string | undefined> = process.env): CloudEnv {
  const parsed = envSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')),
  );
  if (!parsed.success) {
    // Name the variables, never echo their values (they may be secrets).
    const names = [...new Set(parsed.error.issues.map((i) => String(i.path[0])))];
    throw new ValidationError('validation.config', `invalid environment: ${names.join(', ')}`, { details: { names } });
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: e.PALISADE_DATA_DIR,
    adminEmail: e.PALISADE_ADMIN_EMAIL,
    adminPassword: e.PALISADE_ADMIN_PASSWORD,
    adminApiKey: e.PALISADE_ADMIN_API_KEY,
    logLevel: e.PALISADE_LOG_LEVEL,
  };
}
