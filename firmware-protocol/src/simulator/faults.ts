import { ValidationError } from '@palisade/shared';

/**
 * Fault modes of the simulator, each selectable per device. Each one produces evidence or behaviour that the
 * protocol-level checks tell apart from a healthy device:
 *
 * | fault | what the device does | what gives it away |
 * |---|---|---|
 * | `tampered-firmware` | runs a modified application image | `app` measurement ≠ reference value |
 * | `rollback` | after its first attestation, reboots with its boot counter rewound (STM32/PSA, which carries no counter: also downgrades to firmware 0.9.0) | `bootcount` lower than seen before; PSA: measurements of an old version |
 * | `replay` | answers every challenge after the first with its first evidence token | token nonce = an already-used nonce ≠ message nonce |
 * | `wrong-key` | signs with a key its certificate does not certify | `cose.bad_signature` with the certified key |
 * | `expired-cert` | holds a certificate whose validity ended | certificate `notAfter` in the past |
 * | `revoked-cert` | holds a certificate the intermediate's CRL lists | serial on the CRL |
 * | `clone` | a second board with another device's key and certificate | same identity, same count, different boot seed; MQTT client-id takeover |
 * | `wrong-nonce` | signs evidence over a nonce it made up | token nonce ≠ challenge nonce |
 * | `silent` | connects, subscribes, never answers | no evidence within the TTL |
 * | `malformed` | publishes undecodable CBOR as evidence and telemetry | `cbor.*` / `message.schema` |
 * | `flood` | sends telemetry far above its set rate | message rate |
 */
export type FaultMode =
  | 'tampered-firmware'
  | 'rollback'
  | 'replay'
  | 'wrong-key'
  | 'expired-cert'
  | 'revoked-cert'
  | 'clone'
  | 'wrong-nonce'
  | 'silent'
  | 'malformed'
  | 'flood';

export const FAULT_MODES: readonly FaultMode[] = [
  'tampered-firmware',
  'rollback',
  'replay',
  'wrong-key',
  'expired-cert',
  'revoked-cert',
  'clone',
  'wrong-nonce',
  'silent',
  'malformed',
  'flood',
];

export function isFaultMode(s: unknown): s is FaultMode {
  return typeof s === 'string' && (FAULT_MODES as readonly string[]).includes(s);
}

/** Parses `tampered-firmware:2,rollback:1,silent` (a count defaults to 1). */
export function parseFaultSpec(spec: string): Map<FaultMode, number> {
  const out = new Map<FaultMode, number>();
  for (const part of spec.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const [name, countText] = part.split(':', 2);
    if (!isFaultMode(name)) {
      throw new ValidationError('validation.fault', `unknown fault "${String(name).slice(0, 40)}"`, {
        details: { known: FAULT_MODES },
      });
    }
    const count = countText === undefined ? 1 : Number(countText);
    if (!Number.isSafeInteger(count) || count < 1 || count > 100_000) {
      throw new ValidationError('validation.fault', `fault count for ${name} must be a positive integer`);
    }
    out.set(name, (out.get(name) ?? 0) + count);
  }
  return out;
}
