import type { Clock } from '@palisade/shared';

export interface RateLimitPolicy {
  /** Requests a gateway may send in a burst. */
  burst: number;
  /** Sustained requests per second. */
  perSecond: number;
}

/** Per gateway: 20 batches at once, then 5 per second. A gateway syncing a backlog stays well inside this. */
export const DEFAULT_SYNC_RATE: RateLimitPolicy = { burst: 20, perSecond: 5 };

/** Sign-in attempts: 10 at once, then one per 10 s, per e-mail address and per source address. */
export const DEFAULT_LOGIN_RATE: RateLimitPolicy = { burst: 10, perSecond: 0.1 };

export interface RateLimiter {
  /** Takes one token for `key`; when none is left, says how many seconds until one is. */
  take(key: string): { ok: true } | { ok: false; retryAfterSeconds: number };
}

/**
 * Token bucket per key, in memory: per instance, which bounds what one gateway can cost one instance (the point of
 * the limit). Buckets idle long enough to be full again are dropped, so memory is bounded by active gateways.
 */
export function tokenBucketLimiter(policy: RateLimitPolicy, clock: Clock): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const fullAfterMs = (policy.burst / policy.perSecond) * 1000;
  let lastSweep = clock.now();
  return {
    take(key) {
      const now = clock.now();
      if (now - lastSweep > fullAfterMs * 2) {
        for (const [k, b] of buckets) if (now - b.at > fullAfterMs) buckets.delete(k);
        lastSweep = now;
      }
      const b = buckets.get(key) ?? { tokens: policy.burst, at: now };
      b.tokens = Math.min(policy.burst, b.tokens + ((now - b.at) / 1000) * policy.perSecond);
      b.at = now;
      buckets.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / policy.perSecond)) };
    },
  };
}
