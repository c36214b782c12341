import { ManualClock } from '@palisade/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertStore, Detector, RateBaseline } from '../../src/detection/index.js';
import { Registry } from '../../src/registry/index.js';
import { openStore, type Store, schema } from '../../src/store/index.js';

const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

const DAY = 86_400_000;

function setup(opts: ConstructorParameters<typeof Detector>[2] extends infer O ? Partial<O> : never = {}) {
  const store = openStore({ path: ':memory:' });
  stores.push(store);
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 12));
  const alerts = new AlertStore(store.db, clock);
  const raised: string[] = [];
  const detector = new Detector(store.db, alerts, {
    clock,
    onAlert: (o) => raised.push(`${o.alert.type}${o.created ? '+' : ''}`),
    ...opts,
  });
  const registry = new Registry(store.db, { clock, allowList: ['dev-1', 'dev-2'] });
  return { store, clock, alerts, detector, registry, raised };
}

describe('AlertStore de-duplication', () => {
  it('repeats increment the live alert; after closing, a repeat opens a new one', () => {
    const { alerts, clock } = setup();
    const a = alerts.raise({ type: 'unknown_device', severity: 'warning', deviceId: 'x' });
    clock.advance(1000);
    const b = alerts.raise({ type: 'unknown_device', severity: 'critical', deviceId: 'x', details: { n: 2 } });
    expect(b.created).toBe(false);
    expect(b.alert.id).toBe(a.alert.id);
    expect([b.alert.count, b.alert.severity, b.alert.lastSeen - b.alert.firstSeen]).toEqual([2, 'critical', 1000]);
    alerts.setState(a.alert.id, 'acknowledged', 'operator:ann');
    expect(alerts.raise({ type: 'unknown_device', severity: 'info', deviceId: 'x' }).alert).toMatchObject({
      id: a.alert.id,
      count: 3,
      severity: 'critical',
      state: 'acknowledged',
    });
    alerts.setState(a.alert.id, 'closed', 'operator:ann');
    const c = alerts.raise({ type: 'unknown_device', severity: 'warning', deviceId: 'x' });
    expect(c.created).toBe(true);
    expect(alerts.list({ type: 'unknown_device' })).toHaveLength(2);
  });
});

describe('Detector', () => {
  it('attestation failures raise one alert per device and reason, plus rollback and clone alerts', () => {
    const { detector, alerts, raised, clock } = setup();
    expect(detector.attestationResult('dev-1', 'affirming', [])).toEqual([]);
    detector.attestationResult('dev-1', 'contraindicated', ['appraisal.measurement_mismatch']);
    detector.attestationResult('dev-1', 'contraindicated', ['appraisal.measurement_mismatch']);
    clock.advance(1);
    detector.attestationResult('dev-1', 'contraindicated', ['appraisal.rollback']);
    detector.attestationResult('dev-2', 'contraindicated', ['appraisal.clone_suspected']);
    expect(raised).toEqual([
      'attestation_failed+',
      'attestation_failed',
      'attestation_failed+',
      'boot_rollback+',
      'attestation_failed+',
      'suspected_clone+',
    ]);
    const open = alerts.list({ deviceId: 'dev-1', type: 'attestation_failed' });
    expect(open.map((a) => [JSON.parse(a.details).reasons[0], a.count, a.severity])).toEqual([
      ['appraisal.rollback', 1, 'critical'],
      ['appraisal.measurement_mismatch', 2, 'critical'],
    ]);
  });

  it('a boot seed that comes back after another one is two boards taking turns with one identity', () => {
    const { detector, raised } = setup();
    expect(detector.bootSeedObserved('dev-1', 'aa')).toBeUndefined();
    expect(detector.bootSeedObserved('dev-1', 'aa')).toBeUndefined();
    expect(detector.bootSeedObserved('dev-1', 'bb')).toBeUndefined();
    expect(detector.bootSeedObserved('dev-2', 'aa')).toBeUndefined();
    expect(detector.bootSeedObserved('dev-1', 'aa')?.type).toBe('suspected_clone');
    expect(raised).toEqual(['suspected_clone+']);
  });

  it('one identity on two live connections from different addresses is a suspected clone', () => {
    const { detector, alerts } = setup();
    expect(detector.connected('dev-1', 'c1', '10.0.0.5')).toBeUndefined();
    // Same address: the device reconnecting before its old socket timed out.
    expect(detector.connected('dev-1', 'c2', '10.0.0.5')).toBeUndefined();
    const a = detector.connected('dev-1', 'c3', '10.0.0.9');
    expect(a?.type).toBe('suspected_clone');
    expect(JSON.parse(a?.details ?? '{}')).toMatchObject({ signal: 'concurrent_connections' });
    detector.disconnected('dev-1', 'c1');
    detector.disconnected('dev-1', 'c2');
    detector.disconnected('dev-1', 'c3');
    expect(detector.connected('dev-1', 'c4', '10.0.0.9')).toBeUndefined();
    expect(alerts.list({ type: 'suspected_clone' })).toHaveLength(1);
  });

  it('authentication failures alert at the threshold within the window, not below it', () => {
    const { detector, clock, alerts } = setup({ authFailureThreshold: 3, authFailureWindowMs: 10_000 });
    expect(detector.authFailure('10.0.0.7')).toBeUndefined();
    clock.advance(6000);
    expect(detector.authFailure('10.0.0.7')).toBeUndefined();
    clock.advance(6000); // the first failure has left the window
    expect(detector.authFailure('10.0.0.7')).toBeUndefined();
    expect(detector.authFailure('10.0.0.8')).toBeUndefined();
    expect(detector.authFailure('10.0.0.7')?.type).toBe('auth_failures');
    expect(detector.authFailure('10.0.0.7')?.count).toBe(2);
    expect(alerts.list({ type: 'auth_failures' })).toHaveLength(1);
  });

  it('bounds the addresses it tracks', () => {
    const { detector } = setup({ maxTracked: 10, authFailureThreshold: 2 });
    for (let i = 0; i < 1000; i++) detector.authFailure(`10.0.${i >> 8}.${i & 255}`);
    expect(detector.authFailure('10.0.0.0')).toBeUndefined(); // forgotten long ago
  });

  it('unknown devices are keyed by id, or by address when there is no id', () => {
    const { detector, alerts } = setup();
    detector.unknownDevice('intruder-1', '10.0.0.3', 'not_enrolled');
    detector.unknownDevice('intruder-1', '10.0.0.4', 'not_enrolled');
    detector.unknownDevice(null, '10.0.0.3', 'no_certificate');
    expect(
      alerts
        .list({ type: 'unknown_device' })
        .map((a) => [a.dedupKey, a.count])
        .sort(),
    ).toEqual([
      ['unknown_device:10.0.0.3', 1],
      ['unknown_device:intruder-1', 2],
    ]);
  });

  it('certificates expiring within 30 days alert; later ones and revoked devices do not', () => {
    const { detector, registry, clock } = setup();
    const now = clock.now();
    const cert = (id: string, days: number) => ({
      serial: id,
      subject: `CN=${id}`,
      notAfter: now + days * DAY,
      fingerprint: `fp-${id}`,
    });
    registry.admit({ deviceId: 'soon', via: 'manufacturer-root', cert: cert('soon', 29) });
    registry.admit({ deviceId: 'late', via: 'manufacturer-root', cert: cert('late', 31) });
    registry.admit({ deviceId: 'gone', via: 'manufacturer-root', cert: cert('gone', -1) });
    registry.admit({ deviceId: 'dead', via: 'manufacturer-root', cert: cert('dead', 3) });
    registry.revoke('dead', 'operator:ann');
    const found = detector.certificateSweep().map((a) => [a.deviceId, a.severity]);
    expect(found.sort()).toEqual([
      ['gone', 'critical'],
      ['soon', 'warning'],
    ]);
    // At connect, one device: the same de-duplicated alert, counted; a late certificate raises nothing.
    expect(detector.certificateCheck(registry.require('soon'))?.count).toBe(2);
    expect(detector.certificateCheck(registry.require('late'))).toBeUndefined();
  });

  it('undecodable messages are one payload anomaly per device, counted', () => {
    const { detector } = setup();
    detector.malformedMessage('dev-1', 'telemetry', 'cbor.malformed');
    const a = detector.malformedMessage('dev-1', 'telemetry', 'message.schema');
    expect([a.type, a.count, JSON.parse(a.details).code]).toEqual(['payload_anomaly', 2, 'message.schema']);
  });

  it('firmware changes alert with before and after', () => {
    const { detector } = setup();
    const a = detector.firmwareChanged('dev-1', {
      fromVersion: '1.0.0',
      toVersion: '1.1.0',
      fromMeasurement: 'aa',
      toMeasurement: 'bb',
    });
    expect(a.type).toBe('firmware_changed');
    expect(JSON.parse(a.details)).toMatchObject({ fromVersion: '1.0.0', toVersion: '1.1.0' });
  });

  it('message-rate anomaly against the device’s own EWMA baseline', () => {
    const { detector, clock, store } = setup({
      rate: { windowMs: 1000, warmupWindows: 5, factor: 4, minRatePerSec: 2 },
    });
    const start = clock.now();
    // A steady 5 msg/s for 20 s: no alert.
    for (let i = 0; i < 100; i++) {
      clock.set(start + i * 200);
      expect(detector.message('dev-1')).toBeUndefined();
    }
    // A burst of 40 messages within one second.
    let alert: unknown;
    for (let i = 0; i < 40; i++) {
      clock.set(start + 20_000 + i * 20);
      alert = detector.message('dev-1') ?? alert;
    }
    expect(alert).toMatchObject({ type: 'message_rate_anomaly', deviceId: 'dev-1', count: 1 });
    expect(store.db.select().from(schema.alerts).all()).toHaveLength(1);
  });
});

describe('RateBaseline', () => {
  it('a device that is always fast is not anomalous; the flood does not become the baseline', () => {
    const r = new RateBaseline({ windowMs: 1000, warmupWindows: 3, factor: 3, minRatePerSec: 1 });
    let t = 0;
    const fire = (perSec: number, seconds: number) => {
      let n = 0;
      for (let s = 0; s < seconds; s++) {
        for (let i = 0; i < perSec; i++) if (r.observe('d', t + s * 1000 + Math.floor((i * 1000) / perSec))) n++;
      }
      t += seconds * 1000;
      return n;
    };
    expect(fire(50, 10)).toBe(0);
    expect(fire(400, 3)).toBe(3); // one per anomalous window
    expect(r.baseline('d')).toBeLessThan(60);
    expect(fire(50, 3)).toBe(0);
  });
});
