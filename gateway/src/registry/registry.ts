import {
  assertDeviceId,
  type Clock,
  ConflictError,
  type EarStatus,
  type Logger,
  NotFoundError,
  newId,
  silentLogger,
} from '@palisade/shared';
import type Database from 'better-sqlite3';
import { and, desc, eq, type SQL } from 'drizzle-orm';
import { recordAudit, recordOutbox, type Tx } from '../store/journal.js';
import type { Db } from '../store/open-store.js';
import { type RawStatements, rawStatements } from '../store/raw-rows.js';
import {
  type AttestationResultRow,
  attestationResults,
  type DeviceRow,
  devices,
  type EnrollmentSource,
  type EnrollmentState,
} from '../store/schema.js';

/** What the broker learned from a device's certificate (H2's validator output, flattened). */
export interface CertificateFacts {
  serial: string;
  subject: string;
  /** ms since the epoch */
  notAfter: number;
  /** SHA-256 of the DER certificate, hex. */
  fingerprint: string;
}

export interface AdmitInput {
  deviceId: string;
  via: EnrollmentSource;
  family?: string;
  cert?: CertificateFacts;
}

export interface AdmitOutcome {
  device: DeviceRow;
  created: boolean;
  /** True when the certificate differs from the one on record (re-provisioned device, or an impostor). */
  certChanged: boolean;
}

export interface ResultInput {
  resultId?: string;
  status: EarStatus;
  reasons: readonly string[];
  jwt?: string | null;
  nonceHex?: string | null;
  evidenceDigest?: string | null;
  at?: number;
  /**
   * A freshness refusal (unknown, expired or spent nonce): kept as history but it MUST NOT change the device's last
   * result nor its quarantine [FP-7.2-3], or anyone could quarantine a device by replaying its old evidence.
   */
  refused?: boolean;
}

export interface ResultOutcome {
  resultId: string;
  quarantined: boolean;
  released: boolean;
}

export interface RegistryOptions {
  clock: Clock;
  logger?: Logger;
  /**
   * Device ids enrolled without operator approval (`enrollment.allowList` in the config). Every other device that
   * proves a manufacturer certificate waits in `pending` until an operator approves it.
   */
  allowList?: Iterable<string>;
  /** Called after every committed change of a device row (keeps the broker's admission cache current). */
  onChange?: (device: DeviceRow) => void;
}

/** The actor recorded when the gateway itself acts (auto-quarantine on a failed appraisal). */
export const SYSTEM_ACTOR = 'system';
/**
 * The actor of quarantines imposed by local detection (suspected clone, flood). Unlike {@link SYSTEM_ACTOR}'s, they
 * are not lifted by an affirming result: a clone holds a genuine key and attests fine, so a human must look.
 */
export const DETECTION_ACTOR = 'system:detection';
/** Quarantine reason of a device that has not yet had an affirming result [FP-7.4-3]. */
export const NEVER_AFFIRMED = 'attestation.never_affirmed';

/**
 * The device registry: enrollment (pending → approved → revoked), quarantine, and the facts the gateway keeps per
 * device. Every state change writes its audit row and its outbox row in the same transaction.
 */
export class Registry {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly allowList: ReadonlySet<string>;
  private readonly onChange: ((device: DeviceRow) => void) | undefined;
  private readonly sqlite: Database.Database;
  /** The appraisal's writes run on compiled statements (see store/raw-rows.ts), not through the query builder. */
  private readonly raw: RawStatements;
  private readonly recordFirmwareTx: Database.Transaction<Registry['recordFirmwareIn']>;
  private readonly recordResultTx: Database.Transaction<Registry['recordResultIn']>;

  constructor(
    private readonly db: Db,
    options: RegistryOptions,
  ) {
    this.clock = options.clock;
    this.log = (options.logger ?? silentLogger).child({ module: 'registry' });
    this.allowList = new Set(options.allowList ?? []);
    this.onChange = options.onChange;
    this.sqlite = db.$client;
    this.raw = rawStatements(this.sqlite);
    this.recordFirmwareTx = this.sqlite.transaction(this.recordFirmwareIn.bind(this));
    this.recordResultTx = this.sqlite.transaction(this.recordResultIn.bind(this));
  }

  private changed<T extends { device: DeviceRow } | DeviceRow>(result: T): T {
    this.onChange?.('device' in result ? result.device : result);
    return result;
  }

  get(deviceId: string): DeviceRow | undefined {
    return this.raw.device(deviceId);
  }

  require(deviceId: string): DeviceRow {
    const d = this.get(deviceId);
    if (d === undefined)
      throw new NotFoundError('not_found.device', `no device ${deviceId}`, { details: { deviceId } });
    return d;
  }

  list(filter: { enrollment?: EnrollmentState; quarantined?: boolean } = {}): DeviceRow[] {
    const conds: SQL[] = [];
    if (filter.enrollment !== undefined) conds.push(eq(devices.enrollment, filter.enrollment));
    if (filter.quarantined !== undefined) conds.push(eq(devices.quarantined, filter.quarantined));
    return this.db
      .select()
      .from(devices)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(devices.id)
      .all();
  }

  isAllowListed(deviceId: string): boolean {
    return this.allowList.has(deviceId);
  }

  /**
   * A device authenticated (certificate chained to a manufacturer root, or credentials): creates its record on first
   * sight, approved if allow-listed, else pending; afterwards refreshes the certificate facts and last-seen time.
   */
  admit(input: AdmitInput): AdmitOutcome {
    const id = assertDeviceId(input.deviceId);
    const now = this.clock.now();
    const outcome = this.db.transaction((tx) => {
      const existing = tx.select().from(devices).where(eq(devices.id, id)).get();
      const cert = input.cert;
      const certCols = cert
        ? {
            certSerial: cert.serial,
            certSubject: cert.subject,
            certNotAfter: cert.notAfter,
            certFingerprint: cert.fingerprint,
          }
        : {};
      if (existing === undefined) {
        const allowed = this.allowList.has(id);
        const row = tx
          .insert(devices)
          .values({
            id,
            family: input.family ?? null,
            enrollment: allowed ? 'approved' : 'pending',
            enrolledVia: allowed ? 'allow-list' : input.via,
            // [FP-7.4-3] A device never seen affirming is quarantined until its first affirming result.
            quarantined: true,
            quarantineReason: NEVER_AFFIRMED,
            quarantinedBy: SYSTEM_ACTOR,
            quarantinedAt: now,
            lastSeen: now,
            createdAt: now,
            updatedAt: now,
            ...certCols,
          })
          .returning()
          .get();
        recordAudit(tx, {
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'device.enrol',
          deviceId: id,
          details: { enrollment: row.enrollment, via: row.enrolledVia },
        });
        recordOutbox(tx, { at: now, kind: 'device', entityId: id, payload: row });
        this.log.info({ deviceId: id, enrollment: row.enrollment }, 'device enrolled');
        return { device: row, created: true, certChanged: false };
      }
      const certChanged =
        cert !== undefined && existing.certFingerprint !== null && existing.certFingerprint !== cert.fingerprint;
      const row = tx
        .update(devices)
        .set({ lastSeen: now, updatedAt: now, ...certCols, ...(input.family ? { family: input.family } : {}) })
        .where(eq(devices.id, id))
        .returning()
        .get();
      if (certChanged) {
        recordAudit(tx, {
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'device.certificate_changed',
          deviceId: id,
          details: { from: existing.certFingerprint, to: cert?.fingerprint },
        });
        recordOutbox(tx, { at: now, kind: 'device', entityId: id, payload: row });
      }
      return { device: row, created: false, certChanged };
    });
    return this.changed(outcome);
  }

  /** Operator enrolment ahead of first connection (CLI `devices approve` of an unseen id). */
  approve(deviceId: string, actor: string): DeviceRow {
    const id = assertDeviceId(deviceId);
    return this.change(id, actor, 'device.approve', (d) => {
      if (d?.enrollment === 'revoked') {
        throw new ConflictError('conflict.device_revoked', `device ${id} is revoked; revocation is final`);
      }
      return { enrollment: 'approved' };
    });
  }

  revoke(deviceId: string, actor: string, reason = 'operator'): DeviceRow {
    return this.change(
      deviceId,
      actor,
      'device.revoke',
      (d) => {
        if (d === undefined) throw new NotFoundError('not_found.device', `no device ${deviceId}`);
        return { enrollment: 'revoked' };
      },
      { reason },
    );
  }

  quarantine(deviceId: string, actor: string, reason: string): DeviceRow {
    return this.change(
      deviceId,
      actor,
      'device.quarantine',
      (d) => {
        if (d === undefined) throw new NotFoundError('not_found.device', `no device ${deviceId}`);
        return { quarantined: true, quarantineReason: reason, quarantinedBy: actor, quarantinedAt: this.clock.now() };
      },
      { reason },
    );
  }

  release(deviceId: string, actor: string): DeviceRow {
    return this.change(deviceId, actor, 'device.release', (d) => {
      if (d === undefined) throw new NotFoundError('not_found.device', `no device ${deviceId}`);
      return { quarantined: false, quarantineReason: null, quarantinedBy: null, quarantinedAt: null };
    });
  }

  touch(deviceId: string, at: number = this.clock.now()): void {
    this.raw.updateDevice(deviceId, { lastSeen: at });
  }

  /**
   * Facts a device reports about itself (its `status` message) fill only what the registry does not know yet. A PSA
   * token names neither family nor version [FP-5.3-6], so the appraisal takes them from here; once known they change
   * only through appraised evidence, so a device cannot talk its way out of a rollback check.
   */
  fillReportedFacts(deviceId: string, facts: { family?: string; version?: string }): void {
    if (facts.family === undefined && facts.version === undefined) return;
    const set: Partial<DeviceRow> = {};
    const d = this.get(deviceId);
    if (d === undefined) return;
    if (d.family === null && facts.family !== undefined) set.family = facts.family;
    if (d.firmwareVersion === null && facts.version !== undefined) set.firmwareVersion = facts.version;
    if (Object.keys(set).length === 0) return;
    this.raw.updateDevice(deviceId, set);
  }

  /**
   * Records what the device runs now. Returns the previous version and measurement when either changed since the
   * last record, for the `firmware_changed` alert; null on first sight or no change.
   */
  recordFirmware(
    deviceId: string,
    fw: { family?: string; version?: string; measurement?: string },
  ): { previousVersion: string | null; previousMeasurement: string | null } | null {
    return this.recordFirmwareTx(deviceId, fw, this.clock.now());
  }

  private recordFirmwareIn(
    deviceId: string,
    fw: { family?: string; version?: string; measurement?: string },
    now: number,
  ): { previousVersion: string | null; previousMeasurement: string | null } | null {
    const d = this.raw.device(deviceId);
    if (d === undefined) return null;
    const version = fw.version ?? d.firmwareVersion;
    const measurement = fw.measurement ?? d.measurement;
    const family = fw.family ?? d.family;
    const changed =
      (d.firmwareVersion !== null && version !== d.firmwareVersion) ||
      (d.measurement !== null && measurement !== d.measurement);
    if (version === d.firmwareVersion && measurement === d.measurement && family === d.family) return null;
    const set = { firmwareVersion: version, measurement, family, updatedAt: now };
    this.raw.updateDevice(deviceId, set);
    if (changed) {
      this.raw.audit({
        at: now,
        actor: SYSTEM_ACTOR,
        action: 'device.firmware_changed',
        deviceId,
        details: { from: { version: d.firmwareVersion, measurement: d.measurement }, to: { version, measurement } },
      });
    }
    // Every change of what the device runs reaches the cloud, the first measurement too (its firmware cohort).
    this.raw.outbox({ at: now, kind: 'device', entityId: deviceId, payload: { ...d, ...set } });
    return changed ? { previousVersion: d.firmwareVersion, previousMeasurement: d.measurement } : null;
  }

  /**
   * Stores an attestation result as history and applies quarantine [FP-7.4-1]: a result that is not affirming
   * quarantines the device; an affirming one releases a quarantine the gateway imposed, but never one an operator
   * imposed by hand.
   */
  recordResult(deviceId: string, r: ResultInput): ResultOutcome {
    const at = r.at ?? this.clock.now();
    const resultId = r.resultId ?? newId('ar', at);
    const { outcome, row } = this.recordResultTx(deviceId, r, at, resultId);
    if (row !== undefined) this.changed(row);
    return outcome;
  }

  private recordResultIn(
    deviceId: string,
    r: ResultInput,
    at: number,
    resultId: string,
  ): { outcome: ResultOutcome; row?: DeviceRow } {
    const d = this.raw.device(deviceId);
    if (d === undefined) throw new NotFoundError('not_found.device', `no device ${deviceId}`);
    const result: AttestationResultRow = {
      id: resultId,
      deviceId,
      status: r.status,
      reasons: JSON.stringify(r.reasons),
      jwt: r.jwt ?? null,
      nonce: r.nonceHex ?? null,
      evidenceDigest: r.evidenceDigest ?? null,
      createdAt: at,
    };
    this.raw.insertResult(result);
    this.raw.outbox({ at, kind: 'attestation_result', entityId: resultId, payload: result });
    if (r.refused === true) return { outcome: { resultId, quarantined: false, released: false } };
    let quarantined = false;
    let released = false;
    const set: Partial<DeviceRow> = { lastStatus: r.status, lastResultId: resultId, lastSeen: at, updatedAt: at };
    if (r.status !== 'affirming' && !d.quarantined) {
      const reason = r.reasons[0] ?? `attestation.${r.status}`;
      Object.assign(set, {
        quarantined: true,
        quarantineReason: reason,
        quarantinedBy: SYSTEM_ACTOR,
        quarantinedAt: at,
      });
      this.raw.audit({ at, actor: SYSTEM_ACTOR, action: 'device.quarantine', deviceId, details: { reason, resultId } });
      quarantined = true;
    } else if (r.status !== 'affirming' && d.quarantinedBy === SYSTEM_ACTOR) {
      // Still quarantined by the gateway: the reason becomes the latest failure (no longer "never affirmed").
      set.quarantineReason = r.reasons[0] ?? `attestation.${r.status}`;
    } else if (r.status === 'affirming' && d.quarantined && d.quarantinedBy === SYSTEM_ACTOR) {
      Object.assign(set, { quarantined: false, quarantineReason: null, quarantinedBy: null, quarantinedAt: null });
      this.raw.audit({ at, actor: SYSTEM_ACTOR, action: 'device.release', deviceId, details: { resultId } });
      released = true;
    }
    this.raw.updateDevice(deviceId, set);
    const row: DeviceRow = { ...d, ...set };
    this.raw.outbox({ at, kind: 'device', entityId: deviceId, payload: row });
    if (quarantined) this.log.warn({ deviceId, reasons: r.reasons }, 'device quarantined after appraisal');
    return { outcome: { resultId, quarantined, released }, row };
  }

  history(deviceId: string, limit = 50): AttestationResultRow[] {
    return this.db
      .select()
      .from(attestationResults)
      .where(eq(attestationResults.deviceId, deviceId))
      .orderBy(desc(attestationResults.createdAt), desc(attestationResults.id))
      .limit(limit)
      .all();
  }

  private change(
    deviceId: string,
    actor: string,
    action: string,
    patch: (d: DeviceRow | undefined) => Partial<DeviceRow>,
    details: Record<string, unknown> = {},
  ): DeviceRow {
    const now = this.clock.now();
    const row = this.db.transaction((tx: Tx) => {
      const d = tx.select().from(devices).where(eq(devices.id, deviceId)).get();
      const set = { ...patch(d), updatedAt: now };
      const row =
        d === undefined
          ? tx
              .insert(devices)
              .values({
                id: deviceId,
                enrolledVia: 'operator',
                createdAt: now,
                quarantined: true,
                quarantineReason: NEVER_AFFIRMED,
                quarantinedBy: SYSTEM_ACTOR,
                quarantinedAt: now,
                ...set,
              })
              .returning()
              .get()
          : tx.update(devices).set(set).where(eq(devices.id, deviceId)).returning().get();
      recordAudit(tx, { at: now, actor, action, deviceId, details });
      recordOutbox(tx, { at: now, kind: 'device', entityId: deviceId, payload: row });
      this.log.info({ deviceId, actor, action }, 'device changed');
      return row;
    });
    return this.changed(row);
  }
}
