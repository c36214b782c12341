import { fromHex, toHex } from '@palisade/shared';
import type Database from 'better-sqlite3';
import { and, asc, eq } from 'drizzle-orm';
import type {
  BootObservation,
  DeviceAttestationState,
  DeviceStateStore,
  RecordedAppraisal,
  ResultSink,
  StoredAppraisal,
} from '../attestation/stores.js';
import type { Db } from '../store/open-store.js';
import { type RawStatements, rawStatements } from '../store/raw-rows.js';
import { attestationResults } from '../store/schema.js';
import type { Registry, ResultOutcome } from './registry.js';

const FAMILIES = new Set(['stm32', 'nrf52', 'esp32']);

/** The attestation engine's view of a device, kept in the registry's `devices` rows (SQLite, survives restarts). */
export class SqliteDeviceStateStore implements DeviceStateStore {
  // Read and written once per appraisal: compiled statements, not the query builder (see store/raw-rows.ts).
  private readonly raw: RawStatements;
  private readonly bootStmt: Database.Statement<
    [string, number | null, number | null, string | null, number, number, number, string]
  >;

  constructor(db: Db) {
    this.raw = rawStatements(db.$client);
    this.bootStmt = db.$client.prepare(
      `UPDATE devices SET ueid = ?,
         last_boot_count = CASE WHEN ? IS NULL THEN last_boot_count ELSE MAX(COALESCE(last_boot_count, 0), ?) END,
         boot_seed = COALESCE(?, boot_seed), reboots = reboots + ?, last_seen = ?, updated_at = ?
       WHERE id = ?`,
    );
  }

  get(deviceId: string): DeviceAttestationState | undefined {
    const d = this.raw.device(deviceId);
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
    const count = o.bootCount ?? null;
    const seed = o.bootSeed === undefined ? null : toHex(o.bootSeed);
    this.bootStmt.run(toHex(o.ueid), count, count, seed, o.rebooted ? 1 : 0, o.at, o.at, deviceId);
  }

  /** Registers a PSA device's attestation public key (SPKI DER). [FP-5.3-1] */
  setAttestationKey(deviceId: string, spkiDer: Uint8Array): void {
    this.raw.updateDevice(deviceId, { attestationKey: toHex(spkiDer) });
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
