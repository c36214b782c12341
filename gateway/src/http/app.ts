import { describeError, isPalisadeError, type Logger, silentLogger } from '@palisade/shared';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Registry } from 'prom-client';

export interface HealthReport {
  status: 'ok' | 'degraded';
  db: boolean;
  broker: { listening: boolean; ports: Readonly<Record<string, number>> };
  counts: Readonly<Record<string, number>>;
}

export interface HttpAppOptions {
  /** Computes the health report; `status` is `degraded` when the database or the broker is down. */
  health: () => HealthReport;
  metrics: Registry;
  logger?: Logger;
}

/** HTTP status for each error family; the one place errors become responses on this surface. */
function statusOf(code: string): ContentfulStatusCode {
  if (code.startsWith('validation.')) return 400;
  if (code.startsWith('auth.')) return 403;
  if (code.startsWith('not_found.')) return 404;
  if (code.startsWith('conflict.')) return 409;
  if (code.startsWith('unavailable.')) return 503;
  return 500;
}

/** The gateway's HTTP surface: `GET /health` and `GET /metrics`. Tests drive it with `app.request()`. */
export function createHttpApp(options: HttpAppOptions): Hono {
  const log = (options.logger ?? silentLogger).child({ module: 'http' });
  const app = new Hono();

  app.get('/health', (c) => {
    const report = options.health();
    return c.json(report, report.status === 'ok' ? 200 : 503);
  });

  app.get('/metrics', async (c) => {
    const body = await options.metrics.metrics();
    return c.body(body, 200, { 'content-type': options.metrics.contentType });
  });

  app.notFound((c) => c.json({ code: 'not_found.route', message: 'no such endpoint' }, 404));

  app.onError((err, c) => {
    if (isPalisadeError(err)) return c.json(err.toJSON(), statusOf(err.code));
    log.error({ err: describeError(err) }, 'unhandled HTTP error');
    return c.json({ code: 'internal', message: 'internal error' }, 500);
  });

  return app;
}
