import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { getConnInfo } from '@hono/node-server/conninfo';
import { AuthError, type Clock, type Logger, PalisadeError, silentLogger } from '@palisade/shared';
import { type Env, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { html } from 'hono/html';
import { SESSION_COOKIE } from '../auth/authenticate.js';
import type { CloudDatabase } from '../db/types.js';
import type { RequestSource } from '../http/env.js';
import { statusFor } from '../http/errors.js';
import { page } from './html.js';
import { registerAlertPages } from './pages/alerts.js';
import { registerCasePages } from './pages/cases.js';
import { registerCommandPages } from './pages/commands.js';
import { registerFleetPages } from './pages/fleet.js';
import { registerOverview } from './pages/overview.js';
import { csrfOk, type DashboardUser, sessionUser, signIn, signOut } from './session.js';
import { DASHBOARD_JS } from './web/client.js';
import { DASHBOARD_CSS, DASHBOARD_EXTRA_CSS } from './web/styles.js';

export interface DashboardDeps {
  database: CloudDatabase;
  clock: Clock;
  logger?: Logger;
  /** Where the dashboard is mounted; default `/dashboard`. */
  basePath?: string;
  /** `Secure` cookies: `auto` = when the request came over https (or a proxy says so). Default `auto`. */
  secureCookies?: boolean | 'auto';
  /** Session lifetime; default 12 h (as the API's). */
  sessionTtlMs?: number;
}

export interface DashEnv extends Env {
  Variables: { user: DashboardUser; source: RequestSource };
}

export interface DashContext {
  deps: DashboardDeps;
  base: string;
  log: Logger;
  flash(user: DashboardUser, kind: 'ok' | 'error', text: string): void;
  takeFlash(user: DashboardUser): { kind: 'ok' | 'error'; text: string } | undefined;
}

const require = createRequire(import.meta.url);

/** Inline styles only for bar widths and uPlot's canvas sizing; scripts from the dashboard alone. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * Mounts the SOC dashboard on the cloud's Hono app under `basePath` (default `/dashboard`). Pages are rendered on the
 * server from the same service functions the API uses (cases, commands) and from tenant-scoped read queries of its
 * own (fleet roll-ups, charts); every list is paginated on the server. Sign-in shares the API's session table and
 * cookie; forms carry the session's CSRF token; roles are checked on every POST (viewers see no controls and are
 * refused if they post anyway).
 */
export function registerDashboard<E extends Env>(app: Hono<E>, deps: DashboardDeps): void {
  const base = deps.basePath ?? '/dashboard';
  const log = (deps.logger ?? silentLogger).child({ module: 'dashboard' });
  const flashes = new Map<string, { kind: 'ok' | 'error'; text: string }>();
  const ctx: DashContext = {
    deps,
    base,
    log,
    flash: (u, kind, text) => {
      // Bounded: a flash is read on the very next page; stale ones from abandoned sessions are dropped first.
      if (flashes.size > 10_000) flashes.delete(flashes.keys().next().value as string);
      flashes.set(u.sessionIdHash, { kind, text });
    },
    takeFlash: (u) => {
      const f = flashes.get(u.sessionIdHash);
      flashes.delete(u.sessionIdHash);
      return f;
    },
  };
  const dash = new Hono<DashEnv>();

  dash.onError((e, c) => {
    const code = e instanceof PalisadeError ? e.code : 'internal';
    const status = e instanceof PalisadeError ? statusFor(code) : 500;
    if (status >= 500) log.error({ err: e }, 'dashboard request failed');
    const message = status >= 500 ? 'Something went wrong; the error is in the cloud log.' : e.message;
    const user = c.get('user') as DashboardUser | undefined;
    return c.html(
      page({
        base,
        title: 'Error',
        nav: 'none',
        user,
        body: html`<div class="card"><h1>Request refused</h1><p>${message}</p><p class="muted mono">${code}</p><p><a href="${base}">Back to the overview</a></p></div>`,
      }),
      status,
    );
  });

  const assets: Record<string, { type: string; body: string }> = {
    'dashboard.css': { type: 'text/css; charset=utf-8', body: DASHBOARD_CSS + DASHBOARD_EXTRA_CSS },
    'dashboard.js': { type: 'text/javascript; charset=utf-8', body: DASHBOARD_JS },
    'uplot.js': {
      type: 'text/javascript; charset=utf-8',
      body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    },
    'uplot.css': {
      type: 'text/css; charset=utf-8',
      body: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    },
  };
  dash.get('/assets/:name', (c) => {
    const f = assets[c.req.param('name')];
    if (f === undefined) return c.notFound();
    return c.body(f.body, 200, { 'content-type': f.type, 'cache-control': 'private, max-age=3600' });
  });

  dash.use('*', async function securityHeaders(c, next) {
    await next();
    // Only the dashboard's own script and styles run; no page can frame it (clickjacking on its buttons).
    c.header('Content-Security-Policy', DASHBOARD_CSP);
    c.header('X-Frame-Options', 'DENY');
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
  });

  dash.use('*', async (c, next) => {
    if (!c.get('source')) {
      let ip: string | undefined;
      try {
        ip = getConnInfo(c).remote.address;
      } catch {
        ip = undefined;
      }
      c.set('source', { ip, userAgent: c.req.header('user-agent') });
    }
    await next();
  });

  const loginPage = (error?: string) =>
    page({
      base,
      title: 'Sign in',
      nav: 'none',
      flash: error ? { kind: 'error', text: error } : undefined,
      body: html`<div class="card login"><h1>Sign in to the SOC dashboard</h1>
<form method="post" action="${base}/login">
<label>E-mail<input type="text" name="email" autocomplete="username" required maxlength="320" autofocus></label>
<label>Password<input type="password" name="password" autocomplete="current-password" required maxlength="256"></label>
<button class="primary" type="submit">Sign in</button></form></div>`,
    });

  dash.get('/login', (c) => c.html(loginPage()));
  dash.post('/login', async (c) => {
    const body = await c.req.parseBody();
    const email = typeof body['email'] === 'string' ? body['email'] : '';
    const password = typeof body['password'] === 'string' ? body['password'] : '';
    try {
      const { cookie, expiresAt } = await signIn(
        deps.database,
        deps.clock,
        c.get('source'),
        email,
        password,
        deps.sessionTtlMs ?? 12 * 3600_000,
      );
      const secure =
        (deps.secureCookies ?? 'auto') === 'auto'
          ? new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https'
          : deps.secureCookies === true;
      setCookie(c, SESSION_COOKIE, cookie, {
        httpOnly: true,
        secure,
        sameSite: 'Strict',
        path: '/',
        expires: expiresAt,
      });
      return c.redirect(base, 303);
    } catch (e) {
      if (e instanceof AuthError) return c.html(loginPage(e.message), 401);
      throw e;
    }
  });

  dash.use('*', async (c, next) => {
    const user = await sessionUser(deps.database, deps.clock, getCookie(c, SESSION_COOKIE));
    if (user === undefined) {
      if (c.req.method === 'GET' && !c.req.header('x-live-refresh')) return c.redirect(`${base}/login`, 303);
      throw new AuthError('auth.session_expired', 'your session ended; sign in again');
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const token = c.req.header('x-csrf-token') ?? (await c.req.parseBody())['_csrf'];
      if (!csrfOk(user, token)) throw new AuthError('auth.csrf', 'the form is stale or forged (CSRF token mismatch)');
    }
    c.set('user', user);
    return next();
  });

  dash.post('/logout', async (c) => {
    await signOut(deps.database, c.get('user'));
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect(`${base}/login`, 303);
  });

  registerOverview(dash, ctx);
  registerCasePages(dash, ctx);
  registerAlertPages(dash, ctx);
  registerFleetPages(dash, ctx);
  registerCommandPages(dash, ctx);

  app.route(base, dash as unknown as Hono<E>);
  app.get(`${base}/`, (c) => c.redirect(base, 301));
}
