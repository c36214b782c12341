/**
 * The whole product on one machine: a cloud (PGlite in a data directory), a gateway (SQLite) enrolled to it through
 * the real enrollment endpoint and syncing with its enrolled key, and simulated devices of all three families, some
 * of them faulty. Used by the demo (`npm start`) and by the end-to-end browser tests; a second start on the same
 * directory reuses everything (credentials, PKI, enrollment, data).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunningCloud, startCloud } from '@palisade/cloud';
import { BOARD_FAMILIES } from '@palisade/firmware-protocol';
import {
  initPki,
  PKI_FILES,
  pkiDir,
  referenceValuesDocument,
  type SimulatorHandle,
  startSimulator,
} from '@palisade/firmware-protocol/simulator';
import {
  enrollGateway,
  type GatewayHandle,
  loadCloudIdentity,
  loadConfig,
  OperatorStore,
  startGateway,
} from '@palisade/gateway';
import { type Logger, newId, silentLogger, systemClock } from '@palisade/shared';

export interface StackOptions {
  /** Everything the stack keeps: `cloud/`, `gateway/`, `sim/`, `credentials.json`. */
  dir: string;
  /** Ports; 0 = any free port. */
  cloudPort?: number;
  panelPort?: number;
  mqttsPort?: number;
  /** Simulated devices (families round-robin) and their faults, as `palisade-sim run --faults`. */
  devices?: number;
  faults?: string;
  telemetryRateHz?: number;
  /** scrypt cost of new passwords, log2 (tests lower it). */
  passwordLogN?: number;
  logger?: Logger;
  simLogger?: Logger;
}

export interface Credentials {
  adminEmail: string;
  adminPassword: string;
  adminApiKey: string;
  operatorName: string;
  operatorPassword: string;
}

export interface Stack {
  cloud: RunningCloud;
  gateway: GatewayHandle;
  sim: SimulatorHandle;
  credentials: Credentials;
  urls: { dashboard: string; apiDocs: string; panel: string; mqtts: string };
  deviceIds: string[];
  stop(): Promise<void>;
}

const secret = (bytes: number) => randomBytes(bytes).toString('base64url');

/** Credentials are made once per directory and kept (mode 0600) so a second start logs in the same way. */
function loadOrCreateCredentials(dir: string): Credentials {
  const file = join(dir, 'credentials.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Credentials;
  const creds: Credentials = {
    adminEmail: 'admin@palisade.local',
    adminPassword: secret(12),
    adminApiKey: `pk_${newId('').replace(/[^A-Za-z0-9]/g, '')}_${secret(32)}`,
    operatorName: 'operator',
    operatorPassword: secret(12),
  };
  writeFileSync(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  return creds;
}

/** Device ids the simulator will use, so the gateway's allow-list admits exactly them. */
function simulatorDeviceIds(devices: number, faults: string): string[] {
  const faulty = faults
    .split(',')
    .filter(Boolean)
    .flatMap((f) => {
      const [mode, n] = f.split(':');
      return Array.from({ length: Number(n ?? 1) }, () => mode as string);
    })
    .filter((m) => m !== 'clone');
  return Array.from({ length: devices }, (_, i) => {
    const base = `sim-${BOARD_FAMILIES[i % 3]}-${String(i + 1).padStart(4, '0')}`;
    const fault = faulty[i];
    return fault === undefined ? base : `${base}-${fault}`;
  });
}

async function api(url: string, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const dir = options.dir;
  const log = options.logger ?? silentLogger;
  for (const sub of ['cloud', 'gateway', 'sim']) mkdirSync(join(dir, sub), { recursive: true });
  const credentials = loadOrCreateCredentials(dir);
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => {});
  };
  try {
    const cloud = await startCloud({
      port: options.cloudPort ?? 0,
      dataDir: join(dir, 'cloud'),
      logger: log.child({ service: 'cloud' }),
      admin: {
        orgName: 'Demo Plant Co',
        adminEmail: credentials.adminEmail,
        adminPassword: credentials.adminPassword,
        adminApiKey: credentials.adminApiKey,
        ...(options.passwordLogN === undefined ? {} : { passwordLogN: options.passwordLogN }),
      },
      print: () => {},
    });
    stops.push(() => cloud.stop());

    const gatewayDir = join(dir, 'gateway');
    if (loadCloudIdentity(gatewayDir) === undefined) {
      const token = await api(cloud.url, credentials.adminApiKey, 'POST', '/api/v1/enrollment-tokens', {
        siteName: 'plant-north',
      });
      await enrollGateway({ cloudUrl: cloud.url, token: String(token.token), dataDir: gatewayDir, name: 'gw-north' });
    }

    const simDir = join(dir, 'sim');
    if (!existsSync(join(pkiDir(simDir), PKI_FILES.root))) await initPki(simDir);
    const refvals = join(simDir, 'reference-values.json');
    writeFileSync(refvals, JSON.stringify(referenceValuesDocument()));
    const devices = options.devices ?? 9;
    const faults = options.faults ?? 'tampered-firmware:1,rollback:1,wrong-key:1';
    const deviceIds = simulatorDeviceIds(devices, faults);

    const config = loadConfig({
      overrides: {
        dataDir: gatewayDir,
        mqtt: { enabled: false },
        mqtts: { enabled: true, host: '127.0.0.1', port: options.mqttsPort ?? 0 },
        ws: { enabled: false },
        http: { host: '127.0.0.1', port: options.panelPort ?? 0 },
        auth: {
          manufacturerRoots: [join(pkiDir(simDir), PKI_FILES.root)],
          intermediateFiles: [join(pkiDir(simDir), PKI_FILES.intermediate)],
          crlFiles: [join(pkiDir(simDir), PKI_FILES.crl)],
          allowCredentials: false,
        },
        enrollment: { allowList: deviceIds },
        attestation: { referenceValuesFile: refvals, challengeTtlMs: 10_000, periodicIntervalMs: 300_000 },
      },
    });
    const gateway = await startGateway(config, { logger: log.child({ service: 'gateway' }) });
    stops.push(() => gateway.stop());
    const operators = new OperatorStore(gateway.store, systemClock, {
      ...(options.passwordLogN === undefined ? {} : { scryptN: 2 ** options.passwordLogN }),
    });
    await operators.ensure(credentials.operatorName, credentials.operatorPassword, 'operator');

    const sim = await startSimulator({
      broker: `mqtts://127.0.0.1:${gateway.ports.mqtts}`,
      ca: gateway.identity.caCertPem,
      devices,
      faults,
      stateDir: simDir,
      telemetryRateHz: options.telemetryRateHz ?? 0.5,
      reconnectPeriodMs: 2_000,
      logger: options.simLogger ?? silentLogger,
    });
    stops.push(() => sim.stop());

    return {
      cloud,
      gateway,
      sim,
      credentials,
      deviceIds,
      urls: {
        dashboard: `${cloud.url}/dashboard`,
        apiDocs: `${cloud.url}/api/v1/docs`,
        panel: `http://127.0.0.1:${gateway.ports.http}/panel`,
        mqtts: `mqtts://127.0.0.1:${gateway.ports.mqtts}`,
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
