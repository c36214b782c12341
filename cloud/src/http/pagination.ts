import { z } from '@hono/zod-openapi';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, ValidationError } from '@palisade/shared';
import { and, asc, eq, gt, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { CloudDatabase } from '../db/types.js';

/**
 * Keyset pagination: the cursor is the (opaque, base64url JSON) sort key of the last row of the previous page, so
 * pages stay stable while rows are inserted. Every list takes `limit` and `cursor` and answers `nextCursor`.
 */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(PAGE_LIMIT_MAX).default(PAGE_LIMIT_DEFAULT),
  cursor: z.string().max(512).optional(),
};

export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, arity: number): (string | number)[] | undefined {
  if (cursor === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === arity && v.every((x) => typeof x === 'string' || typeof x === 'number'))
      return v as (string | number)[];
  } catch {
    // falls through to the error below
  }
  throw new ValidationError('validation.cursor', 'invalid cursor');
}

/** Takes `limit + 1` rows, returns the page and the cursor of its last row when there is more. */
export function page<T>(
  rows: T[],
  limit: number,
  keyOf: (row: T) => (string | number)[],
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

/** A tenant table listed in id order: every such table has a text `id` key and an `org_id`. */
type TenantTable = PgTable & { id: PgColumn; orgId: PgColumn };

/**
 * One page of `orgId`'s rows of `table` in id order after `q.cursor`, narrowed by `filters` (in SQL, so a filter
 * never shortens a page or ends the listing early). The list routes of users, API keys, sites, gateways and devices.
 */
export async function pageById<T extends TenantTable>(
  database: CloudDatabase,
  orgId: string,
  table: T,
  q: { limit: number; cursor?: string | undefined },
  filters: (SQL | undefined)[] = [],
): Promise<{ items: T['$inferSelect'][]; nextCursor: string | null }> {
  const after = decodeCursor(q.cursor, 1);
  const rows = (await database.withTenant(orgId, (tx) =>
    tx
      .select()
      .from(table as PgTable)
      .where(and(eq(table.orgId, orgId), ...filters, after ? gt(table.id, String(after[0])) : undefined))
      .orderBy(asc(table.id))
      .limit(q.limit + 1),
  )) as T['$inferSelect'][];
  return page(rows, q.limit, (row) => [String((row as { id: string }).id)]);
}
