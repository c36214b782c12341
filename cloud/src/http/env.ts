import type { KeyObject } from 'node:crypto';
import type { UserRole } from '../tenancy/schema.js';

/** Who is calling: a dashboard user (cookie session), an API key (Bearer), or an enrolled gateway (signed). */
export type Principal =
  | { kind: 'user'; id: string; orgId: string; role: UserRole; sessionIdHash: string }
  | { kind: 'api_key'; id: string; orgId: string; role: UserRole }
  | { kind: 'gateway'; id: string; orgId: string; siteId: string };

/** Where a request came from, for the audit log. */
export interface RequestSource {
  ip: string | undefined;
  userAgent: string | undefined;
}

export interface AppEnv {
  Variables: {
    principal: Principal;
    source: RequestSource;
    /** The exact request body bytes (signed gateway routes only: the signature covers them). */
    rawBody: Uint8Array;
    /** The public key of the authenticated gateway's certificate (signed gateway routes only). */
    gatewayKey: KeyObject;
  };
}
