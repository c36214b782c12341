import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { type Clock, type Logger, silentLogger, systemClock } from '@palisade/shared';
import { type CloudAppOptions, createCloudApp } from './app.js';
import { type BootstrapInput, bootstrap } from './auth/bootstrap.js';
import { openDatabase } from './db/open-database.js';
import type { CloudDatabase } from './db/types.js';

export interface StartCloudOptions extends Omit<CloudAppOptions, 'database' | 'clock' | 'logger'> {
  /** 0 = an ephemeral port. */
  port: number;
  host?: string;
  /** PostgreSQL; else PGlite in `dataDir` (in memory when neither is given). */
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  clock?: Clock;
  logger?: Logger;
  /** First-start admin credentials (from config.ts). */
  admin?: BootstrapInput;
  /** Where the one-time admin credential is printed (default stdout). */
  print?: (line: string) => void;
}

export interface RunningCloud {
  url: string;
  database: CloudDatabase;
  stop(): Promise<void>;
}

/** Opens the database, applies migrations, creates the first admin if needed, and serves the API. */
export async function startCloud(options: StartCloudOptions): Promise<RunningCloud> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const database = await openDatabase({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
  try {
    await database.migrate();
    const boot = await bootstrap(database, options.admin ?? {}, clock.now());
    if (boot.created) {
      logger.info({ orgId: boot.orgId, adminEmail: boot.adminEmail }, 'created organisation and admin');
      if (boot.generatedPassword !== undefined) {
        // Shown once, never logged or stored: only its scrypt hash is in the database.
        (options.print ?? ((l: string) => process.stdout.write(`${l}\n`)))(
          `palisade-cloud: first start — admin ${boot.adminEmail} password: ${boot.generatedPassword} (shown once; change it)`,
        );
      }
    }
    const { port: _port, host: _host, databaseUrl: _u, dataDir: _d, admin: _a, print: _p, ...appOptions } = options;
    const app = await createCloudApp({ ...appOptions, database, clock, logger });
    const host = options.host ?? '127.0.0.1';
    const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: options.port, hostname: host }, () => resolve(s));
      s.once('error', reject);
    });
    const { port } = server.address() as AddressInfo;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    logger.info({ url, driver: database.driver }, 'cloud listening');
    return {
      url,
      database,
      async stop() {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await database.close();
      },
    };
  } catch (e) {
    await database.close();
    throw e;
  }
}
