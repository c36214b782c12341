/**
 * The gateway panel in a real browser against a real gateway: in-process gateway (mTLS broker on an ephemeral port,
 * temp data dir, SQLite), the board simulator with one tampered device, and the panel served by the gateway's HTTP
 * server. An operator
 * signs in, finds the tampered device failed with its reasons, opens its page, quarantines a healthy device, and sees
 * a change made outside the browser arrive live. Screenshots go to gateway/docs/screenshots/ and cloud/docs/screenshots/ and are checked for layout
 * defects (sideways scroll, cut text, overlapping cards, raw JSON).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOARD_FAMILIES } from '@palisade/firmware-protocol';
import {
  implementationIdOf,
  initPki,
  PKI_FILES,
  pkiDir,
  referenceMeasurements,
  type SimulatorHandle,
  startSimulator,
} from '@palisade/firmware-protocol/simulator';
import { type GatewayHandle, loadConfig, OperatorStore, startGateway } from '@palisade/gateway';
import { silentLogger, systemClock, toHex } from '@palisade/shared';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSupport, launchBrowser, layoutProblems, screenshot } from '../src/browser.js';

const support = browserSupport(process.env.CI === 'true');
if (support.skip) console.warn(support.reason);

const OPERATOR = { name: 'ann', password: 'correct horse battery' };
const TAMPERED = 'sim-stm32-0001-tampered-firmware';
const HEALTHY = ['sim-nrf52-0002', 'sim-esp32-0003', 'sim-stm32-0004'];

const dirs: string[] = [];
let gw: GatewayHandle;
let sim: SimulatorHandle;
let browser: Browser;
let url: string;

function tempDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `palisade-ui-${name}-`));
  dirs.push(d);
  return d;
}

/** The simulator's known-good builds as a `refvals` document (what an operator imports). */
function simReferenceValues(): string {
  return JSON.stringify({
    version: 1,
    entries: BOARD_FAMILIES.map((family) => ({
      boardFamily: family,
      firmwareVersion: '1.0.0',
      ...(family === 'stm32' ? { implementationId: toHex(implementationIdOf(family)) } : {}),
      components: referenceMeasurements(family).map((m) => ({
        name: m.component,
        alg: m.alg,
        digest: toHex(m.digest),
        ...(m.signerId === undefined ? {} : { signerId: toHex(m.signerId) }),
        ...(m.version === undefined ? {} : { version: m.version }),
      })),
    })),
  });
}

beforeAll(async () => {
  if (support.skip) return;
  const simDir = tempDir('sim');
  await initPki(simDir);
  const refvals = join(simDir, 'refvals.json');
  writeFileSync(refvals, simReferenceValues());
  const config = loadConfig({
    overrides: {
      dataDir: tempDir('gw'),
      gatewayId: 'gw-ui',
      mqtt: { enabled: false },
      mqtts: { enabled: true, host: '127.0.0.1', port: 0 },
      ws: { enabled: false },
      http: { host: '127.0.0.1', port: 0 },
      auth: {
        manufacturerRoots: [join(pkiDir(simDir), PKI_FILES.root)],
        intermediateFiles: [join(pkiDir(simDir), PKI_FILES.intermediate)],
        crlFiles: [join(pkiDir(simDir), PKI_FILES.crl)],
        allowCredentials: false,
      },
      enrollment: { allowList: [TAMPERED, ...HEALTHY] },
      attestation: { referenceValuesFile: refvals, challengeTtlMs: 5_000 },
    },
  });
  gw = await startGateway(config, { logger: silentLogger });
  // The panel is served by the gateway's own HTTP server; the first operator account is made as the CLI makes it.
  await new OperatorStore(gw.store, systemClock, { scryptN: 1024 }).ensure(
    OPERATOR.name,
    OPERATOR.password,
    'operator',
  );
  url = `http://127.0.0.1:${gw.ports.http}/panel`;
  sim = await startSimulator({
    broker: `mqtts://127.0.0.1:${gw.ports.mqtts}`,
    ca: gw.identity.caCertPem,
    devices: 4,
    faults: { 'tampered-firmware': 1 },
    stateDir: simDir,
    telemetryRateHz: 4,
    reconnectPeriodMs: 200,
    logger: silentLogger,
  });
  await sim.waitFor((s) => s.attested === 3 && s.failed === 1, 20_000);
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await sim?.stop();
  await gw?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function signIn(page: Page): Promise<void> {
  await page.goto(`${url}/devices`);
  expect(page.url()).toBe(`${url}/login`);
  await page.fill('input[name=name]', OPERATOR.name);
  await page.fill('input[name=password]', OPERATOR.password);
  await page.click('button[type=submit]');
  await page.waitForSelector('#devices');
}

describe.skipIf(support.skip)('gateway panel in a browser', () => {
  it('shows the tampered device failed with its reasons; the device page has its timeline, certificate and charts', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(8_000);
    const wrong = await page.goto(`${url}/login`);
    expect(wrong?.status()).toBe(200);
    await page.fill('input[name=name]', OPERATOR.name);
    await page.fill('input[name=password]', 'not the password');
    await page.click('button[type=submit]');
    await page.waitForSelector('.flash.error');
    await screenshot(page, 'gateway-login-refused');
    await signIn(page);

    const row = page.locator(`tr[data-device="${TAMPERED}"]`);
    await expect(row.locator('[data-status]').getAttribute('data-status')).resolves.toBe('contraindicated');
    expect(await row.textContent()).toContain('appraisal.measurement_mismatch');
    expect(await row.locator('[data-quarantined]').count()).toBe(1);
    for (const id of HEALTHY) {
      expect(await page.locator(`tr[data-device="${id}"] [data-status]`).getAttribute('data-status')).toBe('affirming');
    }
    expect(await layoutProblems(page)).toEqual([]);
    await screenshot(page, 'gateway-devices');

    await page.click(`a[href$="/devices/${TAMPERED}"]`);
    await page.waitForSelector('#attestation-timeline');
    expect(await page.locator('#attestation-timeline li').first().textContent()).toContain(
      'appraisal.measurement_mismatch',
    );
    expect(await page.locator('h1').textContent()).toContain('failed');
    // A quarantined device's telemetry is refused at the broker, and a PSA token (STM32) carries no boot counter:
    // both charts say so instead of drawing an empty frame.
    await page.waitForFunction(() => (globalThis as { uPlot?: unknown }).uPlot !== undefined);
    expect(await page.locator('#boot-chart').textContent()).toContain('No boot counter');
    expect(await page.locator('#telemetry-chart').textContent()).toContain('No telemetry');
    expect(await layoutProblems(page)).toEqual([]);
    await screenshot(page, 'gateway-device-failed');

    // A healthy device: uPlot draws the telemetry the gateway stored (4 Hz since it connected) and its boot counter.
    await page.goto(`${url}/devices/${HEALTHY[1]}`);
    await page.waitForSelector('#telemetry-chart canvas');
    await page.waitForSelector('#boot-chart canvas');
    expect(await layoutProblems(page)).toEqual([]);
    await screenshot(page, 'gateway-device-healthy');
    await page.close();
  });

  it('an operator quarantines a healthy device; a change made elsewhere arrives live', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(8_000);
    await signIn(page);
    const target = HEALTHY[0] ?? '';
    await page.goto(`${url}/devices/${target}`);
    await page.fill('input[name=reason]', 'pump maintenance');
    await page.click('button[data-action="quarantine"]');
    await page.waitForSelector('.flash');
    expect(await page.locator('.flash').textContent()).toContain('quarantined');
    expect(gw.registry.require(target)).toMatchObject({
      quarantined: true,
      quarantineReason: 'pump maintenance',
      quarantinedBy: 'operator:ann',
    });
    await screenshot(page, 'gateway-device-quarantined');

    await page.goto(`${url}/devices`);
    await page.waitForSelector('.live:not(.off)');
    const other = HEALTHY[1] ?? '';
    expect(await page.locator(`tr[data-device="${other}"] [data-quarantined]`).count()).toBe(0);
    // The CLI (or a cloud command) quarantines through the registry: the open page updates without a reload.
    gw.registry.quarantine(other, 'cli:root', 'from the CLI');
    await page.waitForSelector(`tr[data-device="${other}"] [data-quarantined]`, { timeout: 5_000 });
    await page.goto(`${url}/alerts?state=all`);
    expect(await page.locator('#alerts').textContent()).toContain('attestation_failed');
    expect(await layoutProblems(page)).toEqual([]);
    await screenshot(page, 'gateway-alerts');
    await page.goto(`${url}/reference-values`);
    expect(await page.locator('#reference-values tbody tr').count()).toBeGreaterThanOrEqual(3);
    expect(await layoutProblems(page)).toEqual([]);
    await screenshot(page, 'gateway-reference-values');

    // On a phone-sized screen the tables scroll inside their cards; the page itself never scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${url}/devices`);
    expect(await layoutProblems(page)).toEqual([]);
    await screenshot(page, 'gateway-devices-narrow');
    await page.close();
  });
});
