/**
 * Exponential backoff with full jitter: the n-th consecutive failure waits a uniformly random time in
 * [0, min(maxMs, baseMs · 2^n)). Full jitter spreads the retries of many gateways that lost the same uplink at the
 * same moment, so the cloud does not see them all come back in lock-step. A `Retry-After` from the cloud (429, 503)
 * is a floor: the gateway never comes back earlier than it was asked to.
 */
export interface BackoffPolicy {
  /** First ceiling, ms. Default 500. */
  baseMs: number;
  /** Largest ceiling, ms. Default 60 000. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 60_000 };

export function backoffDelay(
  failures: number,
  policy: BackoffPolicy,
  random: () => number,
  retryAfterMs?: number,
): number {
  const exp = Math.min(30, Math.max(0, failures - 1));
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exp);
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered);
}

/**
 * `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. Capped at
 * an hour so a confused proxy cannot park the gateway for days.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  let ms: number | undefined;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) ms = Math.max(0, t - now);
  }
  return ms === undefined ? undefined : Math.min(ms, 3_600_000);
}
