import { createRoute } from '@hono/zod-openapi';
import { AuthError, PalisadeError, SIGNATURE_HEADERS, syncAckSchema, syncBatchSchema } from '@palisade/shared';
import { toJSONSchema } from 'zod';
import { takePendingCommands } from '../commands/service.js';
import { gatewayAuth } from '../gateways/request-auth.js';
import type { CloudDeps } from '../http/deps.js';
import { json } from '../http/openapi-helpers.js';
import { newRouter } from '../http/router.js';
import { decodeBatch, decodeContentEncoding, type VerifiedResult, verifyAttestationJwt } from './decode.js';
import { storeBatch } from './ingest.js';

/** `POST /sync/batches`: the gateway's upload (signed request, JSON or CBOR). */
export function syncRoutes(deps: CloudDeps) {
  const { database, clock, rateLimiter } = deps;
  const r = newRouter();
  // The body is not declared as a validated request body: the signature covers the raw bytes, which the gateway
  // auth middleware reads once; the handler decodes them (JSON or CBOR). The schema is published as a component.
  r.openAPIRegistry.registerComponent(
    'schemas',
    'SyncBatch',
    toJSONSchema(syncBatchSchema, { io: 'input', unrepresentable: 'any' }) as never,
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/sync/batches',
      tags: ['sync'],
      summary:
        'Stores a batch of gateway records; idempotent per (gateway, sequence); answers the acknowledged sequence',
      security: [],
      middleware: [gatewayAuth(deps, deps.maxSyncBodyBytes)] as const,
      description: `Body: a SyncBatch as application/json or application/cbor. Headers: ${Object.values(SIGNATURE_HEADERS).join(', ')} (see request-signing).`,
      responses: { 200: json(syncAckSchema) },
    }),
    async (c) => {
      const gw = c.get('principal');
      if (gw.kind !== 'gateway') throw new AuthError('auth.forbidden', 'only gateways sync');
      const limit = rateLimiter.take(gw.id);
      if (!limit.ok) {
        throw new PalisadeError('rate_limited.gateway', 'too many batches; retry later', {
          details: { retryAfterSeconds: limit.retryAfterSeconds },
        });
      }
      const body = decodeContentEncoding(c.get('rawBody'), c.req.header('content-encoding'), deps.maxSyncBodyBytes);
      const batch = decodeBatch(body, c.req.header('content-type'));
      if (batch.gatewayId !== gw.id) {
        throw new AuthError('auth.wrong_gateway', 'batch names another gateway than the one that signed it');
      }
      const results = new Map<string, VerifiedResult>();
      for (const rec of batch.records) {
        if (rec.kind === 'attestation_result') {
          results.set(rec.id, await verifyAttestationJwt(rec.data.jwt, c.get('gatewayKey'), gw.id, rec.id));
        }
      }
      const now = clock.now();
      const stored = await database.withTenant(gw.orgId, (tx) =>
        storeBatch(tx, { orgId: gw.orgId, siteId: gw.siteId, gatewayId: gw.id, now, clock }, batch, results),
      );
      // Commands waiting for this gateway ride on the ack (commands/), so a syncing gateway needs no extra round trip.
      const commands = await database.withTenant(gw.orgId, (tx) =>
        takePendingCommands(tx, gw.orgId, gw.id, clock.now()),
      );
      return c.json(
        {
          ackedSequence: stored.ackedSequence,
          duplicate: stored.duplicate,
          ...(commands.length > 0 ? { commands } : {}),
        },
        200,
      );
    },
  );
  return r;
}
