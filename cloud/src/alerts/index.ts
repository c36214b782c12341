/**
 * Alerts from every gateway: stored once per content hash and correlated into cases.
 * - `ingestAlerts(tx, orgId, siteId, gatewayId, alerts, { clock?, correlation? })` — call inside the ingest
 *   endpoint's `withTenant` transaction; returns per-alert inserted / updated / duplicate and the case each new alert
 *   joined (see `cases/correlate.ts`).
 * - `listAlerts` / `getAlert` — service functions behind `GET /api/v1/alerts[/:id]`.
 */
export { alertContentHash, type IngestAlert, type IngestAlertInput, ingestAlertSchema } from './alert-input.js';
export { type IngestAlertsOptions, type IngestAlertsResult, type IngestedAlert, ingestAlerts } from './ingest.js';
export { alerts } from './schema.js';
