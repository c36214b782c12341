import type { EarStatus } from '@palisade/shared';

/**
 * The storage the attestation engine needs, as small interfaces so that the engine does not care where state lives:
 * the gateway wires SQLite implementations (`gateway/src/store/`), tests and the offline CLI use the in-memory ones
 * of `memory-stores.ts`. Methods may answer synchronously (better-sqlite3) or with a promise.
 */

type MaybePromise<T> = T | Promise<T>;

/**
 * Outcome of spending a nonce: `ok` = issued to this device, unused, unexpired, and now spent; `expired` = issued to
 * this device but past its TTL (spent anyway, so that a late answer cannot be replayed later); `replayed` = already
 * spent; `wrong_device` = issued to another device (and left untouched for it); `unknown` = never issued (or
 * forgotten after its retention window, which is refused just the same).
 */
export type NonceOutcome = 'ok' | 'unknown' | 'expired' | 'replayed' | 'wrong_device';

/**
 * Issued challenge nonces. [FP-4.2-2] A nonce is accepted at most once, also across restarts; `consume` MUST be
 * atomic (one conditional update), so that two evidence messages racing for one nonce cannot both win.
 */
export interface NonceStore {
  issue(nonceHex: string, deviceId: string, issuedAt: number, expiresAt: number): MaybePromise<void>;
  consume(nonceHex: string, deviceId: string, now: number): MaybePromise<NonceOutcome>;
}

/** What the gateway knows about a device that the evidence itself does not prove. */
export interface DeviceAttestationState {
  /** The ueid (EAT) or PSA instance id seen in the device's first accepted evidence (or registered). */
  ueid?: Uint8Array;
  /** Highest boot counter accepted so far, and the boot seed that came with it. [FP-5.2-3] */
  bootCount?: number;
  bootSeed?: Uint8Array;
  /** Registered attestation public key (SPKI DER): a PSA device's IAK. [FP-5.3-1] */
  attestationKey?: Uint8Array;
  /** Registry facts for devices whose evidence does not carry them (PSA). [FP-5.3-6] */
  boardFamily?: 'stm32' | 'nrf52' | 'esp32';
  firmwareVersion?: string;
}

/** The boot state an appraisal accepted, to be kept as the device's new high-water mark. */
export interface BootObservation {
  ueid: Uint8Array;
  bootCount?: number;
  bootSeed?: Uint8Array;
  /** True when the boot seed changed since the last accepted evidence: the device rebooted. */
  rebooted: boolean;
  at: number;
}

export interface DeviceStateStore {
  get(deviceId: string): MaybePromise<DeviceAttestationState | undefined>;
  /** Records accepted boot state. Never called with a lower boot count than the stored one. */
  recordBoot(deviceId: string, observation: BootObservation): MaybePromise<void>;
}

/** A result as the sink keeps it, enough to answer a duplicate evidence message [FP-7.2-2]. */
export interface StoredAppraisal {
  deviceId: string;
  nonceHex: string;
  /** SHA-256 (hex) of the evidence token that was appraised. */
  evidenceDigest: string;
  status: EarStatus;
  reasons: string[];
  jwt: string;
}

export interface RecordedAppraisal extends StoredAppraisal {
  appraisedAt: number;
  resultId: string;
  refused: boolean;
}

/** Where results go: stored, kept as history, published (H3's store and broker). */
export interface ResultSink {
  /** `refused`: a freshness refusal that MUST NOT change the device's last result [FP-7.2-3]. */
  record(result: RecordedAppraisal): MaybePromise<void>;
  /**
   * The result of the original appraisal of a nonce, if any: a duplicate evidence message is answered with it without
   * appraising again [FP-7.2-2]. Return the first result recorded for the nonce, not a later refusal of a replay.
   */
  findByNonce?(deviceId: string, nonceHex: string): MaybePromise<StoredAppraisal | undefined>;
}
