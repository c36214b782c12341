import { ConflictError, ManualClock, NotFoundError, ValidationError } from '@palisade/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/broker/passwords.js';
import {
  CredentialStore,
  classifyBoot,
  DeviceGate,
  Registry,
  SqliteDeviceStateStore,
  SqliteResultSink,
} from '../../src/registry/index.js';
import { openStore, type Store, schema } from '../../src/store/index.js';

const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function setup(allowList: string[] = []) {
  const store = openStore({ path: ':memory:' });
  stores.push(store);
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 12));
  return { store, clock, registry: new Registry(store.db, { clock, allowList }) };
}

const cert = { serial: '01', subject: 'CN=dev-1', notAfter: Date.UTC(2027, 0, 1), fingerprint: 'aa' };

describe('enrollment', () => {
  it('a device proving a manufacturer certificate waits in pending until an operator approves it', () => {
    const { store, registry } = setup();
    const first = registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root', family: 'stm32', cert });
    expect(first.created).toBe(true);
    expect(first.device.enrollment).toBe('pending');
    expect(first.device.certNotAfter).toBe(cert.notAfter);
    expect(registry.approve('dev-1', 'operator:ann').enrollment).toBe('approved');
    const audit = store.db.select().from(schema.audit).all();
    expect(audit.map((a) => [a.actor, a.action])).toEqual([
      ['system', 'device.enrol'],
      ['operator:ann', 'device.approve'],
    ]);
    expect(store.db.select().from(schema.outbox).all().length).toBe(2);
  });

  it('an allow-listed device is approved on first sight', () => {
    const { registry } = setup(['dev-2']);
    const d = registry.admit({ deviceId: 'dev-2', via: 'manufacturer-root' }).device;
    expect([d.enrollment, d.enrolledVia]).toEqual(['approved', 'allow-list']);
  });

  it('revocation is final: a revoked device cannot be approved again', () => {
    const { registry } = setup();
    registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root' });
    registry.revoke('dev-1', 'operator:ann', 'stolen');
    expect(() => registry.approve('dev-1', 'operator:ann')).toThrow(ConflictError);
    expect(registry.get('dev-1')?.enrollment).toBe('revoked');
  });

  it('refuses unknown devices and malformed ids with typed errors', () => {
    const { registry } = setup();
    expect(() => registry.revoke('ghost', 'operator:ann')).toThrow(NotFoundError);
    expect(() => registry.quarantine('ghost', 'operator:ann', 'x')).toThrow(NotFoundError);
    expect(() => registry.admit({ deviceId: 'a/b', via: 'manufacturer-root' })).toThrow(ValidationError);
    expect(() => registry.approve('+', 'operator:ann')).toThrow(ValidationError);
  });

  it('notices a changed certificate', () => {
    const { registry } = setup();
    registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root', cert });
    expect(registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root', cert }).certChanged).toBe(false);
    expect(
      registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root', cert: { ...cert, fingerprint: 'bb' } }).certChanged,
    ).toBe(true);
  });

  it('lists by enrollment and quarantine state', () => {
    const { registry } = setup(['b']);
    registry.admit({ deviceId: 'a', via: 'manufacturer-root' });
    registry.admit({ deviceId: 'b', via: 'manufacturer-root' });
    registry.recordResult('a', { status: 'affirming', reasons: [] });
    expect(registry.list({ quarantined: true }).map((d) => d.id)).toEqual(['b']);
    registry.quarantine('a', 'operator:ann', 'inspection');
    expect(registry.list({ enrollment: 'pending' }).map((d) => d.id)).toEqual(['a']);
    expect(registry.list({ quarantined: true }).map((d) => d.id)).toEqual(['a', 'b']);
    expect(registry.list({ quarantined: false })).toEqual([]);
  });
});

describe('quarantine on results [FP-7.4-1]', () => {
  it('a non-affirming result quarantines; an affirming one releases a system quarantine', () => {
    const { registry, clock } = setup(['dev-1']);
    const fresh = registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root' }).device;
    // [FP-7.4-3] never seen affirming: quarantined from the start
    expect([fresh.quarantined, fresh.quarantineReason]).toEqual([true, 'attestation.never_affirmed']);
    expect(registry.recordResult('dev-1', { status: 'affirming', reasons: [] }).released).toBe(true);
    clock.advance(1000);
    const bad = registry.recordResult('dev-1', {
      status: 'contraindicated',
      reasons: ['appraisal.measurement_mismatch'],
    });
    expect(bad.quarantined).toBe(true);
    const d = registry.require('dev-1');
    expect([d.quarantined, d.quarantineReason, d.quarantinedBy, d.lastStatus]).toEqual([
      true,
      'appraisal.measurement_mismatch',
      'system',
      'contraindicated',
    ]);
    clock.advance(1000);
    const good = registry.recordResult('dev-1', { status: 'affirming', reasons: [] });
    expect(good.released).toBe(true);
    expect(registry.require('dev-1').quarantined).toBe(false);
    expect(registry.history('dev-1').map((r) => r.status)).toEqual(['affirming', 'contraindicated', 'affirming']);
  });

  it('an operator quarantine survives an affirming result until the operator releases it', () => {
    const { registry } = setup(['dev-1']);
    registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root' });
    registry.recordResult('dev-1', { status: 'affirming', reasons: [] });
    registry.quarantine('dev-1', 'operator:ann', 'maintenance');
    expect(registry.recordResult('dev-1', { status: 'affirming', reasons: [] }).released).toBe(false);
    expect(registry.require('dev-1').quarantined).toBe(true);
    registry.release('dev-1', 'operator:ann');
    expect(registry.require('dev-1').quarantined).toBe(false);
  });

  it('a freshness refusal is history only: it changes neither the last result nor the quarantine [FP-7.2-3]', () => {
    const { registry, clock } = setup(['dev-1']);
    registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root' });
    registry.recordResult('dev-1', { status: 'affirming', reasons: [] });
    clock.advance(1);
    const r = registry.recordResult('dev-1', {
      status: 'contraindicated',
      reasons: ['appraisal.nonce_reused'],
      refused: true,
    });
    expect(r.quarantined).toBe(false);
    expect(registry.require('dev-1')).toMatchObject({ quarantined: false, lastStatus: 'affirming' });
    expect(registry.history('dev-1')).toHaveLength(2);
  });

  it('a result for an unknown device is refused', () => {
    const { registry } = setup();
    expect(() => registry.recordResult('ghost', { status: 'affirming', reasons: [] })).toThrow(NotFoundError);
  });
});

describe('firmware bookkeeping', () => {
  it('reports a change of version or measurement, not the first sight', () => {
    const { registry } = setup(['dev-1']);
    registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root' });
    expect(registry.recordFirmware('dev-1', { version: '1.0.0', measurement: 'aa' })).toBeNull();
    expect(registry.recordFirmware('dev-1', { version: '1.0.0', measurement: 'aa' })).toBeNull();
    expect(registry.recordFirmware('dev-1', { version: '1.0.0', measurement: 'bb' })).toEqual({
      previousVersion: '1.0.0',
      previousMeasurement: 'aa',
    });
  });

  it('queues the device for the cloud when its firmware is first learned and when it changes, not when unchanged', () => {
    const { store, registry } = setup(['dev-1']);
    registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root', family: 'nrf52' });
    const queued = () =>
      (
        store.sqlite
          .prepare("SELECT payload FROM outbox WHERE kind = 'device' AND entity_id = 'dev-1' ORDER BY id")
          .all() as { payload: string }[]
      ).map((r) => (JSON.parse(r.payload) as { measurement: string | null }).measurement);
    const before = queued().length;
    registry.recordFirmware('dev-1', { version: '1.0.0', measurement: 'aa' });
    registry.recordFirmware('dev-1', { version: '1.0.0', measurement: 'aa' });
    registry.recordFirmware('dev-1', { version: '1.0.0', measurement: 'bb' });
    expect(queued().slice(before)).toEqual(['aa', 'bb']);
  });
});

describe('boot bookkeeping [FP-5.2-3]', () => {
  it('classifies boot observations', () => {
    expect(classifyBoot(undefined, { bootCount: 3, bootSeed: 'aa' })).toBe('first');
    expect(classifyBoot({ bootCount: 3, bootSeed: 'aa' }, { bootCount: 3, bootSeed: 'aa' })).toBe('same-boot');
    expect(classifyBoot({ bootCount: 3, bootSeed: 'aa' }, { bootCount: 4, bootSeed: 'bb' })).toBe('reboot');
    expect(classifyBoot({ bootCount: 3, bootSeed: 'aa' }, { bootCount: 2, bootSeed: 'bb' })).toBe('rollback');
    expect(classifyBoot({ bootCount: 3, bootSeed: 'aa' }, { bootCount: 3, bootSeed: 'bb' })).toBe('rollback');
    expect(classifyBoot({ bootCount: 3, bootSeed: 'aa' }, { bootCount: 4, bootSeed: 'aa' })).toBe('seed-reused');
    expect(classifyBoot({ bootSeed: 'aa' }, { bootSeed: 'bb' })).toBe('reboot');
  });

  it('the SQLite device state never lowers the boot counter and counts reboots', () => {
    const { store, registry } = setup(['dev-1']);
    registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root', family: 'nrf52' });
    const states = new SqliteDeviceStateStore(store.db);
    const ueid = new Uint8Array([1, 2, 3]);
    states.recordBoot('dev-1', { ueid, bootCount: 5, bootSeed: new Uint8Array([9]), rebooted: false, at: 1 });
    states.recordBoot('dev-1', { ueid, bootCount: 6, bootSeed: new Uint8Array([8]), rebooted: true, at: 2 });
    states.recordBoot('dev-1', { ueid, bootCount: 4, bootSeed: new Uint8Array([7]), rebooted: true, at: 3 });
    const s = states.get('dev-1');
    expect(s?.bootCount).toBe(6);
    expect(s?.ueid).toEqual(ueid);
    expect(s?.boardFamily).toBe('nrf52');
    expect(registry.require('dev-1').reboots).toBe(2);
    expect(states.get('ghost')).toBeUndefined();
  });
});

describe('result sink', () => {
  it('records results with quarantine and answers duplicates by nonce', () => {
    const { store, registry } = setup(['dev-1']);
    registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root' });
    const seen: string[] = [];
    const sink = new SqliteResultSink(store.db, registry, (r, o) => seen.push(`${r.status}:${o.quarantined}`));
    sink.record({
      deviceId: 'dev-1',
      nonceHex: 'ab',
      evidenceDigest: 'cd',
      status: 'warning',
      reasons: ['appraisal.unknown_reference'],
      jwt: 'x.y.z',
      appraisedAt: 10,
      resultId: 'ar_1',
      refused: false,
    });
    expect(seen).toEqual(['warning:false']); // still in its first quarantine [FP-7.4-3]
    expect(registry.require('dev-1')).toMatchObject({ quarantined: true, lastStatus: 'warning' });
    expect(sink.findByNonce('dev-1', 'ab')).toMatchObject({ status: 'warning', jwt: 'x.y.z', evidenceDigest: 'cd' });
    expect(sink.findByNonce('dev-1', 'zz')).toBeUndefined();
  });
});

describe('credentials', () => {
  it('stores only a hash the broker can verify; unknown devices have none', async () => {
    const { store, clock } = setup();
    const creds = new CredentialStore(store.db, clock);
    await creds.set('dev-9', 'correct horse battery staple', 'operator:ann');
    const row = store.db.select().from(schema.credentials).get();
    expect(row?.hash).toMatch(/^scrypt\$/);
    expect(row?.hash).not.toContain('horse');
    const cred = creds.lookup('dev-9');
    expect(cred?.deviceId).toBe('dev-9');
    expect(await verifyPassword('correct horse battery staple', cred?.passwordHash ?? '')).toBe(true);
    expect(await verifyPassword('correct horse battery stapl3', cred?.passwordHash ?? '')).toBe(false);
    expect(creds.lookup('dev-8')).toBeUndefined();
    await expect(creds.set('a/b', 'x'.repeat(20), 'operator:ann')).rejects.toThrow(ValidationError);
    expect(creds.remove('dev-9', 'operator:ann')).toBe(true);
    expect(creds.lookup('dev-9')).toBeUndefined();
  });
});

describe('DeviceGate [FP-7.4-1]', () => {
  it('follows registry changes in-process and from another connection, and gates publishes', () => {
    const { store, registry: base, clock } = setup(['dev-1']);
    const gate = new DeviceGate(store);
    const registry = new Registry(store.db, { clock, allowList: ['dev-1'], onChange: (d) => gate.update(d) });
    expect(gate.isPublishAllowed('dev-1', 'telemetry')).toBe('gate.unknown_device');
    registry.admit({ deviceId: 'dev-1', via: 'manufacturer-root' });
    // New device: quarantined until its first affirming result [FP-7.4-3]
    expect(gate.isPublishAllowed('dev-1', 'telemetry')).toEqual({ discard: 'gate.quarantined' });
    expect(gate.isPublishAllowed('dev-1', 'evidence')).toBe(true);
    expect(gate.isPublishAllowed('dev-1', 'status')).toBe(true);
    registry.recordResult('dev-1', { status: 'affirming', reasons: [] });
    expect(gate.isPublishAllowed('dev-1', 'telemetry')).toBe(true);
    expect(gate.isPublishAllowed('dev-1', 'command-ack')).toBe(true);
    expect(gate.isPublishAllowed('dev-1', 'challenge')).toBe('gate.direction');
    expect(gate.isPublishAllowed('dev-1', 'other')).toBe('gate.topic');
    // A change by another process (the CLI) is seen after a poll.
    clock.advance(10);
    base.quarantine('dev-1', 'operator:ann', 'inspection');
    expect(gate.isPublishAllowed('dev-1', 'telemetry')).toBe(true);
    expect(gate.poll()).toBeGreaterThan(0);
    expect(gate.isPublishAllowed('dev-1', 'telemetry')).toEqual({ discard: 'gate.quarantined' });
    registry.admit({ deviceId: 'dev-2', via: 'manufacturer-root' });
    expect(gate.isPublishAllowed('dev-2', 'evidence')).toBe(true);
    expect(gate.isPublishAllowed('dev-2', 'telemetry')).toEqual({ discard: 'gate.not_approved' });
    registry.revoke('dev-2', 'operator:ann');
    expect(gate.isPublishAllowed('dev-2', 'evidence')).toBe('gate.revoked');
    expect(gate.enrollment('dev-2')).toBe('revoked');
  });
});

describe('SqliteResultSink.findByNonce [FP-7.2-2]', () => {
  it('answers a duplicate with the original appraisal, not with the refusal of a later replay', () => {
    const { store, clock, registry } = setup(['dev-1']);
    registry.admit({ deviceId: 'dev-1', via: 'allow-list', family: 'nrf52' });
    const sink = new SqliteResultSink(store.db, registry);
    registry.recordResult('dev-1', { resultId: 'ear_1', status: 'affirming', reasons: [], nonceHex: 'aa', jwt: 'j1' });
    clock.advance(1_000);
    registry.recordResult('dev-1', {
      resultId: 'ear_2',
      status: 'contraindicated',
      reasons: ['appraisal.nonce_reused'],
      nonceHex: 'aa',
      jwt: 'j2',
      refused: true,
    });
    expect(sink.findByNonce('dev-1', 'aa')).toMatchObject({ status: 'affirming', reasons: [], jwt: 'j1' });
  });
});
