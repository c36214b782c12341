#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger, describeError, isPalisadeError } from '@palisade/shared';
import { processEnv, readCloudEnv } from './config.js';
import { openDatabase } from './db/open-database.js';
import { type RunningCloud, startCloud } from './main.js';

const USAGE = `palisade-cloud <command>
  start --port N [--host H] [--data-dir DIR]   serve the API (PostgreSQL when DATABASE_URL is set, else PGlite in DIR)
  migrate [--data-dir DIR]                     apply database migrations and exit
  enroll-token --site NAME --url URL --api-key KEY [--ttl SECONDS]
                                               create a one-time gateway enrollment token for a site (created if
                                               missing) on a running service, and print it`;

export interface CliIo {
  env: Record<string, string | undefined>;
  out(line: string): void;
  err(line: string): void;
}

export interface CliResult {
  /** Process exit code: 0 ok, 1 failure, 2 usage error. */
  code: number;
  /** `start` only: the running service (the process keeps serving until it is stopped). */
  running?: RunningCloud;
}

class UsageError extends Error {}

/** The `palisade-cloud` command, callable in-process (tests) and from the bin wrapper below. */
export async function runCli(argv: string[], io: CliIo): Promise<CliResult> {
  const [command, ...rest] = argv;
  try {
    const { values } = parseArgs({
      args: rest,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        site: { type: 'string' },
        url: { type: 'string' },
        'api-key': { type: 'string' },
        ttl: { type: 'string' },
      },
      strict: true,
    });
    const env = readCloudEnv(io.env);
    const dataDir = values['data-dir'] ?? env.dataDir;
    switch (command) {
      case 'start': {
        const port = Number(values.port ?? '8080');
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0..65535');
        const logger = createLogger({ service: 'cloud', level: env.logLevel ?? 'info' });
        const running = await startCloud({
          port,
          host: values.host,
          databaseUrl: env.databaseUrl,
          dataDir,
          logger,
          admin: { adminEmail: env.adminEmail, adminPassword: env.adminPassword, adminApiKey: env.adminApiKey },
          print: io.out,
        });
        io.out(`palisade-cloud listening on ${running.url}`);
        return { code: 0, running };
      }
      case 'migrate': {
        const db = await openDatabase({ databaseUrl: env.databaseUrl, dataDir });
        try {
          await db.migrate();
        } finally {
          await db.close();
        }
        io.out(`migrations applied (${db.driver})`);
        return { code: 0 };
      }
      case 'enroll-token': {
        const { site, url } = values;
        const apiKey = values['api-key'];
        if (!site || !url || !apiKey) throw new UsageError('enroll-token needs --site, --url and --api-key');
        const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
        if (ttl !== undefined && !Number.isInteger(ttl)) throw new UsageError('--ttl must be whole seconds');
        const res = await fetch(new URL('/api/v1/enrollment-tokens', url), {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ siteName: site, ...(ttl === undefined ? {} : { ttlSeconds: ttl }) }),
        });
        const body = (await res.json().catch(() => ({}))) as {
          token?: string;
          error?: { code: string; message: string };
        };
        if (!res.ok || !body.token) {
          io.err(`palisade-cloud: ${res.status} ${body.error?.code ?? ''} ${body.error?.message ?? ''}`.trim());
          return { code: 1 };
        }
        io.out(body.token);
        return { code: 0 };
      }
      case undefined:
      case 'help':
      case '--help':
        io.out(USAGE);
        return { code: 0 };
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`palisade-cloud: ${(e as Error).message}\n${USAGE}`);
      return { code: 2 };
    }
    const d = describeError(e);
    io.err(`palisade-cloud: ${isPalisadeError(e) ? `${d.code}: ` : ''}${d.message}`);
    return { code: 1 };
  }
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const io: CliIo = {
    env: processEnv(),
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
  };
  runCli(process.argv.slice(2), io).then(({ code, running }) => {
    if (running) {
      const stop = () => {
        running.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      return;
    }
    process.exit(code);
  });
}
