import { randomBytes } from 'node:crypto';
import { ValidationError } from './errors.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A ULID (26 characters, Crockford base32): 48-bit millisecond time then 80 random bits, so ids sort by
 * creation time. `now` and `random` are injectable for deterministic tests.
 */
export function ulid(now: number = Date.now(), random: (n: number) => Uint8Array = randomBytes): string {
  if (!Number.isSafeInteger(now) || now < 0 || now > 0xffff_ffff_ffff) {
    throw new ValidationError('validation.ulid_time', `ULID time out of range: ${now}`);
  }
  let out = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32] + out;
    t = Math.floor(t / 32);
  }
  const r = random(10);
  // 80 bits -> 16 base32 characters, 5 bits each.
  let acc = 0;
  let bits = 0;
  for (const byte of r) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += CROCKFORD[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** A prefixed id such as `case_01J...`; the prefix names the kind of record. */
export function newId(prefix: string, now?: number): string {
  return `${prefix}_${ulid(now)}`;
}

/**
 * Device ids are what a device's certificate subject CN carries and what it uses as MQTT client id and in its
 * topics: 1 to 64 characters of `[A-Za-z0-9._-]`, starting with an alphanumeric. No `/`, `+`, `#` or NUL, so a
 * device id can never widen a topic filter.
 */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isDeviceId(s: unknown): s is string {
  return typeof s === 'string' && DEVICE_ID_PATTERN.test(s);
}

export function assertDeviceId(s: unknown): string {
  if (!isDeviceId(s)) {
    throw new ValidationError('validation.device_id', 'device id must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}', {
      details: { value: typeof s === 'string' ? s.slice(0, 80) : typeof s },
    });
  }
  return s;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new ValidationError('validation.hex', 'not an even-length hexadecimal string');
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}
