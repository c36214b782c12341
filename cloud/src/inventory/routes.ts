import { createRoute, z } from '@hono/zod-openapi';
import {
  BOARD_FAMILIES,
  ConflictError,
  DEVICE_ATTESTATION_STATUSES,
  EAR_STATUSES,
  NotFoundError,
  newId,
} from '@palisade/shared';
import { and, asc, count, desc, eq, gt, ilike, isNotNull, isNull, lt, max, or, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit.js';
import { member, requireRole } from '../auth/roles.js';
import { gateways } from '../gateways/schema.js';
import { gatewayView, toGatewayView } from '../gateways/views.js';
import type { CloudDeps } from '../http/deps.js';
import { idParam, iso, json, jsonBody } from '../http/openapi-helpers.js';
import { decodeCursor, page, pageById, pageQuery, pageSchema } from '../http/pagination.js';
import { newRouter } from '../http/router.js';
import { sites } from '../tenancy/schema.js';
import { attestationResults, devices } from './schema.js';

const siteView = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  createdAt: z.string(),
});
const deviceView = z.object({
  id: z.string(),
  siteId: z.string(),
  gatewayId: z.string(),
  boardFamily: z.string(),
  firmwareVersion: z.string().nullable(),
  firmwareMeasurement: z.string().nullable(),
  certSerial: z.string().nullable(),
  attestationStatus: z.string(),
  quarantined: z.boolean(),
  riskScore: z.number(),
  lastSeenAt: z.string().nullable(),
  /** Appraisal time of the newest attestation result the cloud holds for the device. */
  lastAttestedAt: z.string().nullable(),
  updatedAt: z.string(),
});
const attestationView = z.object({
  id: z.string(),
  gatewayId: z.string(),
  siteId: z.string(),
  deviceId: z.string(),
  status: z.string(),
  reasons: z.array(z.string()),
  appraisedAt: z.string(),
  receivedAt: z.string(),
  claims: z.unknown(),
  /** The result exactly as the gateway signed it (compact JWS): verifiable offline with the gateway certificate. */
  jwt: z.string(),
});
const cohortView = z.object({
  firmwareMeasurement: z.string(),
  boardFamily: z.string(),
  firmwareVersions: z.array(z.string()),
  devices: z.number(),
  sites: z.array(z.object({ siteId: z.string(), devices: z.number() })),
  lastSeenAt: z.string().nullable(),
});

const toSite = (s: typeof sites.$inferSelect) => ({
  id: s.id,
  name: s.name,
  description: s.description,
  createdAt: s.createdAt.toISOString(),
});
const toDevice = (d: typeof devices.$inferSelect): z.infer<typeof deviceView> => ({
  id: d.id,
  siteId: d.siteId,
  gatewayId: d.gatewayId,
  boardFamily: d.boardFamily,
  firmwareVersion: d.firmwareVersion,
  firmwareMeasurement: d.firmwareMeasurement,
  certSerial: d.certSerial,
  attestationStatus: d.attestationStatus,
  quarantined: d.quarantined,
  riskScore: d.riskScore,
  lastSeenAt: iso(d.lastSeenAt),
  lastAttestedAt: iso(d.lastAttestedAt),
  updatedAt: d.updatedAt.toISOString(),
});

/**
 * Read side of the fleet: sites, gateways, devices, attestation history, firmware cohorts. Every list is keyset
 * paginated and filterable, every query runs as the caller's tenant (and filters by org explicitly as well).
 */
export function inventoryRoutes(deps: CloudDeps) {
  const { database, clock } = deps;
  const r = newRouter();

  r.openapi(
    createRoute({
      method: 'get',
      path: '/sites',
      tags: ['inventory'],
      middleware: [requireRole('viewer')] as const,
      request: { query: z.object({ ...pageQuery, name: z.string().max(128).optional() }) },
      responses: { 200: json(pageSchema(siteView)) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const q = c.req.valid('query');
      const pg = await pageById(database, p.orgId, sites, q, [q.name ? eq(sites.name, q.name) : undefined]);
      return c.json({ items: pg.items.map(toSite), nextCursor: pg.nextCursor }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/sites',
      tags: ['inventory'],
      middleware: [requireRole('admin')] as const,
      request: {
        body: jsonBody(z.object({ name: z.string().min(1).max(128), description: z.string().max(1000).optional() })),
      },
      responses: { 201: json(siteView, 'Created') },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const body = c.req.valid('json');
      const now = clock.now();
      const row = await database.withTenant(p.orgId, async (tx) => {
        const [dup] = await tx
          .select({ id: sites.id })
          .from(sites)
          .where(and(eq(sites.orgId, p.orgId), eq(sites.name, body.name)));
        if (dup) throw new ConflictError('conflict.site_exists', 'a site with this name exists');
        const [s] = await tx
          .insert(sites)
          .values({
            id: newId('site', now),
            orgId: p.orgId,
            name: body.name,
            description: body.description ?? null,
            createdAt: new Date(now),
          })
          .returning();
        if (!s) throw new ConflictError('conflict.site_exists', 'site not created');
        await recordAudit(
          tx,
          p.orgId,
          p,
          c.get('source'),
          { action: 'site.create', targetType: 'site', targetId: s.id, after: toSite(s) },
          now,
        );
        return s;
      });
      return c.json(toSite(row), 201);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/gateways',
      tags: ['inventory'],
      middleware: [requireRole('viewer')] as const,
      request: {
        query: z.object({
          ...pageQuery,
          siteId: z.string().max(64).optional(),
          status: z.enum(['active', 'revoked']).optional(),
        }),
      },
      responses: { 200: json(pageSchema(gatewayView)) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const q = c.req.valid('query');
      const pg = await pageById(database, p.orgId, gateways, q, [
        q.siteId ? eq(gateways.siteId, q.siteId) : undefined,
        q.status === 'active'
          ? isNull(gateways.revokedAt)
          : q.status === 'revoked'
            ? isNotNull(gateways.revokedAt)
            : undefined,
      ]);
      return c.json({ items: pg.items.map(toGatewayView), nextCursor: pg.nextCursor }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/gateways/{id}',
      tags: ['inventory'],
      middleware: [requireRole('viewer')] as const,
      request: { params: idParam },
      responses: { 200: json(gatewayView) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const { id } = c.req.valid('param');
      const [g] = await database.withTenant(p.orgId, (tx) =>
        tx
          .select()
          .from(gateways)
          .where(and(eq(gateways.orgId, p.orgId), eq(gateways.id, id))),
      );
      if (!g) throw new NotFoundError('not_found.gateway', 'no such gateway');
      return c.json(toGatewayView(g), 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/devices',
      tags: ['inventory'],
      middleware: [requireRole('viewer')] as const,
      request: {
        query: z.object({
          ...pageQuery,
          siteId: z.string().max(64).optional(),
          gatewayId: z.string().max(64).optional(),
          boardFamily: z.enum(BOARD_FAMILIES).optional(),
          attestationStatus: z.enum(DEVICE_ATTESTATION_STATUSES).optional(),
          firmwareMeasurement: z.string().max(128).optional(),
          minRiskScore: z.coerce.number().min(0).max(100).optional(),
          q: z.string().max(64).optional().describe('device id substring'),
        }),
      },
      responses: { 200: json(pageSchema(deviceView)) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const q = c.req.valid('query');
      const pg = await pageById(database, p.orgId, devices, q, [
        q.siteId ? eq(devices.siteId, q.siteId) : undefined,
        q.gatewayId ? eq(devices.gatewayId, q.gatewayId) : undefined,
        q.boardFamily ? eq(devices.boardFamily, q.boardFamily) : undefined,
        q.attestationStatus ? eq(devices.attestationStatus, q.attestationStatus) : undefined,
        q.firmwareMeasurement ? eq(devices.firmwareMeasurement, q.firmwareMeasurement.toLowerCase()) : undefined,
        q.minRiskScore === undefined ? undefined : sql`${devices.riskScore} >= ${q.minRiskScore}`,
        q.q ? ilike(devices.id, `%${q.q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`) : undefined,
      ]);
      return c.json({ items: pg.items.map(toDevice), nextCursor: pg.nextCursor }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/devices/{id}',
      tags: ['inventory'],
      middleware: [requireRole('viewer')] as const,
      request: { params: idParam },
      responses: { 200: json(deviceView) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const { id } = c.req.valid('param');
      const [d] = await database.withTenant(p.orgId, (tx) =>
        tx
          .select()
          .from(devices)
          .where(and(eq(devices.orgId, p.orgId), eq(devices.id, id))),
      );
      if (!d) throw new NotFoundError('not_found.device', 'no such device');
      return c.json(toDevice(d), 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/devices/{id}/attestations',
      tags: ['inventory'],
      summary: 'Attestation history of a device, newest first, with the signed results',
      middleware: [requireRole('viewer')] as const,
      request: {
        params: idParam,
        query: z.object({
          ...pageQuery,
          status: z.enum(EAR_STATUSES).optional(),
          since: z.iso.datetime({ offset: true }).optional(),
        }),
      },
      responses: { 200: json(pageSchema(attestationView)) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const after = decodeCursor(q.cursor, 2);
      const rows = await database.withTenant(p.orgId, (tx) =>
        tx
          .select()
          .from(attestationResults)
          .where(
            and(
              eq(attestationResults.orgId, p.orgId),
              eq(attestationResults.deviceId, id),
              q.status ? eq(attestationResults.status, q.status) : undefined,
              q.since ? gt(attestationResults.appraisedAt, new Date(q.since)) : undefined,
              after
                ? or(
                    lt(attestationResults.appraisedAt, new Date(Number(after[0]))),
                    and(
                      eq(attestationResults.appraisedAt, new Date(Number(after[0]))),
                      lt(attestationResults.jti, String(after[1])),
                    ),
                  )
                : undefined,
            ),
          )
          .orderBy(desc(attestationResults.appraisedAt), desc(attestationResults.jti))
          .limit(q.limit + 1),
      );
      const pg = page(rows, q.limit, (a) => [a.appraisedAt.getTime(), a.jti]);
      return c.json(
        {
          items: pg.items.map((a) => ({
            id: a.jti,
            gatewayId: a.gatewayId,
            siteId: a.siteId,
            deviceId: a.deviceId,
            status: a.status,
            reasons: a.reasons,
            appraisedAt: a.appraisedAt.toISOString(),
            receivedAt: a.receivedAt.toISOString(),
            claims: a.claims,
            jwt: a.jwt,
          })),
          nextCursor: pg.nextCursor,
        },
        200,
      );
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/firmware-cohorts',
      tags: ['inventory'],
      summary: 'Devices grouped by firmware measurement: how many run each image, and at which sites',
      middleware: [requireRole('viewer')] as const,
      request: {
        query: z.object({
          ...pageQuery,
          boardFamily: z.enum(BOARD_FAMILIES).optional(),
          siteId: z.string().max(64).optional(),
        }),
      },
      responses: { 200: json(pageSchema(cohortView)) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const q = c.req.valid('query');
      const after = decodeCursor(q.cursor, 1);
      const where = and(
        eq(devices.orgId, p.orgId),
        isNotNull(devices.firmwareMeasurement),
        q.boardFamily ? eq(devices.boardFamily, q.boardFamily) : undefined,
        q.siteId ? eq(devices.siteId, q.siteId) : undefined,
      );
      const { cohorts, perSite } = await database.withTenant(p.orgId, async (tx) => {
        const cohorts = await tx
          .select({
            firmwareMeasurement: sql<string>`${devices.firmwareMeasurement}`,
            boardFamily: sql<string>`min(${devices.boardFamily})`,
            versions: sql<string[]>`array_remove(array_agg(distinct ${devices.firmwareVersion}), null)`,
            devices: count(),
            lastSeenAt: max(devices.lastSeenAt),
          })
          .from(devices)
          .where(and(where, after ? gt(devices.firmwareMeasurement, String(after[0])) : undefined))
          .groupBy(devices.firmwareMeasurement)
          .orderBy(asc(devices.firmwareMeasurement))
          .limit(q.limit + 1);
        const measurements = cohorts.slice(0, q.limit).map((x) => x.firmwareMeasurement);
        const perSite =
          measurements.length === 0
            ? []
            : await tx
                .select({
                  firmwareMeasurement: sql<string>`${devices.firmwareMeasurement}`,
                  siteId: devices.siteId,
                  devices: count(),
                })
                .from(devices)
                .where(and(where, sql`${devices.firmwareMeasurement} in ${measurements}`))
                .groupBy(devices.firmwareMeasurement, devices.siteId)
                .orderBy(asc(devices.siteId));
        return { cohorts, perSite };
      });
      const pg = page(cohorts, q.limit, (x) => [x.firmwareMeasurement]);
      return c.json(
        {
          items: pg.items.map((x) => ({
            firmwareMeasurement: x.firmwareMeasurement,
            boardFamily: x.boardFamily,
            firmwareVersions: x.versions ?? [],
            devices: Number(x.devices),
            sites: perSite
              .filter((s) => s.firmwareMeasurement === x.firmwareMeasurement)
              .map((s) => ({ siteId: s.siteId, devices: Number(s.devices) })),
            lastSeenAt: x.lastSeenAt === null ? null : new Date(x.lastSeenAt).toISOString(),
          })),
          nextCursor: pg.nextCursor,
        },
        200,
      );
    },
  );

  return r;
}
