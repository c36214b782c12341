import { z } from '@hono/zod-openapi';
import { iso } from '../http/openapi-helpers.js';
import type { gateways } from './schema.js';

export const gatewayView = z.object({
  id: z.string(),
  siteId: z.string(),
  name: z.string(),
  status: z.enum(['active', 'revoked']),
  certSerial: z.string(),
  enrolledAt: z.string(),
  revokedAt: z.string().nullable(),
  lastSeenAt: z.string().nullable(),
  ackedSequence: z.number(),
  /** Cloud receive time minus the gateway receive time of the oldest record of the last batch. */
  syncLagMs: z.number().nullable(),
  clockSkewMs: z.number().nullable(),
});
export type GatewayView = z.infer<typeof gatewayView>;

export function toGatewayView(g: typeof gateways.$inferSelect): GatewayView {
  return {
    id: g.id,
    siteId: g.siteId,
    name: g.name,
    status: g.revokedAt === null ? 'active' : 'revoked',
    certSerial: g.certSerial,
    enrolledAt: g.enrolledAt.toISOString(),
    revokedAt: iso(g.revokedAt),
    lastSeenAt: iso(g.lastSeenAt),
    ackedSequence: g.ackedSeq,
    syncLagMs: g.syncLagMs,
    clockSkewMs: g.clockSkewMs,
  };
}
