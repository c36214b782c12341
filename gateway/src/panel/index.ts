import { AuthError, type Clock, type Logger, PalisadeError, silentLogger } from '@palisade/shared';
import { type Env, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { html } from 'hono/html';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ReferenceValues } from '../attestation/reference-values.js';
import type { AlertStore } from '../detection/alerts.js';
import type { Registry } from '../registry/registry.js';
import type { Store } from '../store/open-store.js';
import { registerAssets } from './assets.js';
import { page } from './html.js';
import { LiveFeed, liveStream } from './live.js';
import { csrfMatches, type OperatorStore, type PanelSession } from './operators.js';
import { registerAlertPages } from './pages/alerts.js';
import { registerDevicePages } from './pages/devices.js';
import { registerReferencePages } from './pages/reference-values.js';
import { changeMark } from './queries.js';

export { OPERATOR_ROLES, type Operator, type OperatorRole, OperatorStore } from './operators.js';

/** What the panel needs from the running gateway; `main.ts` wires these. */
export interface PanelDeps {
  store: Store;
  registry: Registry;
  alerts: AlertStore;
  operators: OperatorStore;
  clock: Clock;
  logger?: Logger;
  /**
   * The reference values the appraiser uses now, and how to import more: each imported entry replaces the stored one
   * of the same family and version (main.ts: `ReferenceStore.import` then `reloadReferenceValues`).
   */
  referenceValues: { get(): ReferenceValues; import(next: ReferenceValues, actor: string): void };
  /** Challenges a device now ("re-attest now"); false when the device is not connected. */
  reattest(deviceId: string): boolean;
  /** Where the panel is mounted; default `/panel`. */
  basePath?: string;
  /** `Secure` on the session cookie: true behind TLS; default false (plain HTTP on the plant network). */
  secureCookies?: boolean;
  /** How often the live-update stream looks for changes; default 1000 ms. */
  liveIntervalMs?: number;
}

export interface PanelEnv extends Env {
  Variables: { session: PanelSession; cookie: string };
}

/** Shared by the page modules. */
export interface PanelContext {
  deps: PanelDeps;
  base: string;
  feed: LiveFeed;
  log: Logger;
  /** A message shown once on the next page the operator opens (after a form post and its redirect). */
  flash(session: PanelSession, kind: 'ok' | 'error', text: string): void;
  takeFlash(session: PanelSession): { kind: 'ok' | 'error'; text: string } | undefined;
}

const COOKIE = 'palisade_panel';

/** Inline styles only for the widths of bars and charts (uPlot sizes its canvas); scripts from the panel alone. */
export const PANEL_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function statusOf(code: string): ContentfulStatusCode {
  if (code.startsWith('validation.') || code.startsWith('attestation.')) return 400;
  if (code === 'auth.forbidden' || code === 'auth.csrf') return 403;
  if (code === 'auth.locked') return 429;
  if (code.startsWith('auth.')) return 401;
  if (code.startsWith('not_found.')) return 404;
  if (code.startsWith('conflict.')) return 409;
  if (code.startsWith('unavailable.')) return 503;
  return 500;
}

/**
 * Mounts the operator panel on the gateway's Hono app under `basePath` (default `/panel`):
 * login with local operator accounts (scrypt hashes; session cookie HttpOnly, SameSite=Strict; every POST carries
 * the session's CSRF token), devices, device pages, alerts, actions and reference values, rendered on the server;
 * live updates by server-sent events. Returns `close()` to stop the live-update poller.
 */
export function registerPanel<E extends Env>(app: Hono<E>, deps: PanelDeps): { close(): void } {
  const base = deps.basePath ?? '/panel';
  const log = (deps.logger ?? silentLogger).child({ module: 'panel' });
  const feed = new LiveFeed(() => changeMark(deps.store), deps.liveIntervalMs ?? 1000);
  const flashes = new WeakMap<PanelSession, { kind: 'ok' | 'error'; text: string }>();
  const ctx: PanelContext = {
    deps,
    base,
    feed,
    log,
    flash: (s, kind, text) => flashes.set(s, { kind, text }),
    takeFlash: (s) => {
      const f = flashes.get(s);
      flashes.delete(s);
      return f;
    },
  };
  const panel = new Hono<PanelEnv>();

  panel.onError((e, c) => {
    const code = e instanceof PalisadeError ? e.code : 'internal';
    const status = statusOf(code);
    if (status >= 500) log.error({ err: e }, 'panel request failed');
    const message = status >= 500 ? 'Something went wrong; the error is in the gateway log.' : e.message;
    const session = c.get('session') as PanelSession | undefined;
    return c.html(
      page({
        base,
        title: 'Error',
        nav: 'none',
        operator: session,
        body: html`<div class="card"><h1>Request refused</h1><p>${message}</p><p class="muted mono">${code}</p>
<p><a href="${base}/devices">Back to devices</a></p></div>`,
      }),
      status,
    );
  });

  panel.use('*', async function securityHeaders(c, next) {
    await next();
    // Only the panel's own script and styles run; no page can frame the panel (clickjacking on its buttons).
    c.header('Content-Security-Policy', PANEL_CSP);
    c.header('X-Frame-Options', 'DENY');
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
  });

  registerAssets(panel as unknown as Hono, '/assets');

  const loginPage = (error?: string) =>
    page({
      base,
      title: 'Sign in',
      nav: 'none',
      flash: error ? { kind: 'error', text: error } : undefined,
      body: html`<div class="card login"><h1>Sign in to the gateway</h1>
<form method="post" action="${base}/login">
<label>Operator<input type="text" name="name" autocomplete="username" required maxlength="64" autofocus></label>
<label>Password<input type="password" name="password" autocomplete="current-password" required maxlength="256"></label>
<button class="primary" type="submit">Sign in</button></form></div>`,
    });

  panel.get('/login', (c) => c.html(loginPage()));
  panel.post('/login', async (c) => {
    const body = await c.req.parseBody();
    const name = typeof body['name'] === 'string' ? body['name'] : '';
    const password = typeof body['password'] === 'string' ? body['password'] : '';
    try {
      const { cookie, session } = await deps.operators.login(name, password);
      setCookie(c, COOKIE, cookie, {
        httpOnly: true,
        sameSite: 'Strict',
        secure: deps.secureCookies ?? false,
        path: base,
        expires: new Date(session.expiresAt),
      });
      log.info({ operator: name }, 'operator signed in');
      return c.redirect(`${base}/devices`, 303);
    } catch (e) {
      if (e instanceof AuthError) {
        log.warn({ operator: name, code: e.code }, 'panel sign-in refused');
        return c.html(loginPage(e.message), statusOf(e.code));
      }
      throw e;
    }
  });

  // Everything below needs a session; state-changing requests also the session's CSRF token.
  panel.use('*', async (c, next) => {
    const cookie = getCookie(c, COOKIE);
    const session = deps.operators.session(cookie);
    if (session === undefined || cookie === undefined) {
      if (c.req.method === 'GET' && !c.req.header('x-live-refresh')) return c.redirect(`${base}/login`, 303);
      throw new AuthError('auth.session_expired', 'your session ended; sign in again');
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const header = c.req.header('x-csrf-token');
      const token = header ?? (await c.req.parseBody())['_csrf'];
      if (!csrfMatches(session, token))
        throw new AuthError('auth.csrf', 'the form is stale or forged (CSRF token mismatch)');
    }
    c.set('session', session);
    c.set('cookie', cookie);
    return next();
  });

  panel.post('/logout', (c) => {
    deps.operators.logout(c.get('cookie'));
    deleteCookie(c, COOKIE, { path: base });
    return c.redirect(`${base}/login`, 303);
  });
  panel.get('/', (c) => c.redirect(`${base}/devices`, 303));
  panel.get('/events', (c) => liveStream(c, feed));

  registerDevicePages(panel, ctx);
  registerAlertPages(panel, ctx);
  registerReferencePages(panel, ctx);

  app.route(base, panel as unknown as Hono<E>);
  return { close: () => feed.stop() };
}
