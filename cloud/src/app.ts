import { getConnInfo } from '@hono/node-server/conninfo';
import type { OpenAPIHono } from '@hono/zod-openapi';
import {
  type Clock,
  type Logger,
  SYNC_MAX_BODY_BYTES,
  silentLogger,
  systemClock,
  ValidationError,
} from '@palisade/shared';
import { bodyLimit } from 'hono/body-limit';
import { authenticate } from './auth/authenticate.js';
import { DEFAULT_PASSWORD_LOG_N } from './auth/passwords.js';
import { authRoutes } from './auth/routes.js';
import { caseRoutes } from './cases/routes.js';
import { commandRoutes } from './commands/routes.js';
import { registerDashboard } from './dashboard/index.js';
import type { CloudDatabase } from './db/types.js';
import { type CertificateAuthority, loadOrCreateCa } from './gateways/ca.js';
import { gatewayRoutes } from './gateways/routes.js';
import type { CloudDeps } from './http/deps.js';
import type { AppEnv } from './http/env.js';
import { errorBody, errorResponse } from './http/errors.js';
import { renderReferencePage } from './http/reference-page.js';
import { newRouter } from './http/router.js';
import { inventoryRoutes } from './inventory/routes.js';
import { DEFAULT_LOGIN_RATE, DEFAULT_SYNC_RATE, type RateLimitPolicy, tokenBucketLimiter } from './sync/rate-limit.js';
import { syncRoutes } from './sync/routes.js';

export const API_PREFIX = '/api/v1';

/** A module of `/api/v1` routes (alerts, cases, …) built from the same dependencies. */
export type RouteModule = (deps: CloudDeps) => OpenAPIHono<AppEnv>;

export interface CloudAppOptions {
  database: CloudDatabase;
  clock?: Clock;
  logger?: Logger;
  /** Defaults to the CA kept in the database (created on first use). */
  ca?: CertificateAuthority;
  syncRate?: RateLimitPolicy;
  /** Sign-in attempts per e-mail address and per source address; default 10 at once, then one per 10 s. */
  loginRate?: RateLimitPolicy;
  /** Default `auto`: Secure when the request came over https. */
  secureCookies?: boolean | 'auto';
  sessionTtlMs?: number;
  enrollmentTokenTtlMs?: number;
  maxSyncBodyBytes?: number;
  /** log2 of scrypt's N for new password hashes; default 15. Only tests lower it. */
  passwordLogN?: number;
  /** More route modules mounted under `/api/v1`, after the core ones. */
  routes?: RouteModule[];
}

/** Requests other than sync uploads are small JSON documents. */
const MAX_API_BODY_BYTES = 256 * 1024;

/** Paths under /api/v1 that authenticate otherwise (password, enrollment token) or are public. */
const PUBLIC_PATHS = new Set([
  `${API_PREFIX}/auth/login`,
  `${API_PREFIX}/gateways/enroll`,
  `${API_PREFIX}/openapi.json`,
  `${API_PREFIX}/docs`,
]);
/**
 * `/api/v1/sync/…` is the gateways' namespace: every route there authenticates with a request signature
 * (`gatewayAuth`, which also bounds the body), never with a user's cookie or API key.
 */
const GATEWAY_PREFIX = `${API_PREFIX}/sync/`;
const isPublic = (path: string) => PUBLIC_PATHS.has(path) || path.startsWith(GATEWAY_PREFIX);

/**
 * The cloud's HTTP application (Hono). No port is opened here: tests drive it with `app.request()`,
 * `startCloud` serves it with @hono/node-server.
 */
export async function createCloudApp(options: CloudAppOptions) {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const deps: CloudDeps = {
    database: options.database,
    clock,
    logger,
    ca: options.ca ?? (await loadOrCreateCa(options.database.db, clock.now())),
    rateLimiter: tokenBucketLimiter(options.syncRate ?? DEFAULT_SYNC_RATE, clock),
    loginLimiter: tokenBucketLimiter(options.loginRate ?? DEFAULT_LOGIN_RATE, clock),
    secureCookies: options.secureCookies ?? 'auto',
    sessionTtlMs: options.sessionTtlMs ?? 12 * 3600_000,
    enrollmentTokenTtlMs: options.enrollmentTokenTtlMs ?? 24 * 3600_000,
    maxSyncBodyBytes: options.maxSyncBodyBytes ?? SYNC_MAX_BODY_BYTES,
    passwordLogN: options.passwordLogN ?? DEFAULT_PASSWORD_LOG_N,
  };

  const app = newRouter();
  app.onError((e, c) => errorResponse(c, e, logger));
  app.notFound((c) => c.json(errorBody('not_found.route', `no route ${c.req.method} ${c.req.path}`), 404));

  app.use('*', async function requestContext(c, next) {
    let ip: string | undefined;
    try {
      ip = getConnInfo(c).remote.address;
    } catch {
      ip = undefined; // in-process requests (app.request) have no socket
    }
    c.set('source', { ip, userAgent: c.req.header('user-agent') });
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Cache-Control', 'no-store');
    c.header('Referrer-Policy', 'no-referrer');
  });

  app.get('/health', async (c) => {
    await deps.database.ping();
    return c.json({ status: 'ok', database: deps.database.driver }, 200);
  });

  const tooLarge = (max: number) => () => {
    throw new ValidationError('validation.body_too_large', `request body exceeds ${max} bytes`, {
      details: { maxBytes: max },
    });
  };
  app.use(`${API_PREFIX}/*`, async function apiBodyLimit(c, next) {
    if (c.req.path.startsWith(GATEWAY_PREFIX)) return next(); // bounded by the gateway auth middleware
    return bodyLimit({ maxSize: MAX_API_BODY_BYTES, onError: tooLarge(MAX_API_BODY_BYTES) })(c, next);
  });
  app.use(`${API_PREFIX}/*`, authenticate(deps, isPublic));

  const api = newRouter();
  api.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'pk_<id>_<secret>',
  });
  api.openAPIRegistry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: 'palisade_session',
  });
  for (const module of [
    authRoutes,
    gatewayRoutes,
    inventoryRoutes,
    syncRoutes,
    caseRoutes,
    commandRoutes,
    ...(options.routes ?? []),
  ]) {
    api.route('/', module(deps));
  }
  app.route(API_PREFIX, api);

  const document = () =>
    app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: {
        title: 'Palisade cloud API',
        version: '1',
        description: 'Errors: {"error":{"code","message","details"}}. Lists: ?limit=&cursor= → {items,nextCursor}.',
      },
      security: [{ apiKey: [] }, { session: [] }],
    });
  app.get(`${API_PREFIX}/openapi.json`, (c) => c.json(document(), 200));
  app.get(`${API_PREFIX}/docs`, (c) =>
    c.html(renderReferencePage(document() as Parameters<typeof renderReferencePage>[0])),
  );

  // The SOC dashboard shares the API's sessions and CSRF token.
  registerDashboard(app, {
    database: deps.database,
    clock,
    logger,
    secureCookies: deps.secureCookies,
    sessionTtlMs: deps.sessionTtlMs,
  });
  app.get('/', (c) => c.redirect('/dashboard'));

  return app;
}
