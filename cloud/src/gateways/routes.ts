import { createRoute, z } from '@hono/zod-openapi';
import {
  AuthError,
  ConflictError,
  enrollRequestSchema,
  enrollResponseSchema,
  NotFoundError,
  newId,
} from '@palisade/shared';
import { and, eq, isNull } from 'drizzle-orm';
import { recordAudit } from '../audit/audit.js';
import { member, requireRole } from '../auth/roles.js';
import { randomSecret, secretHash } from '../auth/tokens.js';
import { guardDatabase } from '../db/open-database.js';
import type { CloudDeps } from '../http/deps.js';
import { idParam, iso, json, jsonBody } from '../http/openapi-helpers.js';
import { newRouter } from '../http/router.js';
import { sites } from '../tenancy/schema.js';
import { enrollmentTokens, gateways } from './schema.js';
import { gatewayView, toGatewayView } from './views.js';

const TOKEN_PREFIX = 'pet_';

/** Enrollment tokens, gateway enrollment (public, token-authenticated) and revocation. */
export function gatewayRoutes(deps: CloudDeps) {
  const { database, clock, ca } = deps;
  const r = newRouter();

  r.openapi(
    createRoute({
      method: 'post',
      path: '/enrollment-tokens',
      tags: ['gateways'],
      summary: 'Creates a one-time, expiring enrollment token for a site (by id, or by name: created if missing)',
      middleware: [requireRole('admin')] as const,
      request: {
        body: jsonBody(
          z
            .object({
              siteId: z.string().max(64).optional(),
              siteName: z.string().min(1).max(128).optional(),
              ttlSeconds: z
                .int()
                .min(60)
                .max(7 * 86_400)
                .optional(),
            })
            .refine((b) => (b.siteId === undefined) !== (b.siteName === undefined), {
              message: 'give siteId or siteName',
            }),
        ),
      },
      responses: {
        201: json(
          z.object({ token: z.string(), id: z.string(), siteId: z.string(), expiresAt: z.string() }),
          'Created',
        ),
      },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const body = c.req.valid('json');
      const now = clock.now();
      const secret = `${TOKEN_PREFIX}${randomSecret()}`;
      const ttl = (body.ttlSeconds ?? deps.enrollmentTokenTtlMs / 1000) * 1000;
      const out = await database.withTenant(p.orgId, async (tx) => {
        let siteId = body.siteId;
        if (siteId !== undefined) {
          const [s] = await tx
            .select({ id: sites.id })
            .from(sites)
            .where(and(eq(sites.orgId, p.orgId), eq(sites.id, siteId)));
          if (!s) throw new NotFoundError('not_found.site', 'no such site');
        } else {
          const name = body.siteName ?? '';
          const [s] = await tx
            .select({ id: sites.id })
            .from(sites)
            .where(and(eq(sites.orgId, p.orgId), eq(sites.name, name)));
          if (s) siteId = s.id;
          else {
            siteId = newId('site', now);
            await tx.insert(sites).values({ id: siteId, orgId: p.orgId, name, createdAt: new Date(now) });
            await recordAudit(
              tx,
              p.orgId,
              p,
              c.get('source'),
              { action: 'site.create', targetType: 'site', targetId: siteId, after: { name } },
              now,
            );
          }
        }
        const id = newId('enr', now);
        const expiresAt = new Date(now + ttl);
        await tx.insert(enrollmentTokens).values({
          id,
          orgId: p.orgId,
          siteId,
          secretHash: secretHash(secret),
          createdBy: p.id,
          createdAt: new Date(now),
          expiresAt,
        });
        await recordAudit(
          tx,
          p.orgId,
          p,
          c.get('source'),
          {
            action: 'enrollment_token.create',
            targetType: 'enrollment_token',
            targetId: id,
            after: { siteId, expiresAt: expiresAt.toISOString() },
          },
          now,
        );
        return { id, siteId, expiresAt: expiresAt.toISOString() };
      });
      return c.json({ token: secret, ...out }, 201);
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/gateways/enroll',
      tags: ['gateways'],
      summary: 'A gateway trades a one-time enrollment token and a P-256 CSR for a certificate of the cloud CA',
      security: [],
      request: { body: jsonBody(enrollRequestSchema) },
      responses: { 201: json(enrollResponseSchema, 'Enrolled') },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const now = clock.now();
      const hash = secretHash(body.token);
      const [tok] = await guardDatabase(() =>
        database.db.select().from(enrollmentTokens).where(eq(enrollmentTokens.secretHash, hash)).limit(1),
      );
      // One answer for unknown, used and expired tokens: a prober learns nothing about which tokens exist.
      const refuse = () => new AuthError('auth.invalid_enrollment_token', 'enrollment token unknown, used or expired');
      if (!tok || tok.usedAt !== null || tok.expiresAt.getTime() <= now) throw refuse();
      const gatewayId = newId('gw', now);
      const issued = await ca.issueGatewayCertificate({ csrPem: body.csrPem, gatewayId, now });
      const name = body.name ?? issued.requestedName ?? gatewayId;
      await database.withTenant(tok.orgId, async (tx) => {
        // Consuming the token and creating the gateway commit together; of two racing uses only one updates the row.
        const used = await tx
          .update(enrollmentTokens)
          .set({ usedAt: new Date(now), gatewayId })
          .where(and(eq(enrollmentTokens.id, tok.id), isNull(enrollmentTokens.usedAt)))
          .returning({ id: enrollmentTokens.id });
        if (used.length === 0) throw refuse();
        await tx.insert(gateways).values({
          id: gatewayId,
          orgId: tok.orgId,
          siteId: tok.siteId,
          name,
          certPem: issued.certificatePem,
          certSerial: issued.serialHex,
          publicKeySpki: issued.publicKeySpki,
          enrolledAt: new Date(now),
        });
        await recordAudit(
          tx,
          tok.orgId,
          { kind: 'gateway', id: gatewayId, orgId: tok.orgId, siteId: tok.siteId },
          c.get('source'),
          {
            action: 'gateway.enroll',
            targetType: 'gateway',
            targetId: gatewayId,
            after: { name, siteId: tok.siteId, certSerial: issued.serialHex, enrollmentTokenId: tok.id },
          },
          now,
        );
      });
      return c.json(
        {
          gatewayId,
          orgId: tok.orgId,
          siteId: tok.siteId,
          certificatePem: issued.certificatePem,
          caCertificatePem: ca.certificatePem,
        },
        201,
      );
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/gateways/{id}/revoke',
      tags: ['gateways'],
      summary: 'Revokes a gateway: its signed requests are refused from now on',
      middleware: [requireRole('admin')] as const,
      request: { params: idParam },
      responses: { 200: json(gatewayView) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const { id } = c.req.valid('param');
      const now = clock.now();
      const row = await database.withTenant(p.orgId, async (tx) => {
        const [before] = await tx
          .select()
          .from(gateways)
          .where(and(eq(gateways.orgId, p.orgId), eq(gateways.id, id)))
          .for('update');
        if (!before) throw new NotFoundError('not_found.gateway', 'no such gateway');
        if (before.revokedAt !== null) throw new ConflictError('conflict.gateway_revoked', 'gateway already revoked');
        const [after] = await tx
          .update(gateways)
          .set({ revokedAt: new Date(now) })
          .where(eq(gateways.id, id))
          .returning();
        if (!after) throw new NotFoundError('not_found.gateway', 'no such gateway');
        await recordAudit(
          tx,
          p.orgId,
          p,
          c.get('source'),
          {
            action: 'gateway.revoke',
            targetType: 'gateway',
            targetId: id,
            before: { revokedAt: null },
            after: { revokedAt: iso(after.revokedAt) },
          },
          now,
        );
        return after;
      });
      return c.json(toGatewayView(row), 200);
    },
  );

  return r;
}
