import { describe, expect, it } from 'vitest';
import { decodeCbor, encodeCbor } from '../../src/cbor/index.js';
import {
  type ChallengeMessage,
  type CommandMessage,
  decodeChallenge,
  decodeCommand,
  decodeCommandAck,
  decodeEvidenceMessage,
  decodeResult,
  decodeStatus,
  decodeTelemetry,
  encodeChallenge,
  encodeCommand,
  encodeCommandAck,
  encodeEvidenceMessage,
  encodeResult,
  encodeStatus,
  encodeTelemetry,
  MAX_MESSAGE_BYTES,
  newChallenge,
} from '../../src/messages/index.js';

const nonce = new Uint8Array(32).fill(0xa5);
const challenge: ChallengeMessage = { nonce, issuedAt: 1_767_225_600_000, ttlMs: 30_000, reason: 'connect' };
const command: CommandMessage = {
  id: 'cmd_01J',
  type: 'set-telemetry-interval',
  args: { intervalMs: 5000, note: 'x' },
  issuedAt: 1000,
  expiresAt: 61_000,
};
const EAR = 'eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ.c2ln';

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect((e as Error).name).toBe('ProtocolError');
    return (e as { code: string }).code;
  }
  throw new Error('expected a ProtocolError');
}

/** Re-encodes a message map with one key changed (or deleted when value is undefined). */
function mutate(bytes: Uint8Array, key: number, value: unknown): Uint8Array {
  const map = decodeCbor(bytes) as Map<number, unknown>;
  if (value === undefined) map.delete(key);
  else map.set(key, value);
  return encodeCbor(map);
}

describe('message round trips [FP-4.1-1]', () => {
  it('challenge', () => {
    expect(decodeChallenge(encodeChallenge(challenge))).toEqual(challenge);
  });
  it('evidence message', () => {
    const m = { nonce, token: new Uint8Array([0xd2, 0x84]), format: 'psa' as const };
    expect(decodeEvidenceMessage(encodeEvidenceMessage(m))).toEqual(m);
  });
  it('result', () => {
    const m = { nonce, status: 'contraindicated' as const, reasons: ['cose.bad_signature'], ear: EAR };
    expect(decodeResult(encodeResult(m))).toEqual(m);
  });
  it('command and ack', () => {
    expect(decodeCommand(encodeCommand(command))).toEqual(command);
    const ack = { id: 'cmd_01J', outcome: 'applied' as const, detail: 'ok' };
    expect(decodeCommandAck(encodeCommandAck(ack))).toEqual(ack);
    expect(decodeCommandAck(encodeCommandAck({ id: 'c', outcome: 'expired' }))).toEqual({
      id: 'c',
      outcome: 'expired',
    });
  });
  it('telemetry', () => {
    const m = { seq: 7, ts: 1_767_225_600_123, values: { temp: 21.5, 'rpm.1': 1200 } };
    expect(decodeTelemetry(encodeTelemetry(m))).toEqual(m);
  });
  it('status, online with details and the offline last will', () => {
    const m = { state: 'online' as const, firmwareVersion: '1.4.2', boardFamily: 'esp32' as const, bootCount: 3 };
    expect(decodeStatus(encodeStatus(m))).toEqual(m);
    expect(decodeStatus(encodeStatus({ state: 'offline' }))).toEqual({ state: 'offline' });
  });
  it('uses integer keys on the wire', () => {
    const map = decodeCbor(encodeChallenge(challenge)) as Map<unknown, unknown>;
    expect([...map.keys()]).toEqual([1, 2, 3, 4]);
  });
});

describe('message validation [FP-4.1-3]', () => {
  const enc = encodeChallenge(challenge);
  it.each([
    ['a 31-byte nonce [FP-4.2-1]', 1, new Uint8Array(31)],
    ['a 33-byte nonce', 1, new Uint8Array(33)],
    ['a text nonce', 1, 'x'.repeat(32)],
    ['a negative issuedAt', 2, -1],
    ['a TTL below 1 s', 3, 999],
    ['a TTL above 300 s', 3, 300_001],
    ['an unknown reason', 4, 'because'],
    ['an unknown key', 9, 1],
    ['a missing reason', 4, undefined],
  ])('challenge with %s is message.schema', (_n, key, value) => {
    expect(code(() => decodeChallenge(mutate(enc, key, value)))).toBe('message.schema');
  });

  it('the encoder refuses what the decoder would refuse', () => {
    expect(code(() => encodeChallenge({ ...challenge, nonce: new Uint8Array(16) }))).toBe('message.schema');
    expect(code(() => encodeCommand({ ...command, expiresAt: command.issuedAt }))).toBe('message.schema');
    expect(code(() => encodeResult({ nonce, status: 'affirming', reasons: ['x.y'], ear: EAR }))).toBe('message.schema');
    expect(code(() => encodeResult({ nonce, status: 'warning', reasons: ['Not A Code'], ear: EAR }))).toBe(
      'message.schema',
    );
    expect(code(() => encodeTelemetry({ seq: 1, ts: 1, values: { t: Number.NaN } }))).toBe('message.schema');
    expect(code(() => encodeTelemetry({ seq: 1, ts: 1, values: {} }))).toBe('message.schema');
  });

  it('[FP-4.5-1] set-telemetry-interval needs an integer intervalMs in range', () => {
    expect(code(() => encodeCommand({ ...command, args: {} }))).toBe('message.schema');
    expect(code(() => encodeCommand({ ...command, args: { intervalMs: 10 } }))).toBe('message.schema');
    expect(code(() => encodeCommand({ ...command, args: { intervalMs: '5000' } }))).toBe('message.schema');
  });

  it('refuses a payload that is not a map, and an evidence message with an unknown format', () => {
    expect(code(() => decodeStatus(encodeCbor(['online'])))).toBe('message.schema');
    const ev = encodeEvidenceMessage({ nonce, token: new Uint8Array(1), format: 'palisade-eat' });
    expect(code(() => decodeEvidenceMessage(mutate(ev, 3, 'jwt')))).toBe('message.schema');
  });

  it('[FP-4.1-2] refuses messages above 8 192 bytes before decoding', () => {
    expect(code(() => decodeTelemetry(new Uint8Array(MAX_MESSAGE_BYTES + 1)))).toBe('cbor.too_large');
  });

  it('refuses telemetry reading names that are not identifiers, and status with a bad family', () => {
    const t = encodeTelemetry({ seq: 1, ts: 1, values: { a: 1 } });
    expect(code(() => decodeTelemetry(mutate(t, 3, new Map([['a b', 1]]))))).toBe('message.schema');
    expect(code(() => decodeTelemetry(mutate(t, 3, new Map([[1, 1]]))))).toBe('message.schema');
    const s = encodeStatus({ state: 'online' });
    expect(code(() => decodeStatus(mutate(s, 3, 'avr')))).toBe('message.schema');
  });
});

describe('newChallenge [FP-4.2-1]', () => {
  it('draws 32 fresh bytes per challenge and stamps the injected time', () => {
    const a = newChallenge({ now: 1234, reason: 'periodic' });
    const b = newChallenge({ now: 1234, reason: 'periodic' });
    expect(a.nonce).toHaveLength(32);
    expect(a.nonce).not.toEqual(b.nonce);
    expect(a).toMatchObject({ issuedAt: 1234, ttlMs: 30_000, reason: 'periodic' });
    const fixed = newChallenge({ now: 1, reason: 'on-demand', ttlMs: 5000, random: (n) => new Uint8Array(n).fill(9) });
    expect(fixed.nonce).toEqual(new Uint8Array(32).fill(9));
  });

  it('refuses a random source that returns the wrong length, and out-of-range TTLs', () => {
    expect(code(() => newChallenge({ now: 1, reason: 'connect', random: () => new Uint8Array(8) }))).toBe(
      'message.schema',
    );
    expect(code(() => newChallenge({ now: 1, reason: 'connect', ttlMs: 10 }))).toBe('message.schema');
  });
});
