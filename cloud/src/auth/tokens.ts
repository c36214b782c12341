import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ulid } from '@palisade/shared';

/** sha256, hex: what the database keeps of every bearer secret (API keys, sessions, enrollment tokens). */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** API keys are `pk_<id>_<secret>`: the id finds the row, only sha256(secret) is stored; `pk_<id>` is shown. */
const API_KEY_RE = /^pk_([A-Za-z0-9]{8,40})_([A-Za-z0-9_-]{32,128})$/;

export function newApiKey(now: number): { id: string; key: string; secret: string } {
  const id = ulid(now);
  const secret = randomSecret();
  return { id, secret, key: `pk_${id}_${secret}` };
}

export function parseApiKey(key: string): { id: string; secret: string } | undefined {
  const m = API_KEY_RE.exec(key);
  return m?.[1] && m[2] ? { id: m[1], secret: m[2] } : undefined;
}

export function apiKeyPrefix(id: string): string {
  return `pk_${id}`;
}
