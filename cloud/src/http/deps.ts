import type { Clock, Logger } from '@palisade/shared';
import type { CloudDatabase } from '../db/types.js';
import type { CertificateAuthority } from '../gateways/ca.js';
import type { RateLimiter } from '../sync/rate-limit.js';

/** What every route module receives from `createCloudApp`. No module-level singletons. */
export interface CloudDeps {
  database: CloudDatabase;
  clock: Clock;
  logger: Logger;
  ca: CertificateAuthority;
  rateLimiter: RateLimiter;
  /** Sign-in attempts, per e-mail address and per source address (password guessing). */
  loginLimiter: RateLimiter;
  /** `Secure` cookies: `auto` = when the request arrived over https (or behind a proxy saying so). */
  secureCookies: boolean | 'auto';
  sessionTtlMs: number;
  enrollmentTokenTtlMs: number;
  maxSyncBodyBytes: number;
  /** log2 of scrypt's N for new password hashes (15 in production). */
  passwordLogN: number;
}
