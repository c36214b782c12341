import { randomBytes } from 'node:crypto';
import type { EarStatus } from '@palisade/shared';
import { EAR_STATUSES } from '@palisade/shared';
import { decodeCbor, encodeCbor } from '../cbor/index.js';
import { ProtocolError } from '../errors.js';
import { BOARD_FAMILIES, type BoardFamily, FIRMWARE_VERSION_PATTERN } from '../evidence/claims.js';
import { checkInt, checkText, FieldReader } from './cbor-fields.js';

/**
 * The CBOR wire messages of the device protocol: each an integer-keyed CBOR map, closed (no unknown keys), with
 * an encoder that validates what it is given and a decoder that validates what it receives; both throw
 * {@link ProtocolError} `message.schema` (or `cbor.*` when the bytes are not acceptable CBOR).
 * @see PROTOCOL.md §4
 */

/** [FP-4.1-2] Largest message accepted on any topic (an evidence message carries a token of at most 4096 bytes). */
export const MAX_MESSAGE_BYTES = 8192;
/** [FP-4.2-1] Challenge nonces are exactly 32 bytes. */
export const CHALLENGE_NONCE_BYTES = 32;
const MS_MAX = Number.MAX_SAFE_INTEGER;
const CODES = { notMap: 'message.schema', missing: 'message.schema', bad: 'message.schema' } as const;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const VALUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

function reader(bytes: Uint8Array, what: string, keys: readonly number[]): FieldReader {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError('message.schema', `${what} must be bytes`);
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw new ProtocolError('cbor.too_large', `${what} exceeds ${MAX_MESSAGE_BYTES} bytes`, {
      details: { size: bytes.length, max: MAX_MESSAGE_BYTES },
    });
  }
  const r = FieldReader.of(decodeCbor(bytes), what, CODES);
  r.onlyKeys(keys);
  return r;
}

function invalid(what: string, why: string): ProtocolError {
  return new ProtocolError('message.schema', `${what}: ${why}`, { details: { what, why } });
}

/** Runs the decoder over the encoder's output, so that nothing is ever sent that the peer would refuse. */
function encodeChecked<T>(map: Map<number, unknown>, decode: (b: Uint8Array) => T): Uint8Array {
  const bytes = encodeCbor(map);
  decode(bytes);
  return bytes;
}

// §4.2 challenge ---------------------------------------------------------------------------------------------------

export type ChallengeReason = 'connect' | 'periodic' | 'on-demand';
export const CHALLENGE_REASONS: readonly ChallengeReason[] = ['connect', 'periodic', 'on-demand'];

/** Gateway → device. @see PROTOCOL.md §4.2 */
export interface ChallengeMessage {
  nonce: Uint8Array;
  /** Gateway time at issue, ms since the epoch. */
  issuedAt: number;
  /** How long the nonce stays valid, ms (1 000 .. 300 000). */
  ttlMs: number;
  reason: ChallengeReason;
}
const CH = { nonce: 1, issuedAt: 2, ttlMs: 3, reason: 4 } as const;

export function decodeChallenge(bytes: Uint8Array): ChallengeMessage {
  const r = reader(bytes, 'challenge', Object.values(CH));
  return {
    nonce: r.bytes(CH.nonce, 'nonce', { min: CHALLENGE_NONCE_BYTES, max: CHALLENGE_NONCE_BYTES }),
    issuedAt: r.int(CH.issuedAt, 'issuedAt', 0, MS_MAX),
    ttlMs: r.int(CH.ttlMs, 'ttlMs', 1_000, 300_000),
    reason: r.oneOf(CH.reason, 'reason', CHALLENGE_REASONS),
  };
}

/** [FP-4.2-3] Default nonce lifetime. */
export const DEFAULT_CHALLENGE_TTL_MS = 30_000;

/**
 * A fresh challenge [FP-4.2-1]: 32 bytes from `random` (inject a CSPRNG; `node:crypto` randomBytes by default),
 * stamped with the injected clock's time.
 */
export function newChallenge(opts: {
  now: number;
  reason: ChallengeReason;
  ttlMs?: number;
  random?: (n: number) => Uint8Array;
}): ChallengeMessage {
  const nonce = new Uint8Array((opts.random ?? randomBytes)(CHALLENGE_NONCE_BYTES));
  const m: ChallengeMessage = {
    nonce,
    issuedAt: opts.now,
    ttlMs: opts.ttlMs ?? DEFAULT_CHALLENGE_TTL_MS,
    reason: opts.reason,
  };
  decodeChallenge(encodeChallenge(m));
  return m;
}

export function encodeChallenge(m: ChallengeMessage): Uint8Array {
  return encodeChecked(
    new Map<number, unknown>([
      [CH.nonce, m.nonce],
      [CH.issuedAt, m.issuedAt],
      [CH.ttlMs, m.ttlMs],
      [CH.reason, m.reason],
    ]),
    decodeChallenge,
  );
}

// §4.3 evidence ----------------------------------------------------------------------------------------------------

export type EvidenceMessageFormat = 'palisade-eat' | 'psa';
const FORMATS: readonly EvidenceMessageFormat[] = ['palisade-eat', 'psa'];

/** Device → gateway: the answer to a challenge. @see PROTOCOL.md §4.3 */
export interface EvidenceMessage {
  /** The challenge nonce this answers (the token MUST carry the same nonce). */
  nonce: Uint8Array;
  /** The COSE_Sign1 evidence token, as signed. */
  token: Uint8Array;
  format: EvidenceMessageFormat;
}
const EV = { nonce: 1, token: 2, format: 3 } as const;

export function decodeEvidenceMessage(bytes: Uint8Array): EvidenceMessage {
  const r = reader(bytes, 'evidence message', Object.values(EV));
  return {
    nonce: r.bytes(EV.nonce, 'nonce', { min: 32, max: 64 }),
    token: r.bytes(EV.token, 'token', { min: 1, max: 4096 }),
    format: r.oneOf(EV.format, 'format', FORMATS),
  };
}

export function encodeEvidenceMessage(m: EvidenceMessage): Uint8Array {
  return encodeChecked(
    new Map<number, unknown>([
      [EV.nonce, m.nonce],
      [EV.token, m.token],
      [EV.format, m.format],
    ]),
    decodeEvidenceMessage,
  );
}

// §4.4 result ------------------------------------------------------------------------------------------------------

/** Gateway → device: the appraisal verdict. @see PROTOCOL.md §4.4 */
export interface ResultMessage {
  nonce: Uint8Array;
  status: EarStatus;
  /** Machine-readable reason codes (empty when affirming). */
  reasons: string[];
  /** The signed EAR (compact JWS). */
  ear: string;
}
const RS = { nonce: 1, status: 2, reasons: 3, ear: 4 } as const;
const REASON = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function decodeResult(bytes: Uint8Array): ResultMessage {
  const r = reader(bytes, 'result', Object.values(RS));
  const reasons = r
    .array(RS.reasons, 'reasons', { max: 32 })
    .map((v) => checkText(v, { min: 3, max: 64 }, REASON, (why) => r.bad(RS.reasons, 'reasons', why)));
  const status = r.oneOf(RS.status, 'status', EAR_STATUSES);
  if (status === 'affirming' && reasons.length > 0) throw invalid('result', 'an affirming result carries no reasons');
  return {
    nonce: r.bytes(RS.nonce, 'nonce', { min: 32, max: 64 }),
    status,
    reasons,
    ear: r.text(RS.ear, 'ear', { min: 5, max: 6000 }, JWS),
  };
}

export function encodeResult(m: ResultMessage): Uint8Array {
  return encodeChecked(
    new Map<number, unknown>([
      [RS.nonce, m.nonce],
      [RS.status, m.status],
      [RS.reasons, m.reasons],
      [RS.ear, m.ear],
    ]),
    decodeResult,
  );
}

// §4.5 commands ----------------------------------------------------------------------------------------------------

export type CommandType = 're-attest' | 'set-telemetry-interval' | 'reboot';
export const COMMAND_TYPES: readonly CommandType[] = ['re-attest', 'set-telemetry-interval', 'reboot'];

/** Gateway → device. @see PROTOCOL.md §4.5 */
export interface CommandMessage {
  id: string;
  type: CommandType;
  args?: Record<string, string | number>;
  issuedAt: number;
  expiresAt: number;
}
const CM = { id: 1, type: 2, args: 3, issuedAt: 4, expiresAt: 5 } as const;

function decodeArgs(v: unknown, r: FieldReader): Record<string, string | number> {
  if (!(v instanceof Map)) throw r.bad(CM.args, 'args', 'must be a map');
  if (v.size > 16) throw r.bad(CM.args, 'args', 'must hold at most 16 entries');
  const out: Record<string, string | number> = {};
  for (const [k, val] of v) {
    const fail = (why: string) => r.bad(CM.args, 'args', why);
    const name = checkText(k, { min: 1, max: 32 }, VALUE_NAME, fail);
    if (typeof val === 'number') {
      if (!Number.isFinite(val)) throw fail('values must be finite');
      out[name] = val;
    } else {
      out[name] = checkText(val, { max: 256 }, undefined, fail);
    }
  }
  return out;
}

export function decodeCommand(bytes: Uint8Array): CommandMessage {
  const r = reader(bytes, 'command', Object.values(CM));
  const m: CommandMessage = {
    id: r.text(CM.id, 'id', { min: 1, max: 64 }, ID_PATTERN),
    type: r.oneOf(CM.type, 'type', COMMAND_TYPES),
    issuedAt: r.int(CM.issuedAt, 'issuedAt', 0, MS_MAX),
    expiresAt: r.int(CM.expiresAt, 'expiresAt', 0, MS_MAX),
  };
  if (m.expiresAt <= m.issuedAt) throw invalid('command', 'expiresAt must be after issuedAt');
  if (r.has(CM.args)) m.args = decodeArgs(r.raw(CM.args, 'args'), r);
  if (m.type === 'set-telemetry-interval') {
    const ms = m.args?.['intervalMs'];
    checkInt(ms, 100, 86_400_000, (why) => invalid('command', `set-telemetry-interval needs args.intervalMs ${why}`));
  }
  return m;
}

export function encodeCommand(m: CommandMessage): Uint8Array {
  const map = new Map<number, unknown>([
    [CM.id, m.id],
    [CM.type, m.type],
  ]);
  if (m.args !== undefined) map.set(CM.args, new Map(Object.entries(m.args)));
  map.set(CM.issuedAt, m.issuedAt);
  map.set(CM.expiresAt, m.expiresAt);
  return encodeChecked(map, decodeCommand);
}

export type CommandOutcome = 'applied' | 'rejected' | 'expired';
export const COMMAND_OUTCOMES: readonly CommandOutcome[] = ['applied', 'rejected', 'expired'];

/** Device → gateway. @see PROTOCOL.md §4.6 */
export interface CommandAckMessage {
  id: string;
  outcome: CommandOutcome;
  detail?: string;
}
const CA = { id: 1, outcome: 2, detail: 3 } as const;

export function decodeCommandAck(bytes: Uint8Array): CommandAckMessage {
  const r = reader(bytes, 'command ack', Object.values(CA));
  const m: CommandAckMessage = {
    id: r.text(CA.id, 'id', { min: 1, max: 64 }, ID_PATTERN),
    outcome: r.oneOf(CA.outcome, 'outcome', COMMAND_OUTCOMES),
  };
  const detail = r.optText(CA.detail, 'detail', { max: 256 });
  if (detail !== undefined) m.detail = detail;
  return m;
}

export function encodeCommandAck(m: CommandAckMessage): Uint8Array {
  const map = new Map<number, unknown>([
    [CA.id, m.id],
    [CA.outcome, m.outcome],
  ]);
  if (m.detail !== undefined) map.set(CA.detail, m.detail);
  return encodeChecked(map, decodeCommandAck);
}

// §4.7 telemetry ---------------------------------------------------------------------------------------------------

/** Device → gateway. @see PROTOCOL.md §4.7 */
export interface TelemetryMessage {
  /** Per-boot sequence number, strictly increasing. */
  seq: number;
  /** Device time, ms since the epoch (or since boot for devices without a clock). */
  ts: number;
  /** 1 to 32 named numeric readings. */
  values: Record<string, number>;
}
const TM = { seq: 1, ts: 2, values: 3 } as const;

export function decodeTelemetry(bytes: Uint8Array): TelemetryMessage {
  const r = reader(bytes, 'telemetry', Object.values(TM));
  const raw = r.raw(TM.values, 'values');
  const fail = (why: string) => r.bad(TM.values, 'values', why);
  if (!(raw instanceof Map)) throw fail('must be a map');
  if (raw.size < 1 || raw.size > 32) throw fail('must hold 1 to 32 readings');
  const values: Record<string, number> = {};
  for (const [k, v] of raw) {
    const name = checkText(k, { min: 1, max: 32 }, VALUE_NAME, fail);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw fail('readings must be finite numbers');
    values[name] = v;
  }
  return { seq: r.int(TM.seq, 'seq', 0, 0xffff_ffff), ts: r.int(TM.ts, 'ts', 0, MS_MAX), values };
}

export function encodeTelemetry(m: TelemetryMessage): Uint8Array {
  return encodeChecked(
    new Map<number, unknown>([
      [TM.seq, m.seq],
      [TM.ts, m.ts],
      [TM.values, new Map(Object.entries(m.values))],
    ]),
    decodeTelemetry,
  );
}

// §4.8 status ------------------------------------------------------------------------------------------------------

/** Device → gateway, retained; `offline` is the device's MQTT last will. @see PROTOCOL.md §4.8 */
export interface StatusMessage {
  state: 'online' | 'offline';
  firmwareVersion?: string;
  boardFamily?: BoardFamily;
  bootCount?: number;
}
const ST = { state: 1, firmwareVersion: 2, boardFamily: 3, bootCount: 4 } as const;

export function decodeStatus(bytes: Uint8Array): StatusMessage {
  const r = reader(bytes, 'status', Object.values(ST));
  const m: StatusMessage = { state: r.oneOf(ST.state, 'state', ['online', 'offline'] as const) };
  const fw = r.optText(ST.firmwareVersion, 'firmwareVersion', { min: 1, max: 32 }, FIRMWARE_VERSION_PATTERN);
  if (fw !== undefined) m.firmwareVersion = fw;
  const family = r.optOneOf(ST.boardFamily, 'boardFamily', BOARD_FAMILIES);
  if (family !== undefined) m.boardFamily = family;
  const bc = r.optInt(ST.bootCount, 'bootCount', 0, 0xffff_ffff);
  if (bc !== undefined) m.bootCount = bc;
  return m;
}

export function encodeStatus(m: StatusMessage): Uint8Array {
  const map = new Map<number, unknown>([[ST.state, m.state]]);
  if (m.firmwareVersion !== undefined) map.set(ST.firmwareVersion, m.firmwareVersion);
  if (m.boardFamily !== undefined) map.set(ST.boardFamily, m.boardFamily);
  if (m.bootCount !== undefined) map.set(ST.bootCount, m.bootCount);
  return encodeChecked(map, decodeStatus);
}
