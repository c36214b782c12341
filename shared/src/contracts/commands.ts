import { z } from 'zod';
import { DEVICE_ID_PATTERN } from '../ids.js';

/**
 * Cloud → gateway commands. An analyst or admin issues a command through `POST /api/v1/commands` to one device, to a
 * whole firmware cohort (every device whose running firmware has a given measurement) or to every gateway of the
 * organisation; the cloud resolves the target into one delivery per gateway. A gateway receives its pending
 * deliveries in the answer to each sync batch (`commands` in the ack) or by long-polling `GET /api/v1/sync/commands`,
 * applies each command at most once (keyed by command id, so a re-delivery is answered with the first outcome), refuses
 * a command past `expiresAt`, and reports the outcome to `POST /api/v1/sync/command-acks` (signed like every gateway
 * request). Both sides audit each command with who asked for it (`issuedBy`).
 */

export const COMMAND_TYPES = [
  'quarantine',
  'release',
  'reattest',
  'reference_values_update',
  'revocation_update',
] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

const deviceId = z.string().regex(DEVICE_ID_PATTERN);
const isoTime = z.iso.datetime({ offset: true });

/** Whom a command is for. `all` reaches every gateway of the organisation (reference values, revocations). */
export const commandTargetSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('device'), deviceId }),
  z.strictObject({
    kind: z.literal('cohort'),
    /** The firmware measurement (hex digest) the cohort runs. */
    firmwareMeasurement: z.string().regex(/^[0-9a-f]{32,128}$/),
  }),
  z.strictObject({ kind: z.literal('all') }),
]);
export type CommandTarget = z.infer<typeof commandTargetSchema>;

/** One reference-value entry, in the gateway's `refvals` file format (version 1). */
const referenceEntrySchema = z.record(z.string(), z.unknown());

/** Arguments per command type. */
export const commandArgsSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('quarantine'), reason: z.string().min(1).max(500) }),
  z.strictObject({ type: z.literal('release') }),
  z.strictObject({ type: z.literal('reattest') }),
  z.strictObject({
    type: z.literal('reference_values_update'),
    /** The gateway's reference-values document (`{version: 1, entries: [...]}`), merged into its store. */
    document: z.strictObject({ version: z.literal(1), entries: z.array(referenceEntrySchema).max(10_000) }),
  }),
  z.strictObject({
    type: z.literal('revocation_update'),
    /** CRLs (PEM) of the manufacturer CAs, replacing the gateway's copy for each issuer. */
    crlPems: z
      .array(
        z
          .string()
          .min(50)
          .max(1024 * 1024),
      )
      .min(1)
      .max(64),
  }),
]);
export type CommandArgs = z.infer<typeof commandArgsSchema>;

/** Device-scoped commands need a device or cohort target; store-wide ones (`*_update`) go to `all`. */
export const DEVICE_COMMANDS: ReadonlySet<CommandType> = new Set(['quarantine', 'release', 'reattest']);

/** Commands live at most a week: a gateway offline longer must not act on stale orders. */
export const COMMAND_MAX_TTL_SECONDS = 7 * 86_400;
export const COMMAND_DEFAULT_TTL_SECONDS = 3600;

/** `POST /api/v1/commands` body. */
export const issueCommandRequestSchema = z
  .strictObject({
    target: commandTargetSchema,
    args: commandArgsSchema,
    ttlSeconds: z.int().min(10).max(COMMAND_MAX_TTL_SECONDS).optional(),
  })
  .refine((b) => DEVICE_COMMANDS.has(b.args.type) === (b.target.kind !== 'all'), {
    message: 'quarantine, release and reattest target a device or a cohort; updates target all',
    path: ['target'],
  });
export type IssueCommandRequest = z.infer<typeof issueCommandRequestSchema>;

/** A command as a gateway receives it: only the devices of that gateway the target resolved to. */
export const gatewayCommandSchema = z.object({
  id: z.string().min(1).max(64),
  target: commandTargetSchema,
  /** The devices of this gateway the command applies to (empty for `all`). */
  deviceIds: z.array(deviceId).max(10_000),
  args: commandArgsSchema,
  /** `user:<id>` or `api_key:<id>` of whoever asked. */
  issuedBy: z.string().min(1).max(128),
  issuedAt: isoTime,
  expiresAt: isoTime,
});
export type GatewayCommand = z.infer<typeof gatewayCommandSchema>;

export const COMMAND_OUTCOMES = ['applied', 'rejected', 'expired', 'failed'] as const;
export type CommandOutcome = (typeof COMMAND_OUTCOMES)[number];

export const commandAckSchema = z.object({
  commandId: z.string().min(1).max(64),
  outcome: z.enum(COMMAND_OUTCOMES),
  /** Reason code or short text explaining a non-applied outcome, or what was done. */
  detail: z.string().max(1000).optional(),
  /** Gateway time the outcome was decided. */
  at: isoTime,
});
export type CommandAck = z.infer<typeof commandAckSchema>;

/** `POST /api/v1/sync/command-acks` body and answer. */
export const commandAcksRequestSchema = z.object({ acks: z.array(commandAckSchema).min(1).max(1000) });
export type CommandAcksRequest = z.infer<typeof commandAcksRequestSchema>;
export const commandAcksResponseSchema = z.object({ accepted: z.int().min(0) });

/** `GET /api/v1/sync/commands?waitSeconds=N` answer. */
export const pendingCommandsResponseSchema = z.object({ commands: z.array(gatewayCommandSchema) });
export const COMMANDS_LONG_POLL_MAX_SECONDS = 30;

export const DELIVERY_STATES = ['pending', 'delivered', ...COMMAND_OUTCOMES] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** `GET /api/v1/commands/:id` (and the answer to `POST /api/v1/commands`). */
export const commandViewSchema = z.object({
  id: z.string(),
  target: commandTargetSchema,
  args: commandArgsSchema,
  issuedBy: z.string(),
  issuedAt: isoTime,
  expiresAt: isoTime,
  deliveries: z.array(
    z.object({
      gatewayId: z.string(),
      deviceIds: z.array(z.string()),
      state: z.enum(DELIVERY_STATES),
      deliveredAt: isoTime.nullable(),
      ackedAt: isoTime.nullable(),
      detail: z.string().nullable(),
    }),
  ),
});
export type CommandView = z.infer<typeof commandViewSchema>;

export const COMMANDS_PATH = '/api/v1/commands';
export const SYNC_COMMANDS_PATH = '/api/v1/sync/commands';
export const SYNC_COMMAND_ACKS_PATH = '/api/v1/sync/command-acks';
