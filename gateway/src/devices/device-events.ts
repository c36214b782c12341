import { createHash } from 'node:crypto';
import {
  decodeEvidenceMessage,
  decodeStatus,
  decodeTelemetry,
  encodeResult,
  topics,
} from '@palisade/firmware-protocol';
import { describeError, EAR_SUBMOD, fromHex, type Logger, toHex } from '@palisade/shared';
import type { AppraisalResult, Appraiser } from '../attestation/appraiser.js';
import type { ChallengeEvent, ChallengeManager } from '../attestation/challenge-manager.js';
import type { BrokerHooks, BrokerMessage, DeviceConnectionInfo } from '../broker/index.js';
import type { Detector } from '../detection/index.js';
import type { GatewayMetrics } from '../metrics/index.js';
import {
  DETECTION_ACTOR,
  type DeviceGate,
  measurementDigest,
  type Registry,
  type SqliteDeviceStateStore,
} from '../registry/index.js';
import type { EnrollmentSource } from '../store/index.js';
import type { TelemetryWriter } from '../telemetry/index.js';

export interface DeviceEventsDeps {
  registry: Registry;
  gate: DeviceGate;
  deviceStates: SqliteDeviceStateStore;
  detector: Detector;
  appraiser: Appraiser;
  challenges: () => ChallengeManager;
  telemetry: TelemetryWriter;
  metrics: GatewayMetrics;
  /** QoS 1 publish to a device through the broker. */
  publish(topic: string, payload: Uint8Array): Promise<void>;
  disconnect(deviceId: string): void;
  /** Appraisals running or waiting beyond which new evidence is dropped (a flood must not queue without bound). */
  maxPendingAppraisals: number;
  logger: Logger;
}

/** How long after connecting a device may take to announce `online` before it is challenged regardless. */
const ANNOUNCE_GRACE_MS = 4_000;

const REASON_CODE = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;

function enrollmentSource(info: DeviceConnectionInfo): EnrollmentSource {
  if (info.authMethod === 'certificate') return 'manufacturer-root';
  return info.authMethod === 'password' ? 'credentials' : 'anonymous';
}

/**
 * What happens when devices connect, publish and go away: the broker's hooks, routed to the registry, the attestation
 * engine, detection and telemetry. Hooks are synchronous and never throw (the broker relies on it); appraisals run
 * in the background, bounded by `maxPendingAppraisals`.
 */
export class DeviceEvents {
  private pending = 0;
  private connectionCounter = 0;
  private readonly connectionIds = new WeakMap<DeviceConnectionInfo, string>();
  private readonly log: Logger;
  /** Connected devices that have not announced `online` yet, with the timer that challenges them anyway. */
  private readonly unannounced = new Map<string, NodeJS.Timeout>();
  /**
   * The TLS certificate chain of each connected device. Tokens without an x5chain (PSA) are verified with its key,
   * and the appraisal re-validates it each time, so a certificate that expired or was revoked while the device stayed
   * connected stops being trusted [FP-5.3-1].
   */
  private readonly chains = new Map<string, Uint8Array[]>();

  constructor(private readonly d: DeviceEventsDeps) {
    this.log = d.logger.child({ module: 'devices' });
  }

  get pendingAppraisals(): number {
    return this.pending;
  }

  /** Waits (at most `ms`) for running appraisals to finish, before the store closes. */
  async drain(ms = 2_000): Promise<void> {
    for (let waited = 0; this.pending > 0 && waited < ms; waited += 20) await new Promise((r) => setTimeout(r, 20));
  }

  /** The broker hooks (the publish gate is the registry's view of enrollment and quarantine). */
  hooks(): BrokerHooks {
    return {
      isPublishAllowed: (deviceId, kind) => this.d.gate.isPublishAllowed(deviceId, kind),
      onMessage: (m) => this.onMessage(m),
      onDeviceConnected: (info) => this.connected(info),
      onDeviceDisconnected: (info) => this.disconnected(info),
      onAuthFailure: (f) => {
        this.d.detector.authFailure(f.address, { reason: f.reason, clientId: f.clientId, transport: f.transport });
      },
      onIdentityConflict: (c) => {
        this.d.detector.identityConflict(c.deviceId, { existing: c.existing, incoming: c.incoming });
        this.quarantineByDetection(c.deviceId, 'detection.clone_suspected');
      },
      onAccessDenied: (denied) => {
        this.d.metrics.droppedMessages.inc({ reason: denied.reason });
        if (denied.reason === 'limit.message_rate') {
          this.d.detector.rateLimited(denied.deviceId);
          this.quarantineByDetection(denied.deviceId, 'detection.message_flood');
        }
      },
    };
  }

  /** The challenge manager's events: a device that never answers is recorded unresponsive [FP-7.2-1]. */
  onChallengeEvent(e: ChallengeEvent): void {
    if (e.type !== 'attestation.timeout' || !e.final) return;
    this.recordUnsigned(e.deviceId, 'none', ['appraisal.no_evidence']);
  }

  private connected(info: DeviceConnectionInfo): void {
    const connectionId = `c${++this.connectionCounter}`;
    this.connectionIds.set(info, connectionId);
    const cert = info.certificate;
    const { device } = this.d.registry.admit({
      deviceId: info.deviceId,
      via: enrollmentSource(info),
      ...(cert === undefined
        ? {}
        : {
            cert: {
              serial: cert.serial,
              subject: cert.subject,
              notAfter: cert.notAfter.getTime(),
              fingerprint: createHash('sha256').update(cert.publicKeyDer).digest('hex'),
            },
          }),
    });
    // [FP-5.3-1] A PSA token names no key: it is the key of the certificate the TLS handshake just validated against
    // the manufacturer roots (and CRLs), so that key becomes the device's registered attestation key.
    if (info.certificateChain === undefined) this.chains.delete(info.deviceId);
    else this.chains.set(info.deviceId, info.certificateChain);
    if (cert !== undefined) {
      this.d.deviceStates.setAttestationKey(info.deviceId, cert.publicKeyDer);
      this.d.detector.certificateCheck(device);
    }
    if (device.enrollment !== 'approved') {
      this.d.detector.unknownDevice(info.deviceId, info.address, `enrollment.${device.enrollment}`);
      if (device.enrollment === 'revoked') {
        this.d.disconnect(info.deviceId);
        return;
      }
    }
    this.d.detector.connected(info.deviceId, connectionId, info.address);
    // [FP-7.1-1] The connect challenge must not depend on the device's goodwill: one that subscribes but never
    // announces `online` (hoping to live on an older result) is challenged after the grace period anyway.
    this.clearUnannounced(info.deviceId);
    const timer = setTimeout(() => {
      this.unannounced.delete(info.deviceId);
      this.d.challenges().connected(info.deviceId);
    }, ANNOUNCE_GRACE_MS);
    timer.unref();
    this.unannounced.set(info.deviceId, timer);
  }

  private clearUnannounced(deviceId: string): void {
    const t = this.unannounced.get(deviceId);
    if (t === undefined) return;
    clearTimeout(t);
    this.unannounced.delete(deviceId);
  }

  private disconnected(info: DeviceConnectionInfo): void {
    const connectionId = this.connectionIds.get(info);
    if (connectionId !== undefined) this.d.detector.disconnected(info.deviceId, connectionId);
    this.clearUnannounced(info.deviceId);
    this.chains.delete(info.deviceId);
    this.d.challenges().disconnected(info.deviceId);
    this.d.registry.touch(info.deviceId);
  }

  private onMessage(m: BrokerMessage): void {
    this.d.detector.message(m.deviceId);
    try {
      switch (m.kind) {
        case 'telemetry': {
          const t = decodeTelemetry(m.payload);
          this.d.telemetry.add(m.deviceId, t, undefined, m.payload.length);
          this.d.metrics.telemetryRows.inc(Object.keys(t.values).length);
          return;
        }
        case 'evidence':
          this.onEvidence(m);
          return;
        case 'status': {
          // [FP-7.1-1] The device publishes `online` after subscribing to its challenge topic: challenge it now.
          const status = decodeStatus(m.payload);
          if (status.state !== 'online') return;
          this.d.registry.fillReportedFacts(m.deviceId, {
            ...(status.boardFamily === undefined ? {} : { family: status.boardFamily }),
            ...(status.firmwareVersion === undefined ? {} : { version: status.firmwareVersion }),
          });
          this.clearUnannounced(m.deviceId);
          this.d.challenges().connected(m.deviceId);
          return;
        }
        default:
          return;
      }
    } catch (e) {
      const { code } = describeError(e);
      this.d.metrics.droppedMessages.inc({ reason: code });
      this.d.detector.malformedMessage(m.deviceId, m.kind, code);
      this.log.debug({ deviceId: m.deviceId, kind: m.kind, code }, 'device message refused');
    }
  }

  private onEvidence(m: BrokerMessage): void {
    if (this.pending >= this.d.maxPendingAppraisals) {
      this.d.metrics.droppedMessages.inc({ reason: 'appraisal.overloaded' });
      return;
    }
    let msg: ReturnType<typeof decodeEvidenceMessage>;
    try {
      msg = decodeEvidenceMessage(m.payload);
    } catch (e) {
      // An evidence message that does not even decode is the device's own failed appraisal (only it can publish on
      // its evidence topic), recorded unsigned since there is no nonce to answer.
      const reasons = ['appraisal.malformed_evidence', describeError(e).code].filter((r) => REASON_CODE.test(r));
      this.recordUnsigned(m.deviceId, 'contraindicated', reasons);
      return;
    }
    const chain = this.chains.get(m.deviceId);
    this.pending++;
    this.d.appraiser
      .appraise(msg.token, {
        deviceId: m.deviceId,
        messageNonce: msg.nonce,
        format: msg.format,
        ...(chain === undefined ? {} : { certificateChain: chain }),
      })
      .then((r) => this.afterAppraisal(m.deviceId, r))
      .catch((e: unknown) => this.log.error({ deviceId: m.deviceId, err: describeError(e) }, 'appraisal failed'))
      .finally(() => {
        this.pending--;
      });
  }

  /** After an appraisal: note firmware and boot facts, free the device's challenge slot, answer the device. */
  private async afterAppraisal(deviceId: string, r: AppraisalResult): Promise<void> {
    if (!r.refused && !r.duplicate && r.claims !== undefined) {
      const fw: { family?: string; version?: string; measurement?: string } = {
        measurement: measurementDigest(r.claims.measurements),
      };
      // PSA tokens carry neither family nor version; the appraisal found them through the reference values.
      const attester = r.ear.submods[EAR_SUBMOD].ear_attester_claims;
      const family = r.claims.boardFamily ?? attester?.board_family;
      const version = r.claims.firmwareVersion ?? attester?.firmware_version;
      if (family !== undefined) fw.family = family;
      if (version !== undefined) fw.version = version;
      if (r.claims.bootSeed !== undefined) this.d.detector.bootSeedObserved(deviceId, toHex(r.claims.bootSeed));
      const change = this.d.registry.recordFirmware(deviceId, fw);
      if (change !== null) {
        this.d.detector.firmwareChanged(deviceId, {
          fromVersion: change.previousVersion,
          toVersion: fw.version ?? null,
          fromMeasurement: change.previousMeasurement,
          toMeasurement: fw.measurement ?? null,
        });
      }
    }
    if (r.nonceHex !== undefined && r.nonceHex !== '') {
      this.d.challenges().answered(deviceId, r.nonceHex);
      await this.d.publish(
        topics.result(deviceId),
        encodeResult({ nonce: fromHex(r.nonceHex), status: r.status, reasons: r.reasons, ear: r.jwt }),
      );
    }
  }

  /** A result the gateway records without an appraisal to sign (no evidence, or no decodable evidence). */
  private recordUnsigned(deviceId: string, status: 'none' | 'contraindicated', reasons: string[]): void {
    try {
      const r = this.d.registry.recordResult(deviceId, { status, reasons });
      this.d.metrics.appraisals.inc({ status });
      this.d.detector.attestationResult(deviceId, status, reasons, r.resultId);
    } catch (e) {
      this.log.warn({ deviceId, err: describeError(e) }, 'cannot record result');
    }
  }

  /** Quarantine that only an operator lifts (see DETECTION_ACTOR); once, not on every repeat of the signal. */
  private quarantineByDetection(deviceId: string, reason: string): void {
    const device = this.d.registry.get(deviceId);
    if (device === undefined || (device.quarantinedBy === DETECTION_ACTOR && device.quarantineReason === reason))
      return;
    this.d.registry.quarantine(deviceId, DETECTION_ACTOR, reason);
  }
}
