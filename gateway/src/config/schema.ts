import { z } from 'zod';
import { validateAclRules } from '../broker/acl.js';

/**
 * The gateway's configuration. Every option has a default that is safe on a plant network; the comment says why.
 * Sources, lowest precedence first: defaults, the JSON file (`--config`), environment (`PALISADE_GATEWAY_*`), flags.
 */

const port = (what: string) =>
  z
    .int({ error: `${what} must be an integer port number (0 picks a free port)` })
    .min(0, { error: `${what} must be between 0 and 65535` })
    .max(65535, { error: `${what} must be between 0 and 65535` });

const host = z.string().min(1, { error: 'must be a host name or address' });

const listener = (defaultPort: number, enabled: boolean, what: string) =>
  z.strictObject({
    enabled: z.boolean().default(enabled),
    host: host.default('0.0.0.0'),
    port: port(what).default(defaultPort),
  });

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const positiveInt = z.int().min(1);

export const gatewayConfigSchema = z.strictObject({
  /** `iss` of the EARs this gateway signs and its name towards the cloud. */
  gatewayId: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { error: 'must be 1-128 characters of [A-Za-z0-9._-]' })
    .default('palisade-gateway'),
  /** Holds `gateway.sqlite` and the `pki/` folder with the gateway's own key and certificate. */
  dataDir: z.string().min(1).default('./palisade-data'),
  log: z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }).prefault({}),
  /** Plain MQTT; for devices using per-device credentials on a trusted segment. */
  mqtt: listener(1883, true, 'mqtt.port').prefault({}),
  /** MQTT over TLS with client certificates: the normal way for devices. Needs `tls` material. */
  mqtts: listener(8883, false, 'mqtts.port').prefault({}),
  ws: listener(8083, false, 'ws.port').prefault({}),
  /** Health, metrics and the operator API. Loopback by default: exposing it is a deliberate choice. */
  http: z
    .strictObject({
      enabled: z.boolean().default(true),
      host: host.default('127.0.0.1'),
      port: port('http.port').default(8080),
    })
    .prefault({}),
  tls: z
    .strictObject({
      /** PEM paths of the broker's server certificate and key; default: the gateway's own (`pki init`). */
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /** PEM files of manufacturer roots that device certificates must chain to. */
      manufacturerRoots: z.array(z.string().min(1)).max(64).default([]),
      /** PEM bundles of intermediate (issuing) CAs, for devices that send only their own certificate. */
      intermediateFiles: z.array(z.string().min(1)).max(64).default([]),
      /** PEM CRLs of the manufacturer CAs; re-read when they change on disk. */
      crlFiles: z.array(z.string().min(1)).max(64).default([]),
      /** Accept per-device credentials (username = device id) for devices that cannot do TLS. */
      allowCredentials: z.boolean().default(true),
      /** Lab only: lets clients in without any credential. A warning is logged at start. */
      allowAnonymous: z.boolean().default(false),
    })
    .prefault({}),
  enrollment: z
    .strictObject({
      /** Device ids approved on first sight; all others wait for an operator. */
      allowList: z
        .array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'must be device ids' }))
        .default([]),
    })
    .prefault({}),
  /**
   * Operator ACL rules on top of the protocol's defaults (a device only under its own topics): a matching `deny`
   * always wins, a matching `allow` widens the defaults. `{deviceId}` in a topic level is the device's own id.
   */
  acl: z
    .array(
      z.strictObject({
        effect: z.enum(['allow', 'deny']),
        devices: z.union([z.literal('*'), z.array(z.string().min(1).max(64)).max(10_000)]).optional(),
        groups: z.array(z.string().min(1).max(64)).max(100).optional(),
        topic: z.string().min(1).max(256),
        action: z.enum(['publish', 'subscribe', 'both']),
      }),
    )
    .max(1000)
    .default([])
    .superRefine((rules, ctx) => {
      try {
        validateAclRules(rules);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : 'invalid ACL rule' });
      }
    }),
  /** Device groups for ACL rules: group name → device ids. */
  groups: z.record(z.string().min(1).max(64), z.array(z.string().min(1).max(64)).max(100_000)).default({}),
  limits: z
    .strictObject({
      /** Largest MQTT packet accepted; evidence is ≤ 4 KiB and messages ≤ 8 KiB (PROTOCOL.md §4). */
      maxPacketBytes: positiveInt.max(1 << 20).default(16 * 1024),
      /** New connections per address per minute; bounds reconnect storms and credential guessing. */
      connectionsPerAddressPerMinute: positiveInt.default(60),
      /** Messages per second per device before the broker drops them. */
      messagesPerSecondPerDevice: positiveInt.default(50),
      /** QoS 1 messages in flight to one client. */
      maxInflight: positiveInt.max(65535).default(16),
      /**
       * Time a new connection gets to complete the TLS handshake, the WebSocket upgrade and its MQTT CONNECT before
       * it is closed: a slow-loris peer holds a socket for this long at most. Raise it for devices on slow,
       * high-latency links (cellular, satellite), whose TLS handshake alone can take seconds.
       */
      connectTimeoutMs: z
        .int({ error: 'limits.connectTimeoutMs must be an integer number of milliseconds' })
        .min(1000, { error: 'limits.connectTimeoutMs must be between 1000 and 120000 ms' })
        .max(120_000, { error: 'limits.connectTimeoutMs must be between 1000 and 120000 ms' })
        .default(10_000),
    })
    .prefault({}),
  attestation: z
    .strictObject({
      /** How long a challenge nonce can be answered. Default 30 s (PROTOCOL.md §4.3). */
      challengeTtlMs: positiveInt.default(30_000),
      /** Re-challenges of a device that does not answer, with back-off (TTL, 2×TTL, 4×TTL) [FP-7.2-1]. */
      challengeRetries: z.int().min(0).max(10).default(3),
      /** Periodic re-attestation; jittered by ±`periodicJitter` so devices do not answer in lockstep. */
      periodicIntervalMs: positiveInt.default(3_600_000),
      periodicJitter: z.number().min(0).max(0.5).default(0.1),
      /** Appraisals running at once; a mass reconnect queues instead of stalling the broker. */
      maxConcurrent: positiveInt.max(10_000).default(64),
      /** Reference values (JSON, `refvals export` format) imported at start, in addition to the stored ones. */
      referenceValuesFile: z.string().min(1).optional(),
      /** Lab only: accept evidence signed with the well-known public test keys. */
      allowTestKeys: z.boolean().default(false),
      /** EAR validity; a relying party must ask for a new appraisal after it. */
      resultTtlMs: positiveInt.default(24 * 3_600_000),
    })
    .prefault({}),
  sync: z
    .strictObject({
      /** Disk the outbox may use while the uplink is down; beyond it telemetry rollups are thinned first. */
      outboxBudgetMb: positiveInt.max(1 << 20).default(256),
    })
    .prefault({}),
  telemetry: z
    .strictObject({
      flushIntervalMs: positiveInt.max(60_000).default(250),
      flushRows: positiveInt.max(100_000).default(1000),
      /** Telemetry transactions on a worker thread with its own connection, off the broker's event loop. */
      writerThread: z.boolean().default(true),
      rawRetentionHours: z.number().positive().default(6),
      minuteRetentionDays: z.number().positive().default(7),
      hourRetentionDays: z.number().positive().default(90),
      retentionIntervalMs: positiveInt.default(60_000),
    })
    .prefault({}),
  detection: z
    .strictObject({
      authFailureThreshold: positiveInt.default(5),
      authFailureWindowMs: positiveInt.default(60_000),
      certExpiryDays: positiveInt.default(30),
      rateWindowMs: positiveInt.default(10_000),
      rateFactor: z.number().min(1).default(4),
      rateWarmupWindows: positiveInt.default(6),
      rateMinPerSec: z.number().min(0).default(2),
    })
    .prefault({}),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
/** What a config file or a caller may give: everything optional. */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
