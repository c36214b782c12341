import { readFileSync } from 'node:fs';
import { type Clock, createLogger, describeError, type Logger, systemClock } from '@palisade/shared';
import { Appraiser, ChallengeManager, type Scheduler } from './attestation/index.js';
import { type Broker, createBroker } from './broker/index.js';
import { ConfigError, type GatewayConfig } from './config/index.js';
import { AlertStore, Detector } from './detection/index.js';
import { DeviceEvents } from './devices/index.js';
import { createHttpApp, type HttpServerHandle, startHttpServer } from './http/index.js';
import { ensureGatewayIdentity, type GatewayIdentity } from './identity/index.js';
import { createMetrics, type GatewayMetrics } from './metrics/index.js';
import { OperatorStore, registerPanel } from './panel/index.js';
import {
  CredentialStore,
  DeviceGate,
  loadCloudCrls,
  ReferenceStore,
  Registry,
  RevocationStore,
  SqliteDeviceStateStore,
  SqliteResultSink,
} from './registry/index.js';
import { databasePath, NonceStore, openStore, type Store } from './store/index.js';
import { loadCloudIdentity, type SyncClient, startCloudSync } from './sync/index.js';
import { TelemetryRetention, TelemetryWriter } from './telemetry/index.js';

export interface StartGatewayOptions {
  logger?: Logger;
  clock?: Clock;
  /** Timers of the challenge manager (tests drive them by hand). */
  scheduler?: Scheduler;
}

export interface GatewayHandle {
  readonly ports: { mqtt?: number; mqtts?: number; ws?: number; http?: number };
  readonly identity: GatewayIdentity;
  readonly store: Store;
  readonly registry: Registry;
  readonly alerts: AlertStore;
  readonly credentials: CredentialStore;
  readonly references: ReferenceStore;
  readonly metrics: GatewayMetrics;
  /** An on-demand challenge [FP-7.3-2]; false when the device is not connected. */
  requestAttestation(deviceId: string): boolean;
  /** Re-reads the reference values from the store into the appraisal (after an import). */
  reloadReferenceValues(): void;
  /**
   * Re-reads roots, intermediates and CRLs for the appraisal and the broker's client-certificate check (a revocation
   * update), disconnecting devices whose certificate no longer validates; done every minute anyway.
   */
  reloadTrust(): void;
  /** Stops listening, flushes telemetry, closes the database. Idempotent. */
  stop(): Promise<void>;
}

/** Appraisals waiting or running beyond which new evidence is dropped (a flood must not queue without bound). */
const MAX_PENDING_APPRAISALS_FACTOR = 4;

function readPemFiles(paths: readonly string[], key: string): string[] {
  return paths.map((p, i) => {
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new ConfigError('config.invalid', `config.invalid: ${key}.${i} cannot be read (${p})`, { cause: e });
    }
  });
}

/**
 * Starts a gateway: store, registry, broker, attestation, detection, telemetry and HTTP, wired together.
 * Nothing here holds logic of its own beyond routing device messages to the part that handles them.
 */
export async function startGateway(config: GatewayConfig, options: StartGatewayOptions = {}): Promise<GatewayHandle> {
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? createLogger({ service: 'gateway', level: config.log.level });
  // CRLs from the configured files plus those the cloud sent (revocation_update commands).
  const cloudCrls = () => loadCloudCrls(config.dataDir);
  const readTrust = () => ({
    roots: readPemFiles(config.auth.manufacturerRoots, 'auth.manufacturerRoots'),
    intermediates: readPemFiles(config.auth.intermediateFiles, 'auth.intermediateFiles'),
    crls: [...readPemFiles(config.auth.crlFiles, 'auth.crlFiles'), ...cloudCrls()],
  });
  const initialTrust = readTrust();
  if (config.mqtts.enabled && initialTrust.roots.length === 0) {
    throw new ConfigError('config.invalid', 'config.invalid: auth.manufacturerRoots is empty but mqtts is enabled');
  }

  const store = openStore({ path: databasePath(config.dataDir) });
  const cleanups: (() => void | Promise<void>)[] = [() => store.close()];
  const fail = async (e: unknown): Promise<never> => {
    for (const c of cleanups.reverse()) await c();
    throw e;
  };

  try {
    const identity = await ensureGatewayIdentity(config.dataDir, { gatewayId: config.gatewayId });
    const gate = new DeviceGate(store);
    const registry = new Registry(store.db, {
      clock,
      logger: log,
      allowList: config.enrollment.allowList,
      onChange: (d) => gate.update(d),
    });
    const credentials = new CredentialStore(store.db, clock);
    const references = new ReferenceStore(store.db, clock);
    if (config.attestation.referenceValuesFile !== undefined) {
      let text: string;
      try {
        text = readFileSync(config.attestation.referenceValuesFile, 'utf8');
      } catch (e) {
        throw new ConfigError('config.invalid', 'config.invalid: attestation.referenceValuesFile cannot be read', {
          cause: e,
        });
      }
      references.import(text, 'system:config');
    }
    const nonces = new NonceStore(store.db);
    const deviceStates = new SqliteDeviceStateStore(store.db);
    const telemetry = new TelemetryWriter(store, {
      clock,
      logger: log,
      flushIntervalMs: config.telemetry.flushIntervalMs,
      flushRows: config.telemetry.flushRows,
      thread: config.telemetry.writerThread,
    });
    const retention = new TelemetryRetention(store, {
      clock,
      rawRetentionMs: config.telemetry.rawRetentionHours * 3_600_000,
      minuteRetentionMs: config.telemetry.minuteRetentionDays * 86_400_000,
      hourRetentionMs: config.telemetry.hourRetentionDays * 86_400_000,
    });

    let challenges: ChallengeManager | undefined;
    let events: DeviceEvents | undefined;
    const metrics = createMetrics({
      queueDepths: () => ({
        appraisals: events?.pendingAppraisals ?? 0,
        telemetry: telemetry.pending,
        challenges: challenges?.stats().queued ?? 0,
        challenges_in_flight: challenges?.stats().inFlight ?? 0,
      }),
    });
    const alerts = new AlertStore(store.db, clock);
    const detector = new Detector(store.db, alerts, {
      clock,
      logger: log,
      authFailureThreshold: config.detection.authFailureThreshold,
      authFailureWindowMs: config.detection.authFailureWindowMs,
      certExpiryHorizonMs: config.detection.certExpiryDays * 86_400_000,
      rate: {
        windowMs: config.detection.rateWindowMs,
        factor: config.detection.rateFactor,
        warmupWindows: config.detection.rateWarmupWindows,
        minRatePerSec: config.detection.rateMinPerSec,
      },
      onAlert: (o) => metrics.alerts.inc({ type: o.alert.type }),
    });

    const results = new SqliteResultSink(store.db, registry, (r) => {
      metrics.appraisals.inc({ status: r.status });
      detector.attestationResult(r.deviceId, r.status, r.reasons, r.resultId);
    });
    // Once enrolled, results are signed with the key the cloud certified and carry the cloud's gateway id, so the
    // cloud (and any auditor holding the gateway certificate) can verify them [FP-8.3-1]; before enrollment the
    // gateway's local key signs them.
    const cloudIdentity = loadCloudIdentity(config.dataDir);
    const appraiser = new Appraiser({
      gatewayId: cloudIdentity?.gatewayId ?? config.gatewayId,
      resultKey:
        cloudIdentity === undefined
          ? { privateKey: identity.privateKey, kid: identity.kid }
          : { privateKey: cloudIdentity.privateKey, kid: cloudIdentity.gatewayId },
      clock,
      trust: initialTrust,
      referenceValues: references.load(),
      nonces,
      devices: deviceStates,
      results,
      allowTestKeys: config.attestation.allowTestKeys,
      resultTtlSeconds: Math.floor(config.attestation.resultTtlMs / 1000),
      logger: log,
    });

    let broker: Broker | undefined;
    // Both the appraisal and the TLS client-certificate check: a revocation must also close the door (and the open
    // sessions) of a device whose evidence carries no certificate (PSA tokens are verified with the TLS key).
    // Unchanged material is not reloaded: that would drop every cached path and re-check every session each minute.
    let trustText = JSON.stringify(initialTrust);
    const reloadTrust = (): void => {
      const trust = readTrust();
      const text = JSON.stringify(trust);
      if (text === trustText) return;
      trustText = text;
      appraiser.setTrust(trust);
      broker?.updateTrust(trust);
    };

    const publish = (topic: string, payload: Uint8Array): Promise<void> => {
      if (broker === undefined) return Promise.reject(new Error('broker not started'));
      return broker.publish(topic, payload, { qos: 1 });
    };

    challenges = new ChallengeManager({
      publish,
      nonces,
      clock,
      ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }),
      ttlMs: config.attestation.challengeTtlMs,
      maxRetries: config.attestation.challengeRetries,
      periodMs: config.attestation.periodicIntervalMs,
      jitter: config.attestation.periodicJitter,
      maxInFlight: config.attestation.maxConcurrent,
      onEvent: (e) => events?.onChallengeEvent(e),
      logger: log,
    });
    const challengeManager = challenges;
    cleanups.push(() => challengeManager.stop());

    const deviceEvents = new DeviceEvents({
      registry,
      gate,
      deviceStates,
      detector,
      appraiser,
      challenges: () => challengeManager,
      telemetry,
      metrics,
      publish,
      disconnect: (deviceId) => broker?.disconnect(deviceId),
      maxPendingAppraisals: config.attestation.maxConcurrent * MAX_PENDING_APPRAISALS_FACTOR,
      logger: log,
    });
    events = deviceEvents;

    // Stopped in reverse order: after the broker closes, let running appraisals finish, then flush telemetry.
    telemetry.start();
    cleanups.push(() => telemetry.stop());
    cleanups.push(() => deviceEvents.drain());

    const groupsOf = new Map<string, string[]>();
    for (const [group, members] of Object.entries(config.groups)) {
      for (const m of members) groupsOf.set(m, [...(groupsOf.get(m) ?? []), group]);
    }
    broker = await createBroker({
      listeners: {
        ...(config.mqtt.enabled ? { mqtt: { host: config.mqtt.host, port: config.mqtt.port } } : {}),
        ...(config.mqtts.enabled
          ? {
              mqtts: {
                host: config.mqtts.host,
                port: config.mqtts.port,
                key:
                  config.tls.keyFile === undefined
                    ? identity.serverKeyPem
                    : (readPemFiles([config.tls.keyFile], 'tls.keyFile')[0] ?? ''),
                cert:
                  config.tls.certFile === undefined
                    ? `${identity.serverCertPem}${identity.caCertPem}`
                    : (readPemFiles([config.tls.certFile], 'tls.certFile')[0] ?? ''),
              },
            }
          : {}),
        ...(config.ws.enabled ? { ws: { host: config.ws.host, port: config.ws.port } } : {}),
      },
      roots: initialTrust.roots,
      intermediates: initialTrust.intermediates,
      crls: initialTrust.crls,
      ...(config.auth.allowCredentials ? { credentials: (u: string) => credentials.lookup(u) } : {}),
      allowAnonymous: config.auth.allowAnonymous,
      limits: {
        maxPacketSize: config.limits.maxPacketBytes,
        connectionsPerAddressPerMinute: config.limits.connectionsPerAddressPerMinute,
        messagesPerSecondPerDevice: config.limits.messagesPerSecondPerDevice,
        maxInflight: config.limits.maxInflight,
        connectTimeoutMs: config.limits.connectTimeoutMs,
      },
      acl: config.acl.map((r) => ({
        effect: r.effect,
        topic: r.topic,
        action: r.action,
        ...(r.devices === undefined ? {} : { devices: r.devices }),
        ...(r.groups === undefined ? {} : { groups: r.groups }),
      })),
      deviceGroups: (deviceId) => groupsOf.get(deviceId) ?? [],
      metrics: metrics.registry,
      logger: log,
      clock,
      hooks: deviceEvents.hooks(),
    });
    const brokerHandle = broker;
    cleanups.push(() => brokerHandle.close());

    const timers: NodeJS.Timeout[] = [];
    const every = (ms: number, what: string, f: () => void) => {
      const t = setInterval(() => {
        try {
          f();
        } catch (e) {
          log.error({ task: what, err: describeError(e) }, 'periodic task failed');
        }
      }, ms);
      t.unref();
      timers.push(t);
    };
    every(config.telemetry.retentionIntervalMs, 'telemetry-retention', () => retention.run());
    every(60_000, 'trust-reload', reloadTrust);
    every(2_000, 'device-gate-poll', () => gate.poll());
    every(3_600_000, 'nonce-purge', () => nonces.purge(clock.now() - 86_400_000));
    every(86_400_000, 'certificate-sweep', () => detector.certificateSweep());
    cleanups.push(() => {
      for (const t of timers) clearInterval(t);
    });
    detector.certificateSweep();

    let http: HttpServerHandle | undefined;
    if (config.http.enabled) {
      const app = createHttpApp({
        metrics: metrics.registry,
        logger: log,
        health: () => {
          const db = store.ping();
          const connected = brokerHandle.connectedDevices().length;
          const counts = db
            ? (store.sqlite
                .prepare(
                  `SELECT (SELECT COUNT(*) FROM devices) AS devices,
                          (SELECT COUNT(*) FROM devices WHERE quarantined = 1) AS quarantined,
                          (SELECT COUNT(*) FROM alerts WHERE state = 'open') AS openAlerts`,
                )
                .get() as Record<string, number>)
            : {};
          return {
            status: db ? 'ok' : 'degraded',
            db,
            broker: { listening: true, ports: brokerHandle.ports },
            counts: { ...counts, connected },
          };
        },
      });
      const panel = registerPanel(app, {
        store,
        registry,
        alerts,
        operators: new OperatorStore(store, clock),
        clock,
        logger: log,
        referenceValues: {
          get: () => appraiser.referenceValues,
          import: (next, actor) => {
            references.import(next, actor);
            appraiser.setReferenceValues(references.load());
          },
        },
        reattest: (deviceId) => challengeManager.request(deviceId, 'on-demand'),
      });
      cleanups.push(() => panel.close());
      http = await startHttpServer(app, { host: config.http.host, port: config.http.port });
      const httpHandle = http;
      cleanups.push(() => httpHandle.close());
    }

    // Store-and-forward to the cloud when enrolled (`palisade-gateway enroll`); a gateway without a cloud runs alone.
    const sync: SyncClient | undefined = startCloudSync({
      store,
      dataDir: config.dataDir,
      clock,
      logger: log,
      registry,
      alerts,
      reattest: (deviceId) => challengeManager.request(deviceId, 'on-demand'),
      importReferenceValues: (document, actor) => {
        const imported = references.import(document, actor);
        appraiser.setReferenceValues(references.load());
        return imported;
      },
      updateRevocations: async (crlPems, actor) => {
        const trust = readTrust();
        await new RevocationStore(config.dataDir, store.db, clock).replace(
          crlPems,
          [...trust.roots, ...trust.intermediates],
          actor,
        );
        reloadTrust();
      },
      metrics: metrics.registry,
      outboxBudgetBytes: config.sync.outboxBudgetMb * 1024 * 1024,
    });
    if (sync !== undefined) cleanups.push(() => sync.stop());

    log.info(
      { gatewayId: config.gatewayId, ports: { ...broker.ports, http: http?.port }, kid: identity.kid, cloud: !!sync },
      'gateway started',
    );

    let stopping: Promise<void> | undefined;
    return {
      ports: { ...broker.ports, ...(http === undefined ? {} : { http: http.port }) },
      identity,
      store,
      registry,
      alerts,
      credentials,
      references,
      metrics,
      requestAttestation: (deviceId) => challengeManager.request(deviceId, 'on-demand'),
      reloadReferenceValues: () => appraiser.setReferenceValues(references.load()),
      reloadTrust,
      stop(): Promise<void> {
        stopping ??= (async () => {
          for (const c of cleanups.reverse()) {
            try {
              await c();
            } catch (e) {
              log.warn({ err: describeError(e) }, 'error while stopping');
            }
          }
          log.info({}, 'gateway stopped');
        })();
        return stopping;
      },
    };
  } catch (e) {
    return fail(e);
  }
}
