/**
 * The SOC dashboard and the gateway panel in a real browser, joined by real sync: a running cloud (PGlite, in
 * process), a gateway enrolled through the real enrollment endpoint whose registry and detection record a tampered
 * device (signed EARs, alerts), and its sync agent pushing to the cloud and pulling commands. An analyst sees the
 * case the tampered device opened, quarantines another device from the dashboard; the gateway applies the command and
 * the panel shows the device quarantined; a viewer has no command control and the API refuses the viewer too.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { type RunningCloud, registerDashboard } from '@palisade/cloud';
import { buildAttestationResult, signAttestationResult, TRUST } from '@palisade/firmware-protocol';
import {
  AlertStore,
  CommandApplier,
  OperatorStore,
  ReferenceValues,
  Registry,
  registerPanel,
  SyncClient,
} from '@palisade/gateway';
import { systemClock } from '@palisade/shared';
import { Hono } from 'hono';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSupport, launchBrowser, layoutProblems, screenshot } from '../src/browser.js';
import { api, enrolledGateway, startTestCloud, type TestGateway } from './sync-world.js';

const support = browserSupport(process.env.CI === 'true');
if (support.skip) console.warn(support.reason);

const PASSWORD = 'correct horse battery staple';
const ANALYST = 'ana@plant.test';
const VIEWER = 'vic@plant.test';
const OPERATOR = { name: 'ann', password: 'correct horse battery' };
const TAMPERED = 'esp32-meter-0003';
const TARGET = 'nrf52-valve-0002';
const FLEET: [string, string][] = [
  ['stm32-pump-0001', 'stm32'],
  [TARGET, 'nrf52'],
  [TAMPERED, 'esp32'],
  ['esp32-meter-0004', 'esp32'],
];

let cloud: RunningCloud;
let gw: TestGateway;
let registry: Registry;
let client: SyncClient;
let browser: Browser;
const servers: ReturnType<typeof serve>[] = [];
const closers: { close(): void }[] = [];
let dashboardUrl: string;
let panelUrl: string;

async function listen(app: Hono, path: string): Promise<string> {
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
}

/** An appraisal as the gateway records it: the EAR signed with the gateway's enrolled key, then the result. */
async function attest(deviceId: string, bootCount: number, reasons: string[] = []): Promise<void> {
  const at = systemClock.now();
  const resultId = `ear-${deviceId}-${at}`;
  const vector = {
    'instance-identity': TRUST['instance-identity'].trustworthy,
    executables: reasons.length ? TRUST.executables.contraindicated : TRUST.executables.approvedRuntime,
    hardware: TRUST.hardware.genuine,
  };
  const claims = buildAttestationResult({
    gatewayId: gw.identity.gatewayId,
    deviceId,
    resultId,
    appraisedAt: at,
    vector,
    reasons,
    claims: {
      profile: 'palisade-eat/1',
      nonce: new Uint8Array(32),
      ueid: new Uint8Array([7, 7]),
      measurements: [],
      bootCount,
    },
  });
  const jwt = await signAttestationResult(claims, { privateKey: gw.identity.privateKey, kid: gw.identity.gatewayId });
  registry.recordResult(deviceId, {
    resultId,
    status: reasons.length ? 'contraindicated' : 'affirming',
    reasons,
    jwt,
    at,
  });
}

beforeAll(async () => {
  if (support.skip) return;
  cloud = await startTestCloud();
  for (const [email, role] of [
    [ANALYST, 'analyst'],
    [VIEWER, 'viewer'],
  ] as const) {
    const res = await api(cloud.url, 'POST', '/api/v1/users', { email, role, password: PASSWORD });
    if (res.status !== 201) throw new Error(`user ${email}: ${res.status}`);
  }
  // The dashboard on the cloud's database (createCloudApp mounts it on the API's port once wired in main).
  const dash = new Hono();
  registerDashboard(dash, { database: cloud.database, clock: systemClock, secureCookies: false });
  dashboardUrl = await listen(dash, '/dashboard');

  gw = await enrolledGateway(cloud.url);
  registry = new Registry(gw.store.db, { clock: systemClock, allowList: FLEET.map(([id]) => id) });
  const alerts = new AlertStore(gw.store.db, systemClock);
  for (const [id, family] of FLEET) {
    registry.admit({ deviceId: id, via: 'manufacturer-root', family });
    registry.recordFirmware(id, {
      family,
      version: '1.0.0',
      measurement: family.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'),
    });
    await attest(id, 3);
  }
  await attest(TAMPERED, 4, ['appraisal.measurement_mismatch']);
  alerts.raise({
    type: 'attestation_failed',
    severity: 'critical',
    deviceId: TAMPERED,
    details: { reasons: ['appraisal.measurement_mismatch'] },
  });
  const applier = new CommandApplier(
    gw.store.db,
    gw.store.sqlite,
    { quarantine: (d, a, r) => registry.quarantine(d, a, r), release: (d, a) => registry.release(d, a) },
    systemClock,
  );
  client = new SyncClient({
    sqlite: gw.store.sqlite,
    cloudUrl: cloud.url,
    gatewayId: gw.identity.gatewayId,
    privateKey: gw.identity.privateKey,
    clock: systemClock,
    backoff: { baseMs: 20, maxMs: 200 },
    requestTimeoutMs: 5000,
    idlePollSeconds: 1,
    commands: applier,
  });
  await client.drain();

  const operators = new OperatorStore(gw.store, systemClock, { scryptN: 1024 });
  await operators.ensure(OPERATOR.name, OPERATOR.password, 'operator');
  const panelApp = new Hono();
  closers.push(
    registerPanel(panelApp, {
      store: gw.store,
      registry,
      alerts,
      operators,
      clock: systemClock,
      referenceValues: { get: () => ReferenceValues.empty(), import: () => undefined },
      reattest: () => false,
      liveIntervalMs: 200,
    }),
  );
  panelUrl = await listen(panelApp, '/panel');
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const c of closers) c.close();
  for (const s of servers) s.close();
  await client?.stop();
  gw?.store.close();
  await gw?.proxy.close();
  await cloud?.stop();
});

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(8_000);
  page.on('dialog', (d) => void d.accept());
  return page;
}

async function dashboardSignIn(page: Page, email: string): Promise<void> {
  await page.goto(`${dashboardUrl}/login`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('#pass-rate-chart');
}

describe.skipIf(support.skip)('SOC dashboard and gateway panel, joined by sync', () => {
  it('the tampered device is failed on the panel and a case on the dashboard; a quarantine from the dashboard reaches the panel', async () => {
    const panel = await newPage();
    await panel.goto(`${panelUrl}/login`);
    await panel.fill('input[name=name]', OPERATOR.name);
    await panel.fill('input[name=password]', OPERATOR.password);
    await panel.click('button[type=submit]');
    await panel.waitForSelector('#devices');
    expect(await panel.locator(`tr[data-device="${TAMPERED}"] [data-status]`).getAttribute('data-status')).toBe(
      'contraindicated',
    );
    expect(await panel.locator(`tr[data-device="${TARGET}"] [data-quarantined]`).count()).toBe(0);

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

    await soc.goto(`${dashboardUrl}/fleet`);
    expect(await soc.locator('[data-gateway]').count()).toBe(1);
    expect(await layoutProblems(soc)).toEqual([]);
    await screenshot(soc, 'soc-fleet');
    await soc.goto(`${dashboardUrl}/alerts`);
    expect(await soc.locator('#alert-stream').textContent()).toContain(TAMPERED);
    await screenshot(soc, 'soc-alert-stream');

    // The analyst quarantines another device of the site from its page.
    await soc.goto(`${dashboardUrl}/devices/${TARGET}`);
    await soc.selectOption('#command-form select[name=type]', 'quarantine');
    await soc.fill('#command-form input[name=reason]', 'SOC: same site as the tampered meter');
    await soc.click('#command-form button[type=submit]');
    await soc.waitForSelector('[data-delivery="pending"]');
    expect(await soc.locator('.flash').textContent()).toMatch(/issued to 1 gateway/);
    await screenshot(soc, 'soc-command-issued');

    // The gateway's sync agent fetches the command, applies it once and acknowledges it.
    await client.pollCommands(1);
    await client.drain();
    expect(registry.require(TARGET)).toMatchObject({
      quarantined: true,
      quarantineReason: 'SOC: same site as the tampered meter',
    });
    await soc.reload();
    await soc.waitForSelector('[data-delivery="applied"]');
    expect(await layoutProblems(soc)).toEqual([]);
    await screenshot(soc, 'soc-command-applied');

    // The open panel page shows it without a reload (server-sent events).
    await panel.waitForSelector(`tr[data-device="${TARGET}"] [data-quarantined]`);
    expect(await panel.locator(`tr[data-device="${TARGET}"]`).textContent()).toContain(
      'SOC: same site as the tampered meter',
    );
    await screenshot(panel, 'gateway-quarantined-by-soc');
    await panel.close();
    await soc.close();
  });

  it('a viewer sees no command control, and both the dashboard and the API refuse a viewer’s command', async () => {
    const page = await newPage();
    await dashboardSignIn(page, VIEWER);
    await page.goto(`${dashboardUrl}/devices/${TARGET}`);
    expect(await page.locator('#command-form').count()).toBe(0);
    expect(await page.locator('main').textContent()).toContain('commands are hidden');
    expect(await layoutProblems(page)).toEqual([]);
    await screenshot(page, 'soc-viewer-device');
    const apiUrl = cloud.url;
    const refused = await page.evaluate(
      async ({ dashboardUrl: d, target }) => {
        const html = await (await fetch(`${d}/commands`)).text();
        const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
        const form = new URLSearchParams({
          _csrf: csrf,
          type: 'quarantine',
          targetKind: 'device',
          deviceId: target,
          reason: 'viewer',
        });
        const res = await fetch(`${d}/commands`, { method: 'POST', body: form, redirect: 'manual' });
        return { status: res.status, csrfFound: csrf !== '' };
      },
      { dashboardUrl, target: TARGET },
    );
    expect(refused).toEqual({ status: 403, csrfFound: true });
    // The API (another origin here, so the browser's cookie does not travel): the viewer's own session, by hand.
    const login = await fetch(`${apiUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: VIEWER, password: PASSWORD }),
    });
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const res = await fetch(`${apiUrl}/api/v1/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
      body: JSON.stringify({ target: { kind: 'device', deviceId: TARGET }, args: { type: 'release' } }),
    });
    expect(res.status).toBe(403);
    expect(registry.require(TARGET).quarantined).toBe(true);
    await page.close();
  });
});
