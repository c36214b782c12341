import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GatewayCommand, ManualClock } from '@palisade/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/registry.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { backoffDelay, DEFAULT_BACKOFF, parseRetryAfter } from '../../src/sync/backoff.js';
import { CommandApplier } from '../../src/sync/commands.js';
import { mapOutboxRow } from '../../src/sync/records.js';

describe('backoff with full jitter', () => {
  it('stays within [0, min(max, base·2^(n-1))) and grows with failures', () => {
    const p = { baseMs: 100, maxMs: 5000 };
    expect(backoffDelay(1, p, () => 0.999)).toBe(99);
    expect(backoffDelay(3, p, () => 0.999)).toBe(399);
    expect(backoffDelay(20, p, () => 0.999)).toBe(4995);
    expect(backoffDelay(5, p, () => 0)).toBe(0);
    for (let n = 1; n < 40; n++) {
      const d = backoffDelay(n, DEFAULT_BACKOFF, Math.random);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(DEFAULT_BACKOFF.maxMs);
    }
  });

  it('never retries earlier than Retry-After', () => {
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0.1, 7000)).toBe(7000);
    expect(parseRetryAfter('3', 0)).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter('999999', 0)).toBe(3_600_000);
  });
});

describe('outbox rows to sync records', () => {
  const row = (kind: string, payload: unknown) => ({
    id: 1,
    at: Date.UTC(2026, 0, 1),
    kind,
    entityId: 'e1',
    payload: JSON.stringify(payload),
  });

  it('maps devices, results and alerts to the contract, and skips what it cannot carry', () => {
    const dev = mapOutboxRow(
      row('device', {
        family: 'nrf52',
        lastStatus: 'contraindicated',
        quarantined: true,
        certSerial: '0A:1B',
        updatedAt: 5,
      }),
    );
    expect(dev).toMatchObject({
      record: { kind: 'device', data: { boardFamily: 'nrf52', certSerial: '0a1b', quarantined: true, riskScore: 100 } },
    });
    expect(mapOutboxRow(row('device', { family: null }))).toHaveProperty('skip');
    expect(mapOutboxRow(row('attestation_result', { jwt: null }))).toHaveProperty('skip');
    expect(mapOutboxRow(row('audit', {}))).toHaveProperty('skip');
    expect(mapOutboxRow({ ...row('alert', {}), payload: '{not json' })).toHaveProperty('skip');
    const alert = mapOutboxRow(
      row('alert', {
        type: 'boot_rollback',
        severity: 'critical',
        deviceId: 'd1',
        count: 3,
        firstSeen: 1,
        details: '{"a":1}',
      }),
    );
    expect(alert).toMatchObject({
      record: {
        kind: 'alert',
        occurredAt: new Date(1).toISOString(),
        data: { severity: 'critical', count: 3, details: { a: 1 } },
      },
    });
  });
});

describe('command applier', () => {
  let dir: string;
  let store: Store;
  const clock = new ManualClock(Date.UTC(2026, 0, 2));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'palisade-cmd-'));
    store = openStore({ path: join(dir, 'gateway.sqlite') });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cmd = (over: Partial<GatewayCommand> = {}): GatewayCommand => ({
    id: 'cmd_1',
    target: { kind: 'device', deviceId: 'dev-1' },
    deviceIds: ['dev-1'],
    args: { type: 'quarantine', reason: 'SOC case 42' },
    issuedBy: 'user:alice',
    issuedAt: new Date(clock.now()).toISOString(),
    expiresAt: new Date(clock.now() + 60_000).toISOString(),
    ...over,
  });

  it('applies a quarantine once through the registry, audited with who asked, and re-acks a repeat', async () => {
    const reg = new Registry(store.db, { clock, allowList: ['dev-1'] });
    reg.admit({ deviceId: 'dev-1', via: 'allow-list', family: 'nrf52' });
    const applier = new CommandApplier(
      store.db,
      store.sqlite,
      { quarantine: (d, a, r) => reg.quarantine(d, a, r), release: (d, a) => reg.release(d, a) },
      clock,
    );
    const ack = await applier.apply(cmd());
    expect(ack).toMatchObject({ commandId: 'cmd_1', outcome: 'applied' });
    expect(reg.require('dev-1')).toMatchObject({
      quarantined: true,
      quarantinedBy: 'cloud:user:alice',
      quarantineReason: 'SOC case 42',
    });
    // An operator releases locally; the cloud re-delivers the same command: it is not applied again.
    reg.release('dev-1', 'operator:bob');
    const again = await applier.apply(cmd());
    expect(again).toEqual(ack);
    expect(reg.require('dev-1').quarantined).toBe(false);
    const audit = store.sqlite
      .prepare("SELECT actor, action FROM audit WHERE action LIKE 'command.%' OR action = 'device.quarantine'")
      .all();
    expect(audit).toEqual([
      { actor: 'cloud:user:alice', action: 'device.quarantine' },
      { actor: 'cloud:user:alice', action: 'command.quarantine' },
    ]);
    expect(applier.unacknowledged().map((a) => a.commandId)).toEqual(['cmd_1']);
    applier.markAcknowledged(['cmd_1']);
    expect(applier.unacknowledged()).toEqual([]);
  });

  it('refuses an expired command, rejects an unsupported one, and reports a missing device as failed', async () => {
    const reg = new Registry(store.db, { clock });
    const applier = new CommandApplier(
      store.db,
      store.sqlite,
      { quarantine: (d, a, r) => reg.quarantine(d, a, r), release: (d, a) => reg.release(d, a) },
      clock,
    );
    expect(
      await applier.apply(cmd({ id: 'cmd_old', expiresAt: new Date(clock.now() - 1).toISOString() })),
    ).toMatchObject({ outcome: 'expired' });
    expect(await applier.apply(cmd({ id: 'cmd_ra', args: { type: 'reattest' } }))).toMatchObject({
      outcome: 'rejected',
    });
    expect(await applier.apply(cmd({ id: 'cmd_nodev', deviceIds: ['ghost'] }))).toMatchObject({
      outcome: 'failed',
      detail: 'ghost: not_found.device',
    });
    expect(reg.list()).toEqual([]);
  });
});
