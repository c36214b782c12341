import { createHash } from 'node:crypto';
import { DEVICE_ID_PATTERN } from '@palisade/shared';
import { z } from 'zod';
import { SEVERITIES } from '../cases/workflow.js';

/**
 * One alert as a gateway reports it (the ingest endpoint maps its sync batch onto this). `occurredAt` is the device
 * event time of the first occurrence and `lastSeenAt` of the latest; `count` is the gateway's repeat counter.
 */
export const ingestAlertSchema = z.object({
  sourceAlertId: z.string().min(1).max(128).optional(),
  deviceId: z.string().regex(DEVICE_ID_PATTERN).optional(),
  type: z
    .string()
    .regex(/^[a-z][a-z0-9_.-]{0,63}$/)
    .describe('machine-readable kind, e.g. attestation_failed'),
  severity: z.enum(SEVERITIES),
  title: z.string().min(1).max(500),
  description: z.string().max(10_000).default(''),
  firmwareMeasurement: z
    .string()
    .regex(/^[0-9a-fA-F]{32,128}$/)
    .transform((s) => s.toLowerCase())
    .optional(),
  techniques: z.array(z.string().max(16)).max(32).default([]),
  occurredAt: z.coerce.date(),
  lastSeenAt: z.coerce.date().optional(),
  count: z
    .number()
    .int()
    .min(1)
    .max(2 ** 31 - 1)
    .default(1),
  details: z.record(z.string(), z.unknown()).default({}),
});

export type IngestAlertInput = z.input<typeof ingestAlertSchema>;
export type IngestAlert = z.output<typeof ingestAlertSchema>;

/**
 * The de-duplication key: sha256 over what identifies the event — site, device, kind, text, firmware and the device
 * time of its first occurrence. Left out on purpose: the gateway and its alert id (the same event relayed through
 * another path is still one alert), and what a gateway changes when it sees the event again — `count`,
 * `lastSeenAt`, `details` (latest wins) and `severity` (may escalate). A repeat therefore hashes like the original
 * and only moves those fields.
 */
export function alertContentHash(siteId: string, a: IngestAlert): string {
  // A JSON array has one serialisation, so equal content always hashes equally.
  const content = [
    siteId,
    a.deviceId ?? null,
    a.type,
    a.title,
    a.description,
    a.firmwareMeasurement ?? null,
    a.occurredAt.toISOString(),
  ];
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}
