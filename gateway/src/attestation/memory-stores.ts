import { ImplementationError } from '@palisade/shared';
import type {
  BootObservation,
  DeviceAttestationState,
  DeviceStateStore,
  NonceOutcome,
  NonceStore,
  RecordedAppraisal,
  ResultSink,
  StoredAppraisal,
} from './stores.js';

interface NonceEntry {
  deviceId: string;
  issuedAt: number;
  expiresAt: number;
  usedAt?: number;
}

/**
 * In-memory {@link NonceStore} for tests and the offline CLI. Not for the gateway: [FP-10-1] requires used nonces to
 * survive a restart, which only the SQLite store gives.
 */
export class MemoryNonceStore implements NonceStore {
  private readonly entries = new Map<string, NonceEntry>();

  issue(nonceHex: string, deviceId: string, issuedAt: number, expiresAt: number): void {
    if (this.entries.has(nonceHex)) {
      throw new ImplementationError('implementation.nonce_reissued', 'a nonce was issued twice: broken random source');
    }
    this.entries.set(nonceHex, { deviceId, issuedAt, expiresAt });
  }

  consume(nonceHex: string, deviceId: string, now: number): NonceOutcome {
    const e = this.entries.get(nonceHex);
    if (e === undefined) return 'unknown';
    if (e.deviceId !== deviceId) return 'wrong_device';
    if (e.usedAt !== undefined) return 'replayed';
    e.usedAt = now;
    return now <= e.expiresAt ? 'ok' : 'expired';
  }

  /** Forgets nonces expired or used before `before`; a forgotten nonce is `unknown`, refused like a replay. */
  purge(before: number): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.expiresAt < before || (e.usedAt !== undefined && e.usedAt < before)) {
        this.entries.delete(k);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** In-memory {@link DeviceStateStore}; `register` stands in for the device registry. */
export class MemoryDeviceStateStore implements DeviceStateStore {
  private readonly states = new Map<string, DeviceAttestationState>();
  readonly reboots: { deviceId: string; at: number }[] = [];

  register(deviceId: string, state: DeviceAttestationState): void {
    this.states.set(deviceId, { ...this.states.get(deviceId), ...state });
  }

  get(deviceId: string): DeviceAttestationState | undefined {
    const s = this.states.get(deviceId);
    return s === undefined ? undefined : { ...s };
  }

  recordBoot(deviceId: string, o: BootObservation): void {
    const s: DeviceAttestationState = { ...this.states.get(deviceId), ueid: new Uint8Array(o.ueid) };
    if (o.bootCount !== undefined) s.bootCount = o.bootCount;
    if (o.bootSeed !== undefined) s.bootSeed = new Uint8Array(o.bootSeed);
    this.states.set(deviceId, s);
    if (o.rebooted) this.reboots.push({ deviceId, at: o.at });
  }
}

/** In-memory {@link ResultSink}: keeps every result, newest last. */
export class MemoryResultSink implements ResultSink {
  readonly results: RecordedAppraisal[] = [];

  record(result: RecordedAppraisal): void {
    this.results.push(result);
  }

  findByNonce(deviceId: string, nonceHex: string): StoredAppraisal | undefined {
    return this.results.find((r) => r.deviceId === deviceId && r.nonceHex === nonceHex);
  }
}
