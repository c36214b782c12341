/**
 * Shared setup of the gateway end-to-end tests: a simulator PKI and reference values, an in-process gateway on
 * ephemeral ports with a temp data dir, and the simulator pointed at it. Set E2E_DEBUG=1 for JSON logs on stderr.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOARD_FAMILIES } from '@palisade/firmware-protocol';
import {
  FAULT_MODES,
  initPki,
  PKI_FILES,
  pkiDir,
  referenceValuesDocument,
  type SimulatorHandle,
  startSimulator,
} from '@palisade/firmware-protocol/simulator';
import { type GatewayHandle, loadConfig, startGateway } from '@palisade/gateway';
import { createLogger, silentLogger } from '@palisade/shared';
import { afterAll, afterEach, beforeAll } from 'vitest';

const dirs: string[] = [];
/** Everything started by a test, stopped after it in reverse order. */
export const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export function tempDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `palisade-e2e-${name}-`));
  dirs.push(d);
  return d;
}

export let simDir: string;
let refvalsFile: string;
beforeAll(async () => {
  simDir = tempDir('sim');
  await initPki(simDir);
  refvalsFile = join(simDir, 'refvals.json');
  writeFileSync(refvalsFile, JSON.stringify(referenceValuesDocument()));
});

export async function gateway(
  dataDir: string,
  allowList: string[],
  challengeTtlMs = 5_000,
  extra: Record<string, unknown> = {},
): Promise<GatewayHandle> {
  const config = loadConfig({
    overrides: {
      dataDir,
      gatewayId: 'gw-e2e',
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
      enrollment: { allowList },
      ...extra,
      attestation: {
        referenceValuesFile: refvalsFile,
        challengeTtlMs,
        ...(extra.attestation as Record<string, unknown> | undefined),
      },
    },
  });
  const gw = await startGateway(config, {
    logger: process.env.E2E_DEBUG
      ? createLogger({ service: 'gw', level: 'debug', destination: process.stderr })
      : silentLogger,
  });
  running.push(gw);
  return gw;
}

export async function simulate(
  gw: GatewayHandle,
  opts: Partial<Parameters<typeof startSimulator>[0]>,
): Promise<SimulatorHandle> {
  const sim = await startSimulator({
    broker: `mqtts://127.0.0.1:${gw.ports.mqtts}`,
    ca: gw.identity.caCertPem,
    devices: 3,
    stateDir: simDir,
    telemetryRateHz: 0,
    reconnectPeriodMs: 200,
    logger: process.env.E2E_DEBUG
      ? createLogger({ service: 'sim', level: 'debug', destination: process.stderr })
      : silentLogger,
    ...opts,
  });
  running.push(sim);
  return sim;
}

/**
 * The simulator's device ids: families round-robin, faulty slots first in FAULT_MODES order, the fault as suffix
 * (a clone slot copies the first healthy device and has no id of its own).
 */
export function simIds(slots: (string | undefined)[]): string[] {
  const order = (f: string | undefined) => (f === undefined ? FAULT_MODES.length : FAULT_MODES.indexOf(f as never));
  return [...slots]
    .sort((a, b) => order(a) - order(b))
    .map((fault, i) => {
      const base = `sim-${BOARD_FAMILIES[i % 3]}-${String(i + 1).padStart(4, '0')}`;
      return fault === undefined || fault === 'clone' ? base : `${base}-${fault}`;
    });
}

export const healthyIds = simIds([undefined, undefined, undefined]);
