import { randomBytes } from 'node:crypto';
import {
  type ChallengeReason,
  DEFAULT_CHALLENGE_TTL_MS,
  encodeChallenge,
  newChallenge,
  topics,
} from '@palisade/firmware-protocol';
import { type Clock, describeError, type Logger, toHex, ValidationError } from '@palisade/shared';
import type { NonceStore } from './stores.js';

/** Timers, injected so that tests drive time by hand. */
export interface Scheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers, unref'd: a pending re-challenge never keeps a stopping process alive. */
export const systemScheduler: Scheduler = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** What the manager reports; the gateway turns these into metrics, alerts and stored `none` results. */
export type ChallengeEvent =
  | { type: 'attestation.challenge_sent'; deviceId: string; nonceHex: string; reason: ChallengeReason; attempt: number }
  | {
      type: 'attestation.timeout';
      deviceId: string;
      nonceHex: string;
      /** 0 for the first challenge, 1..maxRetries for re-challenges. */
      attempt: number;
      /** No retry left: the device is unresponsive and gets status `none`, `appraisal.no_evidence` [FP-7.2-1]. */
      final: boolean;
      reason?: 'appraisal.no_evidence';
    }
  | {
      type: 'attestation.publish_failed';
      deviceId: string;
      nonceHex: string;
      error: { code: string; message: string };
    };

export interface ChallengeManagerOptions {
  /** Publishes a challenge (QoS 1, not retained, §3.1) on the device's challenge topic. */
  publish(topic: string, payload: Uint8Array): Promise<void>;
  nonces: NonceStore;
  clock: Clock;
  scheduler?: Scheduler;
  /** CSPRNG for nonces [FP-4.2-1]; also draws the periodic jitter. Default: `node:crypto` randomBytes. */
  random?: (n: number) => Uint8Array;
  /** Nonce lifetime, 1 000..300 000 ms; default 30 000 [FP-4.2-3]. */
  ttlMs?: number;
  /** Re-challenge period of a connected device; default 3 600 000 ms, 0 turns periodic challenges off [FP-7.3-1]. */
  periodMs?: number;
  /** Uniform jitter of the period, as a fraction; default 0.1 (±10 %) so devices do not answer in bursts. */
  jitter?: number;
  /**
   * Outstanding challenges at once; the rest wait in a FIFO queue [FP-7.3-2]. Default 256: enough to keep the
   * appraisal busy, small enough that a thousand devices reconnecting after a broker restart answer in waves instead
   * of all signing and being appraised at the same moment.
   */
  maxInFlight?: number;
  /** Re-challenges after a timeout, with back-off TTL, 2×TTL, 4×TTL; default 3 [FP-7.2-1]. */
  maxRetries?: number;
  onEvent?: (event: ChallengeEvent) => void;
  logger?: Logger;
}

interface DeviceSlot {
  /** The challenge awaiting evidence, holding one in-flight slot. */
  outstanding?: { nonceHex: string; reason: ChallengeReason; timer: unknown };
  /** A challenge waiting for a free slot (or for its retry delay). */
  queued?: ChallengeReason;
  retryTimer?: unknown;
  periodicTimer?: unknown;
  /** Re-challenges sent since the last answer. */
  attempt: number;
}

/**
 * Issues challenges [FP-7.1-1] [FP-7.3-1] [FP-7.3-2]: on connect, periodically with jitter, and on demand; at most
 * one outstanding or queued challenge per device; a bounded number outstanding overall; unanswered challenges time
 * out and are retried with back-off, then reported as `attestation.timeout` with `final: true` [FP-7.2-1].
 * The gateway calls {@link ChallengeManager.answered} once the evidence for a nonce has been appraised.
 */
export class ChallengeManager {
  private readonly devices = new Map<string, DeviceSlot>();
  private queue: string[] = [];
  private queueHead = 0;
  private inFlight = 0;
  private stopped = false;
  private readonly scheduler: Scheduler;
  private readonly random: (n: number) => Uint8Array;
  private readonly ttlMs: number;
  private readonly periodMs: number;
  private readonly jitter: number;
  private readonly maxInFlight: number;
  private readonly maxRetries: number;

  constructor(private readonly opts: ChallengeManagerOptions) {
    this.scheduler = opts.scheduler ?? systemScheduler;
    this.random = opts.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.ttlMs = checkInt('ttlMs', opts.ttlMs ?? DEFAULT_CHALLENGE_TTL_MS, 1_000, 300_000);
    this.periodMs = checkInt('periodMs', opts.periodMs ?? 3_600_000, 0, 30 * 86_400_000);
    this.jitter = opts.jitter ?? 0.1;
    if (!(this.jitter >= 0 && this.jitter < 1)) {
      throw new ValidationError('validation.challenge_jitter', 'jitter must be in [0, 1)');
    }
    this.maxInFlight = checkInt('maxInFlight', opts.maxInFlight ?? 256, 1, 100_000);
    this.maxRetries = checkInt('maxRetries', opts.maxRetries ?? 3, 0, 10);
  }

  /**
   * A device subscribed to its challenge topic: challenge it now (`connect`) [FP-7.1-1]. A reconnect starts afresh:
   * a challenge sent on the previous connection may never have arrived, so it no longer holds the device back.
   */
  connected(deviceId: string): void {
    if (this.stopped) return;
    this.disconnected(deviceId);
    this.devices.set(deviceId, { attempt: 0 });
    this.enqueue(deviceId, 'connect');
  }

  /** The device went away: cancel its timers and free its slot; an outstanding nonce simply expires. */
  disconnected(deviceId: string): void {
    const d = this.devices.get(deviceId);
    if (d === undefined) return;
    this.clearTimers(d);
    this.devices.delete(deviceId);
    if (d.outstanding !== undefined) this.release();
  }

  /**
   * An operator's (or a `re-attest` command's) request [FP-7.3-2]. Returns false when the device is not connected.
   * A device that already has a challenge outstanding or queued keeps that one (it answers only the newest anyway).
   */
  request(deviceId: string, reason: ChallengeReason = 'on-demand'): boolean {
    if (this.stopped || !this.devices.has(deviceId)) return false;
    this.enqueue(deviceId, reason);
    return true;
  }

  /**
   * Evidence for `nonceHex` was received and appraised: free the slot and plan the next periodic challenge.
   * Returns false when the nonce is not this device's outstanding one (late, unknown, or already timed out).
   */
  answered(deviceId: string, nonceHex: string): boolean {
    const d = this.devices.get(deviceId);
    if (d?.outstanding === undefined || d.outstanding.nonceHex !== nonceHex) return false;
    this.scheduler.clearTimeout(d.outstanding.timer);
    d.outstanding = undefined;
    d.attempt = 0;
    this.release();
    this.schedulePeriodic(deviceId, d);
    return true;
  }

  stats(): { devices: number; inFlight: number; queued: number } {
    return { devices: this.devices.size, inFlight: this.inFlight, queued: this.queue.length - this.queueHead };
  }

  /** Cancels every timer; no challenge is sent after this. */
  stop(): void {
    this.stopped = true;
    for (const d of this.devices.values()) this.clearTimers(d);
    this.devices.clear();
    this.queue = [];
    this.queueHead = 0;
  }

  private enqueue(deviceId: string, reason: ChallengeReason): void {
    const d = this.devices.get(deviceId);
    if (d === undefined || d.outstanding !== undefined || d.queued !== undefined) return;
    if (d.periodicTimer !== undefined) {
      this.scheduler.clearTimeout(d.periodicTimer);
      d.periodicTimer = undefined;
    }
    d.queued = reason;
    this.queue.push(deviceId);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queueHead < this.queue.length) {
      const deviceId = this.queue[this.queueHead++] as string;
      const d = this.devices.get(deviceId);
      // Disconnected or already served devices leave stale queue entries behind; skip them.
      if (d?.queued === undefined || d.outstanding !== undefined) continue;
      const reason = d.queued;
      d.queued = undefined;
      this.inFlight++;
      void this.issue(deviceId, d, reason);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private async issue(deviceId: string, d: DeviceSlot, reason: ChallengeReason): Promise<void> {
    const now = this.opts.clock.now();
    const challenge = newChallenge({ now, reason, ttlMs: this.ttlMs, random: this.random });
    const nonceHex = toHex(challenge.nonce);
    const timer = this.scheduler.setTimeout(() => this.noAnswer(deviceId, nonceHex), this.ttlMs);
    d.outstanding = { nonceHex, reason, timer };
    const attempt = d.attempt;
    try {
      // Remember the nonce before the device can possibly answer it [FP-4.2-2].
      await this.opts.nonces.issue(nonceHex, deviceId, now, now + this.ttlMs);
      await this.opts.publish(topics.challenge(deviceId), encodeChallenge(challenge));
      this.opts.onEvent?.({ type: 'attestation.challenge_sent', deviceId, nonceHex, reason, attempt });
    } catch (e) {
      const error = describeError(e);
      this.opts.logger?.warn({ deviceId, error }, 'challenge could not be sent');
      this.opts.onEvent?.({ type: 'attestation.publish_failed', deviceId, nonceHex, error });
      if (this.devices.get(deviceId) === d && d.outstanding?.nonceHex === nonceHex) {
        this.scheduler.clearTimeout(timer);
        this.noAnswer(deviceId, nonceHex);
      }
    }
  }

  /** TTL passed without evidence (or the challenge never left): retry with back-off, or give up. [FP-7.2-1] */
  private noAnswer(deviceId: string, nonceHex: string): void {
    const d = this.devices.get(deviceId);
    if (d?.outstanding === undefined || d.outstanding.nonceHex !== nonceHex) return;
    const reason = d.outstanding.reason;
    d.outstanding = undefined;
    this.release();
    const attempt = d.attempt;
    const final = attempt >= this.maxRetries;
    this.opts.onEvent?.(
      final
        ? { type: 'attestation.timeout', deviceId, nonceHex, attempt, final, reason: 'appraisal.no_evidence' }
        : { type: 'attestation.timeout', deviceId, nonceHex, attempt, final },
    );
    if (final) {
      d.attempt = 0;
      this.schedulePeriodic(deviceId, d);
      return;
    }
    d.attempt = attempt + 1;
    const delay = this.ttlMs * 2 ** attempt;
    d.retryTimer = this.scheduler.setTimeout(() => {
      d.retryTimer = undefined;
      if (this.devices.get(deviceId) === d) this.enqueue(deviceId, reason);
    }, delay);
  }

  private schedulePeriodic(deviceId: string, d: DeviceSlot): void {
    if (this.periodMs === 0 || this.stopped) return;
    if (d.periodicTimer !== undefined) this.scheduler.clearTimeout(d.periodicTimer);
    const u = this.uniform();
    const delay = Math.round(this.periodMs * (1 + this.jitter * (2 * u - 1)));
    d.periodicTimer = this.scheduler.setTimeout(() => {
      d.periodicTimer = undefined;
      if (this.devices.get(deviceId) === d) this.enqueue(deviceId, 'periodic');
    }, delay);
  }

  /** A uniform number in [0, 1) from the injected random source. */
  private uniform(): number {
    return Buffer.from(this.random(4)).readUInt32BE(0) / 2 ** 32;
  }

  private release(): void {
    this.inFlight--;
    this.pump();
  }

  private clearTimers(d: DeviceSlot): void {
    if (d.outstanding !== undefined) this.scheduler.clearTimeout(d.outstanding.timer);
    if (d.retryTimer !== undefined) this.scheduler.clearTimeout(d.retryTimer);
    if (d.periodicTimer !== undefined) this.scheduler.clearTimeout(d.periodicTimer);
  }
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ValidationError(`validation.challenge_${name}`, `${name} must be an integer in ${min}..${max}`, {
      details: { [name]: v },
    });
  }
  return v;
}
