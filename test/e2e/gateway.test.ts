/**
 * The gateway end to end over real sockets: in-process gateway (mTLS listener on an ephemeral port, temp data dir)
 * and the board simulator. Issue 3 "Done means": healthy devices of all three families are affirmed; faults are
 * detected with the right reason and alert and the device is quarantined; a restart keeps registry and results.
 */
import { countTelemetryRows, loadConfig, runCli } from '@palisade/gateway';
import { describe, expect, it } from 'vitest';
import { gateway, healthyIds, running, simIds, simulate, tempDir } from './gateway-world.js';

describe('gateway end to end', () => {
  it('affirms healthy devices of all three families and keeps registry and results across a restart', async () => {
    const dataDir = tempDir('gw');
    const gw = await gateway(dataDir, healthyIds);
    const sim = await simulate(gw, { telemetryRateHz: 4 });
    await sim.waitFor((s) => s.attested === 3, 20_000);
    // Telemetry of affirmed devices is stored (batched; the writer flushes every 250 ms).
    await sim.waitFor((s) => s.telemetrySent >= 12, 10_000);
    await new Promise((r) => setTimeout(r, 400));
    expect(countTelemetryRows(gw.store).raw).toBeGreaterThan(0);
    for (const id of healthyIds) {
      const d = gw.registry.require(id);
      expect({ id, status: d.lastStatus, quarantined: d.quarantined, enrollment: d.enrollment }).toEqual({
        id,
        status: 'affirming',
        quarantined: false,
        enrollment: 'approved',
      });
      expect(gw.registry.history(id)[0]?.jwt).toMatch(/^ey/);
    }
    expect(gw.registry.require('sim-stm32-0001').family).toBe('stm32');
    const health = await fetch(`http://127.0.0.1:${gw.ports.http}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', db: true, counts: { devices: 3, connected: 3 } });
    const metrics = await (await fetch(`http://127.0.0.1:${gw.ports.http}/metrics`)).text();
    const affirmed = Number(/palisade_gateway_appraisals_total\{status="affirming"\} (\d+)/.exec(metrics)?.[1]);
    expect(affirmed).toBeGreaterThanOrEqual(3);
    expect(metrics).not.toContain('palisade_gateway_appraisals_total{status="contraindicated"}');

    const before = new Map(healthyIds.map((id) => [id, gw.registry.require(id)]));
    await sim.stop();
    await gw.stop();
    running.splice(0);

    const again = await gateway(dataDir, healthyIds);
    for (const id of healthyIds) {
      const was = before.get(id);
      const after = again.registry.require(id);
      expect(after.lastStatus).toBe('affirming');
      expect(again.registry.history(id).length).toBeGreaterThanOrEqual(1);
      // Boot counters and seeds survive, so a rollback is still caught after the restart.
      expect([after.lastBootCount, after.bootSeed, after.ueid]).toEqual([was?.lastBootCount, was?.bootSeed, was?.ueid]);
    }
    expect(again.registry.require(healthyIds[1] as string).lastBootCount).toBeGreaterThan(0);
    expect(again.identity.kid).toBe(gw.identity.kid);
  });

  it('detects faulty evidence with the right reason and alert, and quarantines the device', async () => {
    const expected: Record<string, string> = {
      'tampered-firmware': 'appraisal.measurement_mismatch',
      'wrong-key': 'appraisal.bad_signature',
      'wrong-nonce': 'appraisal.nonce_mismatch',
      malformed: 'appraisal.malformed_evidence',
    };
    const faults = Object.keys(expected);
    const ids = simIds([...faults, undefined, undefined, undefined]);
    const gw = await gateway(tempDir('gw'), ids, 1_000);
    const sim = await simulate(gw, { devices: ids.length, faults: Object.fromEntries(faults.map((f) => [f, 1])) });
    await sim.waitFor((s) => s.attested >= 3, 15_000);
    const waitUntil = Date.now() + 10_000;
    while (faults.some((_, i) => gw.registry.get(ids[i] as string)?.lastStatus == null) && Date.now() < waitUntil) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const [i, fault] of faults.entries()) {
      const id = ids[i] as string;
      const reason = expected[fault] as string;
      const d = gw.registry.require(id);
      expect({ fault, status: d.lastStatus, quarantined: d.quarantined, reason: d.quarantineReason }).toEqual({
        fault,
        status: 'contraindicated',
        quarantined: true,
        reason,
      });
      const alert = gw.alerts.list({ deviceId: id, type: 'attestation_failed' })[0];
      expect(JSON.parse(alert?.details ?? '{}').reasons?.[0]).toBe(reason);
    }
    for (const id of ids.slice(faults.length)) expect(gw.registry.require(id).quarantined).toBe(false);
    // The malformed device's undecodable telemetry (refused while quarantined) or evidence: no crash, and no
    // payload alert for healthy devices.
    for (const id of ids.slice(faults.length)) expect(gw.alerts.list({ deviceId: id })).toEqual([]);
  });

  it('detects rollback, replay, clone and flood, and quarantines the device', async () => {
    const faults = ['tampered-firmware', 'rollback', 'replay', 'clone', 'flood'];
    const ids = simIds([...faults, undefined, undefined, undefined]);
    const [tampered, rollback, replay, , flood, victim] = ids as [string, string, string, string, string, string];
    const gw = await gateway(tempDir('gw'), ids, 1_000);
    const sim = await simulate(gw, {
      devices: ids.length,
      faults: Object.fromEntries(faults.map((f) => [f, 1])),
      telemetryRateHz: 1,
      floodRateHz: 400,
    });
    const until = async (what: string, f: () => boolean) => {
      const deadline = Date.now() + 12_000;
      while (!f()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const reasonOf = (id: string) => gw.registry.get(id)?.quarantineReason;
    await until('rollback', () => reasonOf(rollback) === 'appraisal.rollback');
    await until('replay', () => reasonOf(replay) === 'appraisal.nonce_mismatch');
    await until('flood', () => reasonOf(flood) === 'detection.message_flood');
    await until('clone', () => reasonOf(victim) === 'detection.clone_suspected');
    expect(reasonOf(tampered)).toBe('appraisal.measurement_mismatch');
    for (const id of [rollback, replay, flood, victim]) expect(gw.registry.require(id).quarantined).toBe(true);
    // The alert that goes with each.
    expect(gw.alerts.list({ deviceId: rollback, type: 'boot_rollback' })).toHaveLength(1);
    expect(gw.alerts.list({ deviceId: replay, type: 'attestation_failed' })[0]?.details).toContain('nonce_mismatch');
    expect(gw.alerts.list({ deviceId: flood, type: 'message_rate_anomaly' })).toHaveLength(1);
    expect(gw.alerts.list({ deviceId: victim, type: 'suspected_clone' })).toHaveLength(1);
    // Detection quarantines are not lifted by an affirming result: an operator must release them.
    expect(gw.registry.require(victim).quarantinedBy).toBe('system:detection');
    expect(sim.stats().attested).toBeGreaterThanOrEqual(2);
  });

  it('an unknown device waits in pending with an alert until an operator approves it from the CLI', async () => {
    const ids = simIds([undefined]);
    const id = ids[0] as string;
    const dataDir = tempDir('gw');
    const gw = await gateway(dataDir, []);
    const sim = await simulate(gw, { devices: 1, telemetryRateHz: 5 });
    // Attested (evidence is allowed while pending) but not admitted: telemetry is refused.
    await sim.waitFor((s) => s.attested === 1, 15_000);
    expect(gw.registry.require(id)).toMatchObject({ enrollment: 'pending', lastStatus: 'affirming' });
    expect(gw.alerts.list({ deviceId: id, type: 'unknown_device' })).toHaveLength(1);
    expect(countTelemetryRows(gw.store).raw).toBe(0);
    // The CLI changes the same database from outside the gateway; the gateway notices within its poll interval.
    const out: string[] = [];
    const code = await runCli(['devices', 'approve', id, '--data-dir', dataDir, '--actor', 'ann'], {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => out.push(s) },
      readStdin: async () => '',
      loadConfig: (flags) => loadConfig({ flags }),
      waitForStop: async () => {},
    });
    expect(code).toBe(0);
    const deadline = Date.now() + 10_000;
    while (countTelemetryRows(gw.store).raw === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(countTelemetryRows(gw.store).raw).toBeGreaterThan(0);
  });
});
