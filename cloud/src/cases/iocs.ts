import { isIP } from 'node:net';
import { z } from '@hono/zod-openapi';
import {
  type Clock,
  ConflictError,
  DEVICE_ID_PATTERN,
  NotFoundError,
  newId,
  PAGE_LIMIT_MAX,
  ValidationError,
} from '@palisade/shared';
import { and, asc, eq, gt, ilike, inArray, or, type SQL, sql } from 'drizzle-orm';
import type { CloudDatabase } from '../db/types.js';
import { decodeCursor, page } from '../http/pagination.js';
import { type CaseActor, requireRole } from './actor.js';
import type { Page } from './case-service.js';
import { loadCase } from './case-store.js';
import { IOC_TYPES, type IocInput, type IocType, iocInput, pageParams } from './inputs.js';
import { caseIocs, iocs } from './schema.js';
import { recordTimeline } from './timeline.js';
import { escapeLike, parseInput } from './validate.js';

export interface IocView {
  id: string;
  type: string;
  value: string;
  firstSeenAt: string;
  lastSeenAt: string;
  note: string | null;
  addedBy: string;
  addedAt: string;
}

const HEX_LENGTH: Partial<Record<IocType, number>> = { md5: 32, sha1: 40, sha256: 64 };

/**
 * The one spelling of an indicator, so (type, value) uniqueness means something: hashes and hex lower-cased,
 * domains without a trailing dot, URLs as the WHATWG parser writes them, MACs as aa:bb:cc:dd:ee:ff.
 */
export function normaliseIoc(type: IocType, raw: string): string {
  const v = raw.trim();
  const bad = (why: string): never => {
    throw new ValidationError('validation.ioc', `not a valid ${type}: ${why}`, {
      details: { type, value: v.slice(0, 80) },
    });
  };
  switch (type) {
    case 'ip': {
      if (isIP(v) === 0) bad('not an IPv4 or IPv6 address');
      return v.toLowerCase();
    }
    case 'domain': {
      const d = v.toLowerCase().replace(/\.$/, '');
      if (!/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/.test(d)) bad('not a domain name');
      return d;
    }
    case 'url': {
      try {
        const u = new URL(v);
        if (!/^(https?|ftp|mqtts?|wss?):$/.test(u.protocol)) bad('unsupported scheme');
        return u.href;
      } catch (e) {
        if (e instanceof ValidationError) throw e;
        return bad('not a URL');
      }
    }
    case 'email': {
      const e = v.toLowerCase();
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(e)) bad('not an e-mail address');
      return e;
    }
    case 'md5':
    case 'sha1':
    case 'sha256': {
      const h = v.toLowerCase();
      if (!new RegExp(`^[0-9a-f]{${HEX_LENGTH[type]}}$`).test(h)) bad(`expected ${HEX_LENGTH[type]} hex digits`);
      return h;
    }
    case 'firmware_measurement': {
      const h = v.toLowerCase();
      if (!/^[0-9a-f]{32,128}$/.test(h)) bad('expected 32 to 128 hex digits');
      return h;
    }
    case 'cert_serial': {
      const h = v.toLowerCase().replace(/:/g, '');
      if (!/^[0-9a-f]{1,64}$/.test(h)) bad('expected hex digits');
      return h.replace(/^0+(?=.)/, '');
    }
    case 'mac': {
      const h = v.toLowerCase().replace(/[:.-]/g, '');
      if (!/^[0-9a-f]{12}$/.test(h)) bad('expected 6 bytes');
      return h.match(/../g)!.join(':');
    }
    case 'device_id': {
      if (!DEVICE_ID_PATTERN.test(v)) bad('not a device id');
      return v;
    }
  }
}

/**
 * Attaches an indicator to a case. The indicator itself is unique per organisation by (type, value): adding one
 * that exists (from this or any other case) reuses its row and moves its `lastSeenAt`. Adding it to the same case
 * twice changes nothing.
 */
export async function addCaseIoc(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
  input: IocInput,
  clock: Clock,
): Promise<{ ioc: IocView; created: boolean; linked: boolean }> {
  requireRole(actor, 'analyst');
  const i = parseInput(iocInput, input, 'ioc');
  const value = normaliseIoc(i.type, i.value);
  return db.withTenant(orgId, async (tx) => {
    const c = await loadCase(tx, orgId, caseId, true);
    if (c.state === 'merged') {
      throw new ConflictError('conflict.case_merged', 'add IOCs to the case it was merged into', {
        details: { mergedIntoId: c.mergedIntoId },
      });
    }
    const now = new Date(clock.now());
    const [row] = await tx
      .insert(iocs)
      .values({ id: newId('ioc', now.getTime()), orgId, type: i.type, value, firstSeenAt: now, lastSeenAt: now })
      .onConflictDoUpdate({ target: [iocs.orgId, iocs.type, iocs.value], set: { lastSeenAt: now } })
      .returning({
        id: iocs.id,
        firstSeenAt: iocs.firstSeenAt,
        lastSeenAt: iocs.lastSeenAt,
        inserted: sql<boolean>`xmax = 0`,
      });
    if (!row) throw new ConflictError('conflict.ioc', 'the indicator could not be stored');
    const linked = await tx
      .insert(caseIocs)
      .values({ orgId, caseId, iocId: row.id, note: i.note ?? null, addedBy: actor.id, addedAt: now })
      .onConflictDoNothing()
      .returning({ iocId: caseIocs.iocId });
    if (linked.length > 0) {
      await recordTimeline(tx, orgId, caseId, actor, now, 'ioc.added', null, { iocId: row.id, type: i.type, value });
    }
    const [link] = await tx
      .select()
      .from(caseIocs)
      .where(and(eq(caseIocs.orgId, orgId), eq(caseIocs.caseId, caseId), eq(caseIocs.iocId, row.id)));
    return {
      ioc: {
        id: row.id,
        type: i.type,
        value,
        firstSeenAt: row.firstSeenAt.toISOString(),
        lastSeenAt: row.lastSeenAt.toISOString(),
        note: link?.note ?? null,
        addedBy: link?.addedBy ?? actor.id,
        addedAt: (link?.addedAt ?? now).toISOString(),
      },
      created: row.inserted,
      linked: linked.length > 0,
    };
  });
}

export async function removeCaseIoc(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
  iocId: string,
  clock: Clock,
): Promise<void> {
  requireRole(actor, 'analyst');
  await db.withTenant(orgId, async (tx) => {
    await loadCase(tx, orgId, caseId, true);
    const removed = await tx
      .delete(caseIocs)
      .where(and(eq(caseIocs.orgId, orgId), eq(caseIocs.caseId, caseId), eq(caseIocs.iocId, iocId)))
      .returning({ iocId: caseIocs.iocId });
    if (removed.length === 0) throw new NotFoundError('not_found.ioc', 'the case has no such indicator');
    const now = new Date(clock.now());
    await recordTimeline(tx, orgId, caseId, actor, now, 'ioc.removed', { iocId }, null);
  });
}

export const listCaseIocsInput = z.object({ ...pageParams, type: z.enum(IOC_TYPES).optional() });
export type ListCaseIocsInput = z.input<typeof listCaseIocsInput>;

/** Keyset on (type, value): an indicator's identity within the organisation. */
function afterIoc(cursor: string | undefined): SQL | undefined {
  const key = decodeCursor(cursor, 2);
  if (!key) return undefined;
  const [type, value] = key.map(String) as [string, string];
  return or(gt(iocs.type, type), and(eq(iocs.type, type), gt(iocs.value, value)));
}

/** A case's indicators ordered by type and value, optionally of one type. */
export async function listCaseIocsPage(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
  input: ListCaseIocsInput,
): Promise<Page<IocView>> {
  requireRole(actor, 'viewer');
  const q = parseInput(listCaseIocsInput, input, 'ioc_query');
  const after = afterIoc(q.cursor);
  return db.withTenant(orgId, async (tx) => {
    await loadCase(tx, orgId, caseId);
    const rows = await tx
      .select({ ioc: iocs, link: caseIocs })
      .from(caseIocs)
      .innerJoin(iocs, and(eq(iocs.orgId, caseIocs.orgId), eq(iocs.id, caseIocs.iocId)))
      .where(
        and(eq(caseIocs.orgId, orgId), eq(caseIocs.caseId, caseId), q.type ? eq(iocs.type, q.type) : undefined, after),
      )
      .orderBy(asc(iocs.type), asc(iocs.value))
      .limit(q.limit + 1);
    const p = page(rows, q.limit, (r) => [r.ioc.type, r.ioc.value]);
    return {
      items: p.items.map(({ ioc, link }) => ({
        id: ioc.id,
        type: ioc.type,
        value: ioc.value,
        firstSeenAt: ioc.firstSeenAt.toISOString(),
        lastSeenAt: ioc.lastSeenAt.toISOString(),
        note: link.note,
        addedBy: link.addedBy,
        addedAt: link.addedAt.toISOString(),
      })),
      nextCursor: p.nextCursor,
    };
  });
}

/** All of a case's indicators (up to the page maximum). */
export async function listCaseIocs(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  caseId: string,
): Promise<IocView[]> {
  return (await listCaseIocsPage(db, orgId, actor, caseId, { limit: PAGE_LIMIT_MAX })).items;
}

export interface OrgIocView {
  id: string;
  type: string;
  value: string;
  firstSeenAt: string;
  lastSeenAt: string;
  /** Every case the indicator is attached to (a merge moves it to the surviving case): where else it was seen. */
  caseIds: string[];
}

export const listIocsInput = z.object({
  ...pageParams,
  type: z.enum(IOC_TYPES).optional(),
  value: z.string().min(1).max(200).optional().openapi({ description: 'substring of the normalised value' }),
});
export type ListIocsInput = z.input<typeof listIocsInput>;

/** The organisation's indicators with the cases that carry each, ordered by type and value. */
export async function listIocs(
  db: CloudDatabase,
  orgId: string,
  actor: CaseActor,
  input: ListIocsInput,
): Promise<Page<OrgIocView>> {
  requireRole(actor, 'viewer');
  const q = parseInput(listIocsInput, input, 'ioc_query');
  const after = afterIoc(q.cursor);
  return db.withTenant(orgId, async (tx) => {
    const rows = await tx
      .select()
      .from(iocs)
      .where(
        and(
          eq(iocs.orgId, orgId),
          q.type ? eq(iocs.type, q.type) : undefined,
          q.value ? ilike(iocs.value, `%${escapeLike(q.value)}%`) : undefined,
          after,
        ),
      )
      .orderBy(asc(iocs.type), asc(iocs.value))
      .limit(q.limit + 1);
    const p = page(rows, q.limit, (r) => [r.type, r.value]);
    const ids = p.items.map((r) => r.id);
    const links =
      ids.length === 0
        ? []
        : await tx
            .select({ iocId: caseIocs.iocId, caseId: caseIocs.caseId })
            .from(caseIocs)
            .where(and(eq(caseIocs.orgId, orgId), inArray(caseIocs.iocId, ids)))
            .orderBy(asc(caseIocs.caseId));
    const byIoc = new Map<string, string[]>();
    for (const l of links) byIoc.set(l.iocId, [...(byIoc.get(l.iocId) ?? []), l.caseId]);
    return {
      items: p.items.map((r) => ({
        id: r.id,
        type: r.type,
        value: r.value,
        firstSeenAt: r.firstSeenAt.toISOString(),
        lastSeenAt: r.lastSeenAt.toISOString(),
        caseIds: byIoc.get(r.id) ?? [],
      })),
      nextCursor: p.nextCursor,
    };
  });
}
