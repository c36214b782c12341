import { type Clock, type EarStatus, type Logger, silentLogger } from '@palisade/shared';
import { and, isNotNull, lt, ne } from 'drizzle-orm';
import type { Db } from '../store/open-store.js';
import { type AlertRow, type DeviceRow, devices } from '../store/schema.js';
import type { AlertInput, AlertStore, RaiseOutcome } from './alerts.js';
import { RateBaseline, type RateBaselineOptions } from './rate-baseline.js';

export interface DetectorOptions {
  clock: Clock;
  logger?: Logger;
  /** Authentication failures from one address within `authFailureWindowMs` that raise an alert. Default 5. */
  authFailureThreshold?: number;
  /** Default 60 s. */
  authFailureWindowMs?: number;
  /** Certificates expiring within this horizon raise `cert_expiring`. Default 30 days (issue 3). */
  certExpiryHorizonMs?: number;
  rate?: RateBaselineOptions;
  /** Addresses and devices tracked at most (oldest forgotten first), so a scan cannot grow memory. Default 10 000. */
  maxTracked?: number;
  /** Called for every raised alert (metrics, logs, live panel). */
  onAlert?: (outcome: RaiseOutcome) => void;
}

/** Appraisal reasons that mean more than "attestation failed" and get their own alert as well. */
const REASON_ALERTS: Readonly<Record<string, AlertInput['type']>> = {
  'appraisal.rollback': 'boot_rollback',
  'appraisal.boot_seed_reused': 'boot_rollback',
  'appraisal.clone_suspected': 'suspected_clone',
};

const DAY = 86_400_000;

/**
 * Local detection: turns what the broker, the appraisal and the registry observe into de-duplicated alerts.
 * Stateless about the past beyond small bounded windows (auth failures per address, live connections, boot seeds,
 * rate baselines); everything durable is in the alert store. Time comes from the injected clock.
 */
export class Detector {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly authThreshold: number;
  private readonly authWindowMs: number;
  private readonly certHorizonMs: number;
  private readonly maxTracked: number;
  private readonly onAlert: ((o: RaiseOutcome) => void) | undefined;
  private readonly authFailures = new Map<string, number[]>();
  /** deviceId → connectionId → remote address */
  private readonly connections = new Map<string, Map<string, string>>();
  /** deviceId → boot seeds seen, most recent last (at most 8) */
  private readonly seeds = new Map<string, string[]>();
  private readonly rates: RateBaseline;

  constructor(
    private readonly db: Db,
    private readonly alerts: AlertStore,
    options: DetectorOptions,
  ) {
    this.clock = options.clock;
    this.log = (options.logger ?? silentLogger).child({ module: 'detection' });
    this.authThreshold = options.authFailureThreshold ?? 5;
    this.authWindowMs = options.authFailureWindowMs ?? 60_000;
    this.certHorizonMs = options.certExpiryHorizonMs ?? 30 * DAY;
    this.maxTracked = options.maxTracked ?? 10_000;
    this.onAlert = options.onAlert;
    this.rates = new RateBaseline({ ...options.rate, maxTracked: this.maxTracked });
  }

  private raise(input: AlertInput): AlertRow {
    const outcome = this.alerts.raise(input);
    if (outcome.created) {
      this.log.warn({ alert: input.type, deviceId: input.deviceId, details: input.details }, 'alert raised');
    }
    this.onAlert?.(outcome);
    return outcome.alert;
  }

  /** An appraisal finished. Every non-affirming result raises `attestation_failed` keyed by its first reason. */
  attestationResult(deviceId: string, status: EarStatus, reasons: readonly string[], resultId?: string): AlertRow[] {
    if (status === 'affirming') return [];
    const reason = reasons[0] ?? `attestation.${status}`;
    const raised = [
      this.raise({
        type: 'attestation_failed',
        severity: status === 'contraindicated' ? 'critical' : 'warning',
        deviceId,
        dedupKey: `attestation_failed:${deviceId}:${reason}`,
        details: { status, reasons, resultId },
      }),
    ];
    for (const type of new Set(reasons.map((r) => REASON_ALERTS[r]).filter((t) => t !== undefined))) {
      raised.push(this.raise({ type, severity: 'critical', deviceId, details: { reasons, resultId } }));
    }
    return raised;
  }

  firmwareChanged(
    deviceId: string,
    change: {
      fromVersion: string | null;
      toVersion: string | null;
      fromMeasurement: string | null;
      toMeasurement: string | null;
    },
  ): AlertRow {
    return this.raise({ type: 'firmware_changed', severity: 'warning', deviceId, details: change });
  }

  /**
   * The boot seed of accepted evidence. [FP-5.2-3] A genuine device draws a fresh seed at every boot and never
   * returns to an old one; a seed that comes back after another was seen means two boards take turns with one
   * identity. (A counter going backwards is the appraisal's `appraisal.rollback`, alerted in `attestationResult`.)
   */
  bootSeedObserved(deviceId: string, seedHex: string): AlertRow | undefined {
    const seen = this.remember(this.seeds, deviceId, () => []);
    if (seen[seen.length - 1] === seedHex) return undefined;
    const returning = seen.includes(seedHex);
    seen.push(seedHex);
    if (seen.length > 8) seen.shift();
    if (!returning) return undefined;
    return this.raise({
      type: 'suspected_clone',
      severity: 'critical',
      deviceId,
      details: { signal: 'interleaved_boot_seeds' },
    });
  }

  /**
   * A device's connection was authenticated. One identity on two live connections from different addresses is a
   * suspected clone; from the same address it is the device reconnecting before its old socket timed out.
   */
  connected(deviceId: string, connectionId: string, address: string): AlertRow | undefined {
    const live = this.remember(this.connections, deviceId, () => new Map<string, string>());
    const others = [...live.entries()].filter(([id, addr]) => id !== connectionId && addr !== address);
    live.set(connectionId, address);
    if (others.length === 0) return undefined;
    return this.raise({
      type: 'suspected_clone',
      severity: 'critical',
      deviceId,
      details: { signal: 'concurrent_connections', addresses: [address, ...others.map(([, a]) => a)] },
    });
  }

  disconnected(deviceId: string, connectionId: string): void {
    const live = this.connections.get(deviceId);
    live?.delete(connectionId);
    if (live?.size === 0) this.connections.delete(deviceId);
  }

  /** The broker refused a second connection for an identity (its own conflict check). */
  identityConflict(deviceId: string, details: Record<string, unknown>): AlertRow {
    return this.raise({
      type: 'suspected_clone',
      severity: 'critical',
      deviceId,
      details: { signal: 'identity_conflict', ...details },
    });
  }

  /** A client proved a manufacturer certificate (or presented an id) the registry does not accept. */
  unknownDevice(deviceId: string | null, address: string, why: string): AlertRow {
    return this.raise({
      type: 'unknown_device',
      severity: 'warning',
      deviceId,
      dedupKey: `unknown_device:${deviceId ?? address}`,
      details: { address, why },
    });
  }

  /** Repeated authentication failures from one address within the window raise `auth_failures`. */
  authFailure(address: string, details: Record<string, unknown> = {}): AlertRow | undefined {
    const now = this.clock.now();
    const times = this.remember(this.authFailures, address, () => []);
    times.push(now);
    while (times.length > 0 && (times[0] ?? now) <= now - this.authWindowMs) times.shift();
    if (times.length > this.authThreshold * 4) times.splice(0, times.length - this.authThreshold * 4);
    if (times.length < this.authThreshold) return undefined;
    return this.raise({
      type: 'auth_failures',
      severity: 'warning',
      dedupKey: `auth_failures:${address}`,
      details: { address, failures: times.length, windowMs: this.authWindowMs, ...details },
    });
  }

  /** One message from a device; raises `message_rate_anomaly` when its rate leaves its own baseline. */
  message(deviceId: string): AlertRow | undefined {
    const anomaly = this.rates.observe(deviceId, this.clock.now());
    if (anomaly === undefined) return undefined;
    return this.raise({ type: 'message_rate_anomaly', severity: 'warning', deviceId, details: { ...anomaly } });
  }

  /** A device published a message that does not decode (CBOR or schema): counted per device. */
  malformedMessage(deviceId: string, kind: string, code: string): AlertRow {
    return this.raise({
      type: 'payload_anomaly',
      severity: 'warning',
      deviceId,
      details: { kind, code },
    });
  }

  /** The broker refused a device's publish for exceeding its hard message-rate limit (a flood). */
  rateLimited(deviceId: string): AlertRow {
    return this.raise({
      type: 'message_rate_anomaly',
      severity: 'warning',
      deviceId,
      details: { signal: 'broker_rate_limit' },
    });
  }

  /** Sweeps the registry for certificates expiring within the horizon (run at start and daily). */
  certificateSweep(): AlertRow[] {
    const now = this.clock.now();
    const expiring = this.db
      .select()
      .from(devices)
      .where(
        and(
          isNotNull(devices.certNotAfter),
          lt(devices.certNotAfter, now + this.certHorizonMs),
          ne(devices.enrollment, 'revoked'),
        ),
      )
      .all();
    return expiring.flatMap((d) => this.certificateCheck(d) ?? []);
  }

  /** One device's certificate (at connect, so a device does not wait for the daily sweep). */
  certificateCheck(
    d: Pick<DeviceRow, 'id' | 'certNotAfter' | 'certFingerprint' | 'certSerial' | 'enrollment'>,
  ): AlertRow | undefined {
    const now = this.clock.now();
    if (d.certNotAfter === null || d.certNotAfter >= now + this.certHorizonMs || d.enrollment === 'revoked') {
      return undefined;
    }
    return this.raise({
      type: 'cert_expiring',
      severity: d.certNotAfter <= now ? 'critical' : 'warning',
      deviceId: d.id,
      dedupKey: `cert_expiring:${d.id}:${d.certFingerprint ?? d.certSerial ?? ''}`,
      details: {
        notAfter: new Date(d.certNotAfter).toISOString(),
        daysLeft: Math.floor((d.certNotAfter - now) / DAY),
        serial: d.certSerial,
      },
    });
  }

  /** Map access that keeps at most `maxTracked` keys, forgetting the least recently inserted. */
  private remember<V>(map: Map<string, V>, key: string, init: () => V): V {
    let v = map.get(key);
    if (v === undefined) {
      if (map.size >= this.maxTracked) {
        const oldest = map.keys().next().value;
        if (oldest !== undefined) map.delete(oldest);
      }
      v = init();
      map.set(key, v);
    }
    return v;
  }
}
