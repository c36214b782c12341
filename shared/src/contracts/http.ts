import { z } from 'zod';

/**
 * The cloud's HTTP conventions shared with its clients (the gateway's sync client, the dashboard, the CLI).
 * Every error answer has one shape: `{"error": {"code", "message", "details"}}` with `code` a dotted reason code
 * (`auth.invalid_credentials`, `validation.body`, `unavailable.database`).
 */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** Pagination of every list: `?limit=&cursor=`; the answer carries `nextCursor` (null on the last page). */
export const PAGE_LIMIT_DEFAULT = 50;
export const PAGE_LIMIT_MAX = 500;
export const pageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(PAGE_LIMIT_MAX).default(PAGE_LIMIT_DEFAULT),
  cursor: z.string().max(512).optional(),
});

/** Enrollment: a gateway trades a one-time token and a CSR for a certificate from the cloud's CA. */
export const enrollRequestSchema = z.object({
  /** The one-time token an admin created for a site (`pet_…`). */
  token: z.string().min(10).max(200),
  /** PKCS#10 certificate signing request, PEM, for a P-256 key. */
  csrPem: z.string().min(100).max(8192),
  /** Human name of the gateway (defaults to the CSR's subject CN). */
  name: z.string().min(1).max(128).optional(),
});
export type EnrollRequest = z.infer<typeof enrollRequestSchema>;

export const enrollResponseSchema = z.object({
  gatewayId: z.string(),
  orgId: z.string(),
  siteId: z.string(),
  /** The gateway's certificate (PEM); its key signs every later request (see request-signing). */
  certificatePem: z.string(),
  /** The cloud CA's certificate (PEM), to pin. */
  caCertificatePem: z.string(),
});
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;

export const ENROLL_PATH = '/api/v1/gateways/enroll';
export const SYNC_BATCHES_PATH = '/api/v1/sync/batches';
