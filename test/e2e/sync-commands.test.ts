import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAttestationResult, signAttestationResult } from '@palisade/firmware-protocol';
import {
  AlertStore,
  CommandApplier,
  enrollGateway,
  IDENTITY_FILES,
  loadCloudIdentity,
  Registry,
  startCloudSync,
} from '@palisade/gateway';
import { ManualClock, systemClock } from '@palisade/shared';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { api, cloudQuery, cloudRollups, syncSuite, waitUntil, writeRollups } from './sync-world.js';

/**
 * Enrollment, clock skew, commands down and the outbox budget, end to end. (Faults: sync.test.ts.)
 * Store-and-forward under faults, end to end: a real cloud (PGlite in process), gateways enrolled through the real
 * endpoint, the gateway's sync agent talking through a TCP proxy that fails the link in the ways uplinks fail. In
 * every case the cloud must end with exactly the gateway's records: same count, same content, and the accepted
 * batches together carried each record once.
 */

// Tight per-gateway rate limit: the rate-limit case below runs into it for real.
const suite = syncSuite({ burst: 5, perSecond: 5 });
const { gateway, client, expectExactlyOnce } = suite;

/** Runs node asynchronously: the cloud answering the CLI lives in this very process. */
function runNode(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('enrollment', () => {
  it('palisade-gateway enroll --cloud URL --token TOKEN --data-dir DIR enrolls through the CLI', async () => {
    const tok = await api(suite.cloud().url, 'POST', '/api/v1/enrollment-tokens', { siteName: 'plant-cli' });
    const dataDir = join(tmpdir(), `palisade-cli-enroll-${process.pid}-${Date.now()}`);
    const cli = fileURLToPath(new URL('../../gateway/src/cli.ts', import.meta.url));
    const args = [
      '--conditions=source',
      '--import',
      'tsx',
      cli,
      'enroll',
      '--cloud',
      suite.cloud().url,
      '--token',
      tok.json.token,
      '--data-dir',
      dataDir,
      '--json',
    ];
    const run = await runNode(args);
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { gatewayId: string };
    expect(JSON.parse(readFileSync(join(dataDir, IDENTITY_FILES.identity), 'utf8')).gatewayId).toBe(out.gatewayId);
    expect(run.stdout).not.toContain(tok.json.token);
  });

  it('stores the key 0600 with the issued certificate, refuses to overwrite it, and a token works once', async () => {
    const g = await gateway();
    expect(statSync(join(g.dataDir, IDENTITY_FILES.key)).mode & 0o777).toBe(0o600);
    const loaded = loadCloudIdentity(g.dataDir);
    expect(loaded?.gatewayId).toBe(g.identity.gatewayId);
    expect(loaded?.certificatePem).toContain('BEGIN CERTIFICATE');
    const tok = await api(suite.cloud().url, 'POST', '/api/v1/enrollment-tokens', { siteName: 'plant-sync' });
    await expect(
      enrollGateway({ cloudUrl: suite.cloud().url, token: tok.json.token, dataDir: g.dataDir }),
    ).rejects.toMatchObject({
      code: 'conflict.already_enrolled',
    });
    const other = join(g.dataDir, 'second');
    await enrollGateway({ cloudUrl: suite.cloud().url, token: tok.json.token, dataDir: other });
    await expect(
      enrollGateway({ cloudUrl: suite.cloud().url, token: tok.json.token, dataDir: join(g.dataDir, 'third') }),
    ).rejects.toMatchObject({
      code: 'auth.enrollment_refused',
    });
  });
});

describe('commands down', () => {
  it('measures clock skew from the cloud and signs with corrected time, so a gateway 10 min fast still syncs', async () => {
    const g = await gateway();
    writeRollups(g.store, 'dev-d', 0, 10);
    const fast = new ManualClock(Date.now() + 600_000);
    const timer = setInterval(() => fast.advance(50), 50);
    const c = client(g, { clock: fast });
    await c.drain();
    clearInterval(timer);
    const skew = c.status().clockSkewMs ?? 0;
    expect(Math.abs(skew + 600_000)).toBeLessThan(3000);
    await expectExactlyOnce(g);
  });

  it('a quarantine issued through the cloud API reaches the gateway, is applied once, acked and audited', async () => {
    const g = await gateway();
    const clock = systemClock;
    const reg = new Registry(g.store.db, { clock, allowList: ['dev-q'] });
    reg.admit({ deviceId: 'dev-q', via: 'allow-list', family: 'nrf52' });
    reg.recordFirmware('dev-q', { version: '1.2.0', measurement: 'cd'.repeat(32) });
    const applier = new CommandApplier(
      g.store.db,
      g.store.sqlite,
      { quarantine: (d, a, r) => reg.quarantine(d, a, r), release: (d, a) => reg.release(d, a) },
      clock,
    );
    const c = client(g, { commands: applier });
    await c.drain(); // the cloud learns the device (its inventory resolves the command's target)

    const issued = await api(suite.cloud().url, 'POST', '/api/v1/commands', {
      target: { kind: 'device', deviceId: 'dev-q' },
      args: { type: 'quarantine', reason: 'SOC case 7' },
      ttlSeconds: 600,
    });
    expect(issued.status).toBe(201);
    expect(issued.json.deliveries).toEqual([
      expect.objectContaining({ gatewayId: g.identity.gatewayId, deviceIds: ['dev-q'], state: 'pending' }),
    ]);
    const id = issued.json.id as string;

    await c.pollCommands(5);
    expect(reg.require('dev-q')).toMatchObject({ quarantined: true, quarantineReason: 'SOC case 7' });
    expect(reg.require('dev-q').quarantinedBy).toMatch(/^cloud:api_key:/);

    const view = await api(suite.cloud().url, 'GET', `/api/v1/commands/${id}`);
    expect(view.json.deliveries[0]).toMatchObject({ state: 'applied', detail: '1 device(s)' });
    expect(view.json.deliveries[0].ackedAt).not.toBeNull();

    // The quarantine itself syncs back: the cloud's inventory shows the device quarantined.
    await c.drain();
    const [dev] = await cloudQuery(suite.cloud(), sql`select quarantined from devices where id = 'dev-q'`);
    expect(dev?.quarantined).toBe(true);

    // Audited on both sides, with who asked.
    const audit = await cloudQuery(
      suite.cloud(),
      sql`select action, actor_kind, after from audit_log where target_id = ${id} order by at`,
    );
    expect(audit.map((a) => `${a.action}/${a.actor_kind}`)).toEqual(['command.issue/api_key', 'command.ack/gateway']);
    expect(audit[1]?.after).toMatchObject({ outcome: 'applied' });
    const local = g.store.sqlite
      .prepare("SELECT actor, action FROM audit WHERE action IN ('command.quarantine', 'device.quarantine')")
      .all() as { actor: string }[];
    expect(local).toHaveLength(2);
    expect(local.every((a) => a.actor.startsWith('cloud:api_key:'))).toBe(true);

    // A second poll hands out nothing more; the command is not applied twice.
    await c.pollCommands(0);
    expect(g.store.sqlite.prepare('SELECT count(*) AS n FROM sync_commands').get()).toEqual({ n: 1 });
  });

  it('refuses commands for devices nobody has, and to callers without the analyst role', async () => {
    const missing = await api(suite.cloud().url, 'POST', '/api/v1/commands', {
      target: { kind: 'device', deviceId: 'nobody' },
      args: { type: 'release' },
    });
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('not_found.command_target');
    const bad = await api(suite.cloud().url, 'POST', '/api/v1/commands', {
      target: { kind: 'all' },
      args: { type: 'quarantine', reason: 'x' },
    });
    expect(bad.status).toBe(400);
    const anon = await fetch(`${suite.cloud().url}/api/v1/commands/cmd_x`);
    expect(anon.status).toBe(401);
  });

  it('keeps an alert raised by the thinning of the outbox budget and syncs it', async () => {
    const g = await gateway();
    const alerts = new AlertStore(g.store.db, systemClock);
    alerts.raise({ type: 'attestation_failed', severity: 'critical', deviceId: 'dev-x' });
    writeRollups(g.store, 'dev-x', 0, 300);
    const c = client(g, { budget: { maxBytes: 20_000, raiseAlert: (a) => alerts.raise(a) } });
    await c.drain();
    expect(c.status().thinnedRollups).toBeGreaterThan(0);
    const got = await cloudRollups(suite.cloud(), g.identity.gatewayId);
    expect(got.rows.length).toBe(300 - c.status().thinnedRollups);
    expect(got.carried).toBe(got.rows.length);
    const raw = await cloudQuery(
      suite.cloud(),
      sql`select body->'data'->>'type' as type from raw_alerts where gateway_id = ${g.identity.gatewayId} order by 1`,
    );
    expect(raw.map((r) => r.type)).toEqual(['attestation_failed', 'outbox_thinned']);
  });

  it('the gateway agent (startCloudSync) syncs in the background and applies a release from the cloud by long-poll', async () => {
    const g = await gateway();
    const reg = new Registry(g.store.db, { clock: systemClock, allowList: ['dev-agent'] });
    reg.admit({ deviceId: 'dev-agent', via: 'allow-list', family: 'esp32' });
    reg.quarantine('dev-agent', 'operator:site', 'maintenance');
    writeRollups(g.store, 'dev-agent', 0, 25);
    const agent = startCloudSync({
      store: g.store,
      dataDir: g.dataDir,
      clock: systemClock,
      registry: reg,
      alerts: new AlertStore(g.store.db, systemClock),
    });
    if (!agent) throw new Error('enrolled gateway did not start syncing');
    try {
      await waitUntil(() => agent.status().pendingRecords === 0, 10_000, 'the agent to sync');
      const issued = await api(suite.cloud().url, 'POST', '/api/v1/commands', {
        target: { kind: 'device', deviceId: 'dev-agent' },
        args: { type: 'release' },
      });
      expect(issued.status).toBe(201);
      await waitUntil(() => reg.require('dev-agent').quarantined === false, 10_000, 'the release to arrive');
      await waitUntil(
        async () =>
          (await api(suite.cloud().url, 'GET', `/api/v1/commands/${issued.json.id}`)).json.deliveries[0].state ===
          'applied',
        10_000,
        'the ack',
      );
      // The release syncs back like any change.
      agent.wake();
      await waitUntil(
        async () => {
          const [d] = await cloudQuery(suite.cloud(), sql`select quarantined from devices where id = 'dev-agent'`);
          return d?.quarantined === false;
        },
        10_000,
        'the released device in the cloud',
      );
    } finally {
      await agent.stop();
    }
    await expectExactlyOnce(g);
  });

  it('attestation results signed with the enrolled key and alerts reach the cloud verified, each once', async () => {
    const g = await gateway();
    const reg = new Registry(g.store.db, { clock: systemClock, allowList: ['dev-ar'] });
    reg.admit({ deviceId: 'dev-ar', via: 'allow-list', family: 'stm32' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const resultId = `ar_${i}_${Date.now()}`;
      const claims = buildAttestationResult({
        gatewayId: g.identity.gatewayId,
        deviceId: 'dev-ar',
        resultId,
        appraisedAt: Date.now(),
        vector: i === 4 ? { executables: 96 } : { executables: 2, 'instance-identity': 2 },
        reasons: i === 4 ? ['appraisal.firmware_mismatch'] : [],
      });
      const jwt = await signAttestationResult(claims, { privateKey: g.identity.privateKey, kid: g.identity.gatewayId });
      reg.recordResult('dev-ar', {
        resultId,
        status: i === 4 ? 'contraindicated' : 'affirming',
        reasons: claims.submods.device?.ear_verifier_claims.reasons ?? [],
        jwt,
      });
      ids.push(resultId);
    }
    new AlertStore(g.store.db, systemClock).raise({
      type: 'attestation_failed',
      severity: 'critical',
      deviceId: 'dev-ar',
    });
    const c = client(g);
    await c.drain();
    await c.drain(); // nothing left: a second drain sends nothing
    const stored = await cloudQuery(
      suite.cloud(),
      sql`select jti, status from attestation_results where gateway_id = ${g.identity.gatewayId} order by jti`,
    );
    expect(stored.map((r) => r.jti)).toEqual([...ids].sort());
    expect(stored.filter((r) => r.status === 'contraindicated')).toHaveLength(1);
    const [dev] = await cloudQuery(
      suite.cloud(),
      sql`select attestation_status, quarantined from devices where id = 'dev-ar'`,
    );
    expect(dev).toEqual({ attestation_status: 'contraindicated', quarantined: true });
    const alerts = await cloudQuery(
      suite.cloud(),
      sql`select alert_id from raw_alerts where gateway_id = ${g.identity.gatewayId}`,
    );
    expect(alerts).toHaveLength(1);
    const [carried] = await cloudQuery(
      suite.cloud(),
      sql`select coalesce(sum((counts->>'attestation_result')::int), 0)::int as n from sync_batches where gateway_id = ${g.identity.gatewayId}`,
    );
    expect(carried?.n).toBe(5);
  });
});
