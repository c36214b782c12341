import { fromHex, toHex } from '@palisade/shared';
import { and, asc, eq, sql } from 'drizzle-orm';
import type {
  BootObservation,
  DeviceAttestationState,
  DeviceStateStore,
  RecordedAppraisal,
  ResultSink,
  StoredAppraisal,
} from '../attestation/stores.js';
import type { Db } from '../store/open-store.js';
import { attestationResults, devices } from '../store/schema.js';
import type { Registry, ResultOutcome } from './registry.js';

const FAMILIES = new Set(['stm32', 'nrf52', 'esp32']);

/** The attestation engine's view of a device, kept in the registry's `devices` rows (SQLite, survives restarts). */
export class SqliteDeviceStateStore implements DeviceStateStore {
  constructor(private readonly db: Db) {}

  get(deviceId: string): DeviceAttestationState | undefined {
    const d = this.db.select().from(devices).where(eq(devices.id, deviceId)).get();
    if (d === undefined) return undefined;
    const s: DeviceAttestationState = {};
    if (d.ueid !== null) s.ueid = fromHex(d.ueid);
    if (d.lastBootCount !== null) s.bootCount = d.lastBootCount;
    if (d.bootSeed !== null) s.bootSeed = fromHex(d.bootSeed);
    if (d.attestationKey !== null) s.attestationKey = fromHex(d.attestationKey);
    if (d.family !== null && FAMILIES.has(d.family)) s.boardFamily = d.family as 'stm32' | 'nrf52' | 'esp32';
    if (d.firmwareVersion !== null) s.firmwareVersion = d.firmwareVersion;
    return s;
  }

  /**
   * Keeps the boot high-water mark. [FP-5.2-3] The counter is never lowered here even if a caller asks (MAX), so a
   * rolled-back device cannot launder its counter through a later accepted appraisal.
   */
  recordBoot(deviceId: string, o: BootObservation): void {
    this.db
      .update(devices)
      .set({
        ueid: toHex(o.ueid),
        ...(o.bootCount === undefined
          ? {}
          : { lastBootCount: sql`MAX(COALESCE(${devices.lastBootCount}, 0), ${o.bootCount})` }),
        ...(o.bootSeed === undefined ? {} : { bootSeed: toHex(o.bootSeed) }),
        ...(o.rebooted ? { reboots: sql`${devices.reboots} + 1` } : {}),
        lastSeen: o.at,
        updatedAt: o.at,
      })
      .where(eq(devices.id, deviceId))
      .run();
  }

  /** Registers a PSA device's attestation public key (SPKI DER). [FP-5.3-1] */
  setAttestationKey(deviceId: string, spkiDer: Uint8Array): void {
    this.db
      .update(devices)
      .set({ attestationKey: toHex(spkiDer) })
      .where(eq(devices.id, deviceId))
      .run();
  }
}

/**
 * Where the attestation engine's results go: the registry's history (with quarantine applied in the same
 * transaction), then `onRecorded` for detection, metrics and publishing.
 */
export class SqliteResultSink implements ResultSink {
  constructor(
    private readonly db: Db,
    private readonly registry: Registry,
    private readonly onRecorded?: (result: RecordedAppraisal, outcome: ResultOutcome) => void,
  ) {}

  record(result: RecordedAppraisal): void {
    const outcome = this.registry.recordResult(result.deviceId, {
      resultId: result.resultId,
      status: result.status,
      reasons: result.reasons,
      jwt: result.jwt,
      nonceHex: result.nonceHex,
      evidenceDigest: result.evidenceDigest,
      at: result.appraisedAt,
      refused: result.refused,
    });
    this.onRecorded?.(result, outcome);
  }

  findByNonce(deviceId: string, nonceHex: string): StoredAppraisal | undefined {
    const r = this.db
      .select()
      .from(attestationResults)
      .where(and(eq(attestationResults.deviceId, deviceId), eq(attestationResults.nonce, nonceHex)))
      // The original appraisal of the nonce, not a later refusal of a replay of it (stores.ts).
      .orderBy(asc(attestationResults.createdAt), asc(attestationResults.id))
      .get();
    if (r === undefined) return undefined;
    return {
      deviceId,
      nonceHex,
      evidenceDigest: r.evidenceDigest ?? '',
      status: r.status as StoredAppraisal['status'],
      reasons: JSON.parse(r.reasons) as string[],
      jwt: r.jwt ?? '',
    };
  }
}
