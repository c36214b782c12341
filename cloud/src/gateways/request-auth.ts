import { type KeyObject, X509Certificate } from 'node:crypto';
import {
  AuthError,
  SIGNATURE_HEADERS,
  SIGNATURE_WINDOW_SECONDS,
  signatureHeadersSchema,
  ValidationError,
  verifyRequestSignature,
} from '@palisade/shared';
import { eq, lt } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import { guardDatabase } from '../db/open-database.js';
import type { CloudDeps } from '../http/deps.js';
import type { AppEnv } from '../http/env.js';
import { gateways, requestNonces } from './schema.js';

/**
 * Authenticates a signed gateway request (contract: `shared/src/contracts/request-signing.ts`). Refuses, in this
 * order: missing or malformed headers; a timestamp outside ±300 s of the cloud clock (stale or post-dated); an
 * unknown gateway; a revoked gateway; an expired gateway certificate; a signature that does not verify with the key
 * of the gateway's certificate over this method, path, timestamp, nonce and body (forged, altered, or signed by
 * another gateway); a nonce this gateway already used within the window (replay). The nonce is recorded only after
 * the signature verifies, so unauthenticated traffic cannot fill the replay cache; the cache is a table, so a replay
 * is caught across restarts and across instances. The body is read once, bounded by `maxBytes`, and handed on as
 * `rawBody`.
 */
export function gatewayAuth(deps: CloudDeps, maxBytes: number): MiddlewareHandler<AppEnv> {
  const { database, clock } = deps;
  /** Per gateway: the certified key and the certificate's end of validity (parsed once). */
  const certs = new Map<string, { key: KeyObject; notAfter: number }>();
  let lastPrune = 0;
  return async function gatewayAuthMiddleware(c, next) {
    const parsed = signatureHeadersSchema.safeParse({
      gatewayId: c.req.header(SIGNATURE_HEADERS.gateway),
      timestamp: c.req.header(SIGNATURE_HEADERS.timestamp),
      nonce: c.req.header(SIGNATURE_HEADERS.nonce),
      signature: c.req.header(SIGNATURE_HEADERS.signature),
    });
    if (!parsed.success) {
      throw new AuthError('auth.bad_signature', 'missing or malformed request-signature headers', {
        details: { headers: Object.values(SIGNATURE_HEADERS) },
      });
    }
    const h = parsed.data;
    const now = clock.now();
    const skew = Math.abs(Math.floor(now / 1000) - Number(h.timestamp));
    if (skew > SIGNATURE_WINDOW_SECONDS) {
      throw new AuthError('auth.stale_request', 'request timestamp outside the allowed window', {
        details: { windowSeconds: SIGNATURE_WINDOW_SECONDS, serverTime: new Date(now).toISOString() },
      });
    }
    const declared = Number(c.req.header('content-length') ?? '0');
    if (declared > maxBytes) tooLarge(maxBytes);
    const body = await readBounded(c.req.raw, maxBytes);

    const [gw] = await guardDatabase(() =>
      database.db
        .select({
          id: gateways.id,
          orgId: gateways.orgId,
          siteId: gateways.siteId,
          certPem: gateways.certPem,
          revokedAt: gateways.revokedAt,
        })
        .from(gateways)
        .where(eq(gateways.id, h.gatewayId))
        .limit(1),
    );
    if (!gw) throw new AuthError('auth.unknown_gateway', 'unknown gateway');
    if (gw.revokedAt !== null) throw new AuthError('auth.gateway_revoked', 'this gateway has been revoked');
    let cert = certs.get(gw.id);
    if (!cert) {
      const x = new X509Certificate(gw.certPem);
      cert = { key: x.publicKey, notAfter: Date.parse(x.validTo) };
      certs.set(gw.id, cert);
    }
    if (now > cert.notAfter) {
      throw new AuthError('auth.certificate_expired', 'the gateway certificate has expired; enroll again', {
        details: { notAfter: new Date(cert.notAfter).toISOString() },
      });
    }
    const key = cert.key;
    const url = new URL(c.req.url);
    const ok = verifyRequestSignature(key, {
      method: c.req.method,
      path: url.pathname + url.search,
      timestamp: h.timestamp,
      nonce: h.nonce,
      signature: h.signature,
      body,
    });
    if (!ok) throw new AuthError('auth.bad_signature', 'request signature does not verify');

    if (now - lastPrune > 60_000) {
      lastPrune = now;
      const horizon = new Date(now - 2 * SIGNATURE_WINDOW_SECONDS * 1000);
      await guardDatabase(() => database.db.delete(requestNonces).where(lt(requestNonces.seenAt, horizon)));
    }
    const inserted = await guardDatabase(() =>
      database.db
        .insert(requestNonces)
        .values({ gatewayId: gw.id, nonce: h.nonce, seenAt: new Date(now) })
        .onConflictDoNothing()
        .returning({ nonce: requestNonces.nonce }),
    );
    if (inserted.length === 0) throw new AuthError('auth.replayed_request', 'nonce already used: replayed request');

    c.set('principal', { kind: 'gateway', id: gw.id, orgId: gw.orgId, siteId: gw.siteId });
    c.set('rawBody', body);
    c.set('gatewayKey', key);
    return next();
  };
}

/** Reads the body, stopping as soon as it passes `maxBytes` (a chunked upload has no Content-Length to check). */
async function readBounded(req: Request, maxBytes: number): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function tooLarge(maxBytes: number): never {
  throw new ValidationError('validation.body_too_large', `request body exceeds ${maxBytes} bytes`, {
    details: { maxBytes },
  });
}
