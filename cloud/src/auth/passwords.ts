import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashing with scrypt (memory-hard: N=2^15, r=8 → 32 MiB per hash, which makes GPU/ASIC guessing
 * expensive). Stored as `scrypt$N$r$p$salt$hash` (base64url) so the parameters can be raised later without
 * invalidating existing hashes.
 */
/** log2 of scrypt's N in production. Tests may lower it (`passwordLogN`) to stay fast; stored hashes name their N. */
export const DEFAULT_PASSWORD_LOG_N = 15;
const N = 2 ** DEFAULT_PASSWORD_LOG_N;
const R = 8;
const P = 1;
const KEY_LEN = 32;
// Node refuses scrypt when 128·N·r reaches maxmem (32 MiB by default); leave headroom.
const MAX_MEM = 128 * N * R * 2;

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LEN, { N: n, r, p, maxmem: 128 * n * r * 2 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string, logN: number = DEFAULT_PASSWORD_LOG_N): Promise<string> {
  const n = 2 ** logN;
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, n, R, P);
  return ['scrypt', n, R, P, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![n, r, p].every((x) => Number.isSafeInteger(x) && x > 0) || 128 * n * r > MAX_MEM * 4) return false;
  const expected = Buffer.from(parts[5] ?? '', 'base64url');
  let key: Buffer;
  try {
    key = await scryptAsync(password, Buffer.from(parts[4] ?? '', 'base64url'), n, r, p);
  } catch {
    return false; // parameters scrypt refuses (N not a power of two, …): a corrupt hash never matches
  }
  return expected.length === key.length && timingSafeEqual(expected, key);
}

/** A hash of a random password: verified against when the user does not exist, so timing does not tell. */
const decoys = new Map<number, Promise<string>>();
export function decoyHash(logN: number = DEFAULT_PASSWORD_LOG_N): Promise<string> {
  let d = decoys.get(logN);
  if (!d) {
    d = hashPassword(randomBytes(16).toString('base64url'), logN);
    decoys.set(logN, d);
  }
  return d;
}
