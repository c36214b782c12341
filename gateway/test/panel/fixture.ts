import { generateKeyPairSync } from 'node:crypto';
import { buildAttestationResult, signAttestationResult, TRUST } from '@palisade/firmware-protocol';
import { type Clock, ManualClock } from '@palisade/shared';
import { Hono } from 'hono';
import { ReferenceValues } from '../../src/attestation/reference-values.js';
import { AlertStore } from '../../src/detection/alerts.js';
import { OperatorStore, registerPanel } from '../../src/panel/index.js';
import { Registry } from '../../src/registry/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { TelemetryWriter } from '../../src/telemetry/writer.js';

export const OPERATOR = { name: 'ann', password: 'correct horse battery' };
export const VIEWER = { name: 'vic', password: 'viewer password 1' };

export const REFERENCE_DOC = {
  version: 1,
  entries: [
    {
      boardFamily: 'stm32',
      firmwareVersion: '1.4.2',
      components: [{ name: 'bl2', alg: 'sha-256', digest: 'aa'.repeat(32) }],
    },
  ],
};

export interface PanelWorld {
  app: Hono;
  store: Store;
  registry: Registry;
  alerts: AlertStore;
  operators: OperatorStore;
  clock: ManualClock;
  reattested: string[];
  refs: { current: ReferenceValues; setBy: string[] };
  close(): void;
}

/** A gateway's panel on a real SQLite store (in memory unless `path`), with two operators. */
export async function panelWorld(
  opts: { path?: string; clock?: ManualClock; liveIntervalMs?: number } = {},
): Promise<PanelWorld> {
  const store = openStore({ path: opts.path ?? ':memory:' });
  const clock = opts.clock ?? new ManualClock(Date.UTC(2026, 10, 25, 12));
  const registry = new Registry(store.db, { clock });
  const alerts = new AlertStore(store.db, clock);
  const operators = new OperatorStore(store, clock, { scryptN: 1024 });
  await operators.ensure(OPERATOR.name, OPERATOR.password, 'operator');
  await operators.ensure(VIEWER.name, VIEWER.password, 'viewer');
  const refs = { current: ReferenceValues.parse(REFERENCE_DOC), setBy: [] as string[] };
  const reattested: string[] = [];
  const app = new Hono();
  const panel = registerPanel(app, {
    store,
    registry,
    alerts,
    operators,
    clock,
    referenceValues: {
      get: () => refs.current,
      import: (next, actor) => {
        refs.current = next;
        refs.setBy.push(actor);
      },
    },
    reattest: (id) => {
      reattested.push(id);
      return id !== 'nrf-offline';
    },
    liveIntervalMs: opts.liveIntervalMs ?? 50,
  });
  return {
    app,
    store,
    registry,
    alerts,
    operators,
    clock,
    reattested,
    refs,
    close() {
      panel.close();
      store.close();
    },
  };
}

const gatewayKey = (() => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, kid: 'gw-test' };
})();

const allTrust = {
  'instance-identity': TRUST['instance-identity'].trustworthy,
  configuration: TRUST.configuration.approved,
  executables: TRUST.executables.approvedRuntime,
  hardware: TRUST.hardware.genuine,
};

/** Records an appraisal the way the gateway does: a signed EAR with the device's boot counter, then the result. */
export async function attest(
  w: { registry: Registry; clock: Clock },
  deviceId: string,
  bootCount: number,
  failure?: { reasons: string[] },
): Promise<void> {
  const at = w.clock.now();
  const resultId = `ar-${deviceId}-${at}-${bootCount}`;
  const vector = failure ? { ...allTrust, executables: TRUST.executables.contraindicated } : allTrust;
  const claims = buildAttestationResult({
    gatewayId: 'gw-test',
    deviceId,
    resultId,
    appraisedAt: at,
    vector,
    reasons: failure?.reasons ?? [],
    claims: {
      profile: 'palisade-eat/1',
      nonce: new Uint8Array(32),
      ueid: new Uint8Array([1, 2, 3]),
      measurements: [],
      bootCount,
    },
  });
  const jwt = await signAttestationResult(claims, gatewayKey);
  w.registry.recordResult(deviceId, {
    resultId,
    status: failure ? 'contraindicated' : 'affirming',
    reasons: failure?.reasons ?? [],
    jwt,
    at,
  });
}

/** A small plant: devices of the three families, one tampered, one pending approval, telemetry and alerts. */
export async function seedPlant(w: PanelWorld): Promise<void> {
  const cert = (id: string) => ({
    serial: `0x${Buffer.from(id).toString('hex').slice(0, 16)}`,
    subject: `CN=${id},O=Acme Devices`,
    notAfter: Date.UTC(2028, 0, 1),
    fingerprint: Buffer.from(id.padEnd(32, '.')).toString('hex'),
  });
  const fleet: [string, string, string][] = [
    ['stm32-pump-01', 'stm32', '1.4.2'],
    ['stm32-pump-02', 'stm32', '1.4.2'],
    ['nrf52-valve-01', 'nrf52', '2.0.1'],
    ['esp32-meter-01', 'esp32', '3.1.0'],
    ['esp32-meter-02', 'esp32', '3.1.0'],
  ];
  for (const [id, family, version] of fleet) {
    w.registry.admit({ deviceId: id, via: 'manufacturer-root', family, cert: cert(id) });
    w.registry.approve(id, 'operator:setup');
    w.registry.recordFirmware(id, { family, version, measurement: 'ab'.repeat(32) });
  }
  w.registry.admit({ deviceId: 'nrf52-new-07', via: 'manufacturer-root', family: 'nrf52', cert: cert('nrf52-new-07') });
  const writer = new TelemetryWriter(w.store, { clock: w.clock });
  for (let boot = 1; boot <= 4; boot++) {
    for (const [id] of fleet) {
      await attest(w, id, boot + (id.length % 3));
      writer.add(id, { seq: boot, values: { temperature: 20 + boot + (id.length % 5), pressure: 1.2 + boot / 10 } });
    }
    writer.flush();
    w.clock.advance(10 * 60_000);
  }
  for (let m = 0; m < 30; m++) {
    writer.add('stm32-pump-01', { seq: 100 + m, values: { temperature: 21 + Math.sin(m / 4) * 3, pressure: 1.5 } });
    writer.flush();
    w.clock.advance(60_000);
  }
  await attest(w, 'esp32-meter-02', 2, { reasons: ['appraisal.measurement_mismatch', 'appraisal.rollback'] });
  w.alerts.raise({
    type: 'attestation_failed',
    severity: 'critical',
    deviceId: 'esp32-meter-02',
    details: { reasons: ['appraisal.measurement_mismatch', 'appraisal.rollback'], firmware: '3.1.0' },
  });
  w.alerts.raise({
    type: 'unknown_device',
    severity: 'warning',
    deviceId: 'nrf52-new-07',
    details: { via: 'manufacturer-root' },
  });
}

/** `n` devices written straight into the store in one transaction (for the page-size and timing checks). */
export function seedBulk(store: Store, n: number, now: number): void {
  const insert = store.sqlite.prepare(
    `INSERT INTO devices (id, family, enrollment, enrolled_via, quarantined, firmware_version, last_seen, last_status, created_at, updated_at)
     VALUES (?, ?, 'approved', 'allow-list', ?, ?, ?, ?, ?, ?)`,
  );
  const families = ['stm32', 'nrf52', 'esp32'];
  store.sqlite.transaction(() => {
    for (let i = 0; i < n; i++) {
      const failed = i % 97 === 0;
      insert.run(
        `bulk-${String(i).padStart(5, '0')}`,
        families[i % 3] ?? 'stm32',
        failed ? 1 : 0,
        `1.${i % 7}.0`,
        now - i * 1000,
        failed ? 'contraindicated' : 'affirming',
        now,
        now,
      );
    }
  })();
}
