import { index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from '../db/columns.js';
import { tenantPolicy } from '../db/tenancy.js';
import { organizations, sites } from '../tenancy/schema.js';

/** The cloud's own CA (one row): issues gateway certificates at enrollment. System table, no tenant. */
export const cloudCa = pgTable('cloud_ca', {
  id: text('id').primaryKey(),
  certPem: text('cert_pem').notNull(),
  /** PKCS#8 PEM of the CA private key. */
  keyPem: text('key_pem').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const enrollmentTokens = pgTable(
  'enrollment_tokens',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    /** sha256 of the token secret. */
    secretHash: text('secret_hash').notNull().unique(),
    createdBy: text('created_by').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    expiresAt: ts('expires_at').notNull(),
    usedAt: ts('used_at'),
    gatewayId: text('gateway_id'),
  },
  (t) => [tenantPolicy('enrollment_tokens', t.orgId)],
);

export const gateways = pgTable(
  'gateways',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id),
    siteId: text('site_id')
      .notNull()
      .references(() => sites.id),
    name: text('name').notNull(),
    certPem: text('cert_pem').notNull(),
    certSerial: text('cert_serial').notNull().unique(),
    /** SPKI (DER, base64url) of the gateway key, for signature checks. */
    publicKeySpki: text('public_key_spki').notNull(),
    enrolledAt: ts('enrolled_at').notNull().defaultNow(),
    revokedAt: ts('revoked_at'),
    lastSeenAt: ts('last_seen_at'),
    /** Highest batch sequence acknowledged. */
    ackedSeq: integer('acked_seq').notNull().default(0),
    /** Gateway time of the oldest record in the last batch vs cloud receive time, in ms. */
    syncLagMs: integer('sync_lag_ms'),
    /** Cloud time minus gateway time at last contact, in ms. */
    clockSkewMs: integer('clock_skew_ms'),
  },
  (t) => [index('gateways_org_site').on(t.orgId, t.siteId), tenantPolicy('gateways', t.orgId)],
);

/** Nonces of signed gateway requests seen within the skew window (replay protection). System table. */
export const requestNonces = pgTable(
  'request_nonces',
  {
    gatewayId: text('gateway_id').notNull(),
    nonce: text('nonce').notNull(),
    seenAt: ts('seen_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('request_nonces_pk').on(t.gatewayId, t.nonce), index('request_nonces_seen').on(t.seenAt)],
);
