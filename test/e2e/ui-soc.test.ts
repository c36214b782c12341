/**
 * The SOC dashboard and the gateway panel in a real browser against the real running stack (the one `npm start`
 * runs): a cloud on PGlite, a gateway started by `startGateway` and enrolled through the real endpoint, syncing with
 * its enrolled key, and simulated boards over MQTT/TLS, one with tampered firmware. The tampered board appears as
 * failed on the panel and as a case on the dashboard; an analyst's quarantine from the dashboard travels down the
 * sync channel, takes effect on the gateway and shows on the open panel page; a viewer cannot issue commands.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSupport, launchBrowser, layoutProblems, screenshot } from '../src/browser.js';
import { type Stack, startStack } from '../src/stack.js';

const support = browserSupport(process.env.CI === 'true');
if (support.skip) console.warn(support.reason);

const PASSWORD = 'correct horse battery staple';
const ANALYST = 'ana@plant.test';
const VIEWER = 'vic@plant.test';
const TAMPERED = 'sim-stm32-0001-tampered-firmware';
const TARGET = 'sim-nrf52-0002';

let dir: string;
let stack: Stack;
let browser: Browser;

// biome-ignore lint/suspicious/noExplicitAny: test convenience; the assertions say what shape bodies must have
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${stack.cloud.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.credentials.adminApiKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  if (support.skip) return;
  dir = mkdtempSync(join(tmpdir(), 'palisade-ui-stack-'));
  stack = await startStack({ dir, devices: 4, faults: 'tampered-firmware:1', telemetryRateHz: 0.5, passwordLogN: 10 });
  for (const [email, role] of [
    [ANALYST, 'analyst'],
    [VIEWER, 'viewer'],
  ] as const) {
    const res = await api('POST', '/api/v1/users', { email, role, password: PASSWORD });
    if (res.status !== 201) throw new Error(`user ${email}: ${res.status}`);
  }
  // The gateway appraises, quarantines and raises an alert; sync carries it to the cloud, which opens a case.
  await until('the case of the tampered board', async () => {
    const res = await api('GET', '/api/v1/cases?limit=50');
    return (res.json?.items as { title: string }[] | undefined)?.find((c) => c.title.includes(TAMPERED));
  });
  await until('the healthy boards affirmed in the cloud', async () => {
    const res = await api('GET', `/api/v1/devices/${TARGET}`);
    return res.json?.attestationStatus === 'affirming' ? true : undefined;
  });
  // The devices' firmware cohorts reach the cloud with their first appraisal, not an hour later.
  await until('the firmware cohorts in the cloud', async () => {
    const res = await api('GET', '/api/v1/firmware-cohorts');
    const cohorts = (res.json?.items ?? []) as { devices: number }[];
    return cohorts.reduce((n, c) => n + c.devices, 0) === 4 ? true : undefined;
  });
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(10_000);
  page.on('dialog', (d) => void d.accept());
  return page;
}

async function dashboardSignIn(page: Page, email: string): Promise<void> {
  await page.goto(`${stack.urls.dashboard}/login`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('#pass-rate-chart');
}

describe.skipIf(support.skip)('SOC dashboard and gateway panel on the running stack', () => {
  it('the tampered board is failed on the panel and a case on the dashboard; a quarantine from the dashboard reaches the device’s gateway and the panel', async () => {
    const panel = await newPage();
    await panel.goto(`${stack.urls.panel}/login`);
    await panel.fill('input[name=name]', stack.credentials.operatorName);
    await panel.fill('input[name=password]', stack.credentials.operatorPassword);
    await panel.click('button[type=submit]');
    await panel.waitForSelector('#devices');
    expect(await panel.locator(`tr[data-device="${TAMPERED}"] [data-status]`).getAttribute('data-status')).toBe(
      'contraindicated',
    );
    expect(await panel.locator(`tr[data-device="${TARGET}"] [data-status]`).getAttribute('data-status')).toBe(
      'affirming',
    );
    expect(await panel.locator(`tr[data-device="${TARGET}"] [data-quarantined]`).count()).toBe(0);
    expect(await layoutProblems(panel)).toEqual([]);
    await screenshot(panel, 'gateway-devices-stack');

    const soc = await newPage();
    await dashboardSignIn(soc, ANALYST);
    await soc.waitForSelector('#pass-rate-chart canvas');
    expect(await layoutProblems(soc)).toEqual([]);
    await screenshot(soc, 'soc-overview');

    await soc.click('nav a[href$="/cases"]');
    const caseRow = soc.locator('#cases tr[data-case]', { hasText: TAMPERED });
    expect(await caseRow.count()).toBe(1);
    expect(await caseRow.textContent()).toContain('critical');
    expect(await layoutProblems(soc)).toEqual([]);
    await screenshot(soc, 'soc-cases');
    await caseRow.locator('a').first().click();
    await soc.waitForSelector('#linked-alerts');
    expect(await soc.locator('#linked-alerts').textContent()).toContain(TAMPERED);
    expect(await layoutProblems(soc)).toEqual([]);
    await screenshot(soc, 'soc-case');

    await soc.goto(`${stack.urls.dashboard}/fleet`);
    expect(await soc.locator('[data-gateway]').count()).toBe(1);
    expect(await layoutProblems(soc)).toEqual([]);
    await screenshot(soc, 'soc-fleet');

    // The analyst quarantines a healthy board of the same site from its page.
    await soc.goto(`${stack.urls.dashboard}/devices/${TARGET}`);
    await soc.selectOption('#command-form select[name=type]', 'quarantine');
    await soc.fill('#command-form input[name=reason]', 'SOC: same site as the tampered board');
    await soc.click('#command-form button[type=submit]');
    await soc.waitForSelector('[data-delivery]');
    expect(await soc.locator('.flash').textContent()).toMatch(/issued to 1 gateway/);
    await screenshot(soc, 'soc-command-issued');

    // The gateway's sync agent fetches it, applies it on the broker's gate and acknowledges it.
    await until('the quarantine applied on the gateway', async () =>
      stack.gateway.registry.require(TARGET).quarantined ? true : undefined,
    );
    expect(stack.gateway.registry.require(TARGET).quarantineReason).toBe('SOC: same site as the tampered board');
    await until('the acknowledgement in the cloud', async () => {
      await soc.reload();
      return (await soc.locator('[data-delivery="applied"]').count()) > 0 ? true : undefined;
    });
    expect(await layoutProblems(soc)).toEqual([]);
    await screenshot(soc, 'soc-command-applied');

    // The open panel page shows it without a reload (server-sent events).
    await panel.waitForSelector(`tr[data-device="${TARGET}"] [data-quarantined]`, { timeout: 15_000 });
    expect(await panel.locator(`tr[data-device="${TARGET}"]`).textContent()).toContain(
      'SOC: same site as the tampered board',
    );
    expect(await layoutProblems(panel)).toEqual([]);
    await screenshot(panel, 'gateway-quarantined-by-soc');
    await panel.close();
    await soc.close();
  });

  it('a viewer sees no command control, and both the dashboard and the API refuse a viewer’s command', async () => {
    const page = await newPage();
    await dashboardSignIn(page, VIEWER);
    await page.goto(`${stack.urls.dashboard}/devices/${TARGET}`);
    expect(await page.locator('#command-form').count()).toBe(0);
    expect(await page.locator('main').textContent()).toContain('commands are hidden');
    expect(await layoutProblems(page)).toEqual([]);
    await screenshot(page, 'soc-viewer-device');
    // The dashboard and the API share one origin and one session: the viewer's own cookie and CSRF token.
    const refused = await page.evaluate(
      async ({ base, target }) => {
        const html = await (await fetch(`${base}/commands`)).text();
        const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
        const form = new URLSearchParams({
          _csrf: csrf,
          type: 'release',
          targetKind: 'device',
          deviceId: target,
          reason: 'viewer',
        });
        const dash = await fetch(`${base}/commands`, { method: 'POST', body: form, redirect: 'manual' });
        const me = (await (await fetch('/api/v1/auth/me')).json()) as { csrfToken?: string };
        const viaApi = await fetch('/api/v1/commands', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken ?? '' },
          body: JSON.stringify({ target: { kind: 'device', deviceId: target }, args: { type: 'release' } }),
        });
        return { dashboard: dash.status, api: viaApi.status, csrfFound: csrf !== '' };
      },
      { base: stack.urls.dashboard, target: TARGET },
    );
    expect(refused).toEqual({ dashboard: 403, api: 403, csrfFound: true });
    expect(stack.gateway.registry.require(TARGET).quarantined).toBe(true);
    await page.close();
  });
});
