import type { CommandArgs, CommandTarget } from '@palisade/shared';
import { index, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { ts } from '../db/columns.js';
import { tenantPolicy } from '../db/tenancy.js';

/** A command an analyst or admin issued (contract: `shared/src/contracts/commands.ts`). */
export const commands = pgTable(
  'commands',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    type: text('type').notNull(),
    target: jsonb('target').$type<CommandTarget>().notNull(),
    args: jsonb('args').$type<CommandArgs>().notNull(),
    /** `user:<id>` or `api_key:<id>`: who asked. */
    issuedBy: text('issued_by').notNull(),
    issuedAt: ts('issued_at').notNull(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [index('commands_org_issued').on(t.orgId, t.issuedAt), tenantPolicy('commands', t.orgId)],
);

/**
 * One delivery per gateway the command's target resolved to. `pending` until first handed to the gateway,
 * `delivered` until the gateway acknowledges, then its outcome (`applied`, `rejected`, `expired`, `failed`).
 * A delivered command without an ack is handed out again: the gateway applies by command id, at most once.
 */
export const commandDeliveries = pgTable(
  'command_deliveries',
  {
    orgId: text('org_id').notNull(),
    commandId: text('command_id')
      .notNull()
      .references(() => commands.id, { onDelete: 'cascade' }),
    gatewayId: text('gateway_id').notNull(),
    deviceIds: jsonb('device_ids').$type<string[]>().notNull(),
    state: text('state').notNull().default('pending'),
    deliveredAt: ts('delivered_at'),
    ackedAt: ts('acked_at'),
    detail: text('detail'),
  },
  (t) => [
    primaryKey({ columns: [t.commandId, t.gatewayId] }),
    index('command_deliveries_gateway_state').on(t.gatewayId, t.state),
    tenantPolicy('command_deliveries', t.orgId),
  ],
);
