import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '@palisade/shared';

/**
 * Per-device MQTT passwords, stored only as scrypt hashes (RFC 7914):
 * `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>` (hex is also read). Parameters travel with the hash so they can be raised later
 * without invalidating stored credentials; on verification they are bounded so a tampered record cannot make a
 * login cost seconds of CPU or gigabytes of memory.
 */

const DEFAULT = { N: 16384, r: 8, p: 1 } as const;
const KEY_LEN = 32;
const SALT_LEN = 16;
const MAX_N = 1 << 20;
const MAX_PASSWORD_BYTES = 1024;

function derive(password: string, salt: Buffer, o: { N: number; r: number; p: number }): Promise<Buffer> {
  const opts: ScryptOptions = { N: o.N, r: o.r, p: o.p, maxmem: 256 * o.N * o.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LEN, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  if (typeof password !== 'string' || password.length === 0 || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    throw new ValidationError('validation.password', `password must be 1 to ${MAX_PASSWORD_BYTES} bytes`);
  }
  const salt = randomBytes(SALT_LEN);
  const key = await derive(password, salt, DEFAULT);
  return `scrypt$${DEFAULT.N}$${DEFAULT.r}$${DEFAULT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Constant-time comparison; false (never a throw) for a malformed record or an over-long password. */
export async function verifyPassword(password: string | Buffer, stored: string): Promise<boolean> {
  const parts = typeof stored === 'string' ? stored.split('$') : [];
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const N = Number(parts[1]);
  const r = Number(parts[2]);
  const p = Number(parts[3]);
  const valid =
    Number.isInteger(N) && N >= 2 && N <= MAX_N && (N & (N - 1)) === 0 && Number.isInteger(r) && r >= 1 && r <= 32;
  if (!valid || !Number.isInteger(p) || p < 1 || p > 16) return false;
  // Hex encodings (as written by the gateway's credential store) are accepted beside base64.
  const encoding = /^[0-9a-f]{64}$/i.test(parts[5] ?? '') ? 'hex' : 'base64';
  const salt = Buffer.from(parts[4] ?? '', encoding);
  const expected = Buffer.from(parts[5] ?? '', encoding);
  if (salt.length < 8 || expected.length !== KEY_LEN) return false;
  const text = typeof password === 'string' ? password : password.toString('utf8');
  if (text.length === 0 || Buffer.byteLength(text) > MAX_PASSWORD_BYTES) return false;
  const key = await derive(text, salt, { N, r, p });
  return timingSafeEqual(key, expected);
}
