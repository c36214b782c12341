import {
  COMMAND_DEFAULT_TTL_SECONDS,
  type CommandAck,
  type CommandView,
  type GatewayCommand,
  type IssueCommandRequest,
  NotFoundError,
  newId,
} from '@palisade/shared';
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit.js';
import type { Tx } from '../db/types.js';
import { gateways } from '../gateways/schema.js';
import type { Principal, RequestSource } from '../http/env.js';
import { devices } from '../inventory/schema.js';
import { commandDeliveries, commands } from './schema.js';

type Member = Extract<Principal, { kind: 'user' | 'api_key' }>;

/** `user:<id>` / `api_key:<id>`: the issuer as the gateway records it in its own audit log. */
export function issuerOf(p: Member): string {
  return `${p.kind}:${p.id}`;
}

/**
 * Resolves the target to gateways (from the inventory the gateways synced) and stores the command with one delivery
 * per gateway, audited in the same transaction. A target that reaches no gateway is refused (404), so nobody believes
 * a command went somewhere when it went nowhere.
 */
export async function issueCommand(
  tx: Tx,
  p: Member,
  source: RequestSource | undefined,
  req: IssueCommandRequest,
  now: number,
): Promise<CommandView> {
  const orgId = p.orgId;
  const byGateway = new Map<string, string[]>();
  const target = req.target;
  if (target.kind === 'all') {
    const rows = await tx
      .select({ id: gateways.id })
      .from(gateways)
      .where(and(eq(gateways.orgId, orgId), isNull(gateways.revokedAt)));
    for (const r of rows) byGateway.set(r.id, []);
  } else {
    const cond =
      target.kind === 'device'
        ? and(eq(devices.orgId, orgId), eq(devices.id, target.deviceId))
        : and(eq(devices.orgId, orgId), eq(devices.firmwareMeasurement, target.firmwareMeasurement));
    const rows = await tx
      .select({ id: devices.id, gatewayId: devices.gatewayId })
      .from(devices)
      .innerJoin(gateways, and(eq(gateways.id, devices.gatewayId), isNull(gateways.revokedAt)))
      .where(cond)
      .orderBy(asc(devices.id));
    for (const r of rows) byGateway.set(r.gatewayId, [...(byGateway.get(r.gatewayId) ?? []), r.id]);
  }
  if (byGateway.size === 0) {
    throw new NotFoundError(
      'not_found.command_target',
      'the target matches no device or gateway of this organisation',
      {
        details: { target },
      },
    );
  }
  const id = newId('cmd', now);
  const issuedAt = new Date(now);
  const expiresAt = new Date(now + (req.ttlSeconds ?? COMMAND_DEFAULT_TTL_SECONDS) * 1000);
  await tx.insert(commands).values({
    id,
    orgId,
    type: req.args.type,
    target,
    args: req.args,
    issuedBy: issuerOf(p),
    issuedAt,
    expiresAt,
  });
  await tx
    .insert(commandDeliveries)
    .values([...byGateway].map(([gatewayId, deviceIds]) => ({ orgId, commandId: id, gatewayId, deviceIds })));
  await recordAudit(
    tx,
    orgId,
    p,
    source,
    {
      action: 'command.issue',
      targetType: 'command',
      targetId: id,
      after: { type: req.args.type, target, gateways: [...byGateway.keys()], expiresAt: expiresAt.toISOString() },
    },
    now,
  );
  const view = await getCommand(tx, orgId, id, now);
  return view;
}

/** The command and its delivery state per gateway; a delivery not acknowledged before expiry shows as `expired`. */
export async function getCommand(tx: Tx, orgId: string, id: string, now: number): Promise<CommandView> {
  const [c] = await tx
    .select()
    .from(commands)
    .where(and(eq(commands.orgId, orgId), eq(commands.id, id)));
  if (!c) throw new NotFoundError('not_found.command', 'no such command');
  const ds = await tx
    .select()
    .from(commandDeliveries)
    .where(and(eq(commandDeliveries.orgId, orgId), eq(commandDeliveries.commandId, id)))
    .orderBy(asc(commandDeliveries.gatewayId));
  const expired = c.expiresAt.getTime() <= now;
  return {
    id: c.id,
    target: c.target,
    args: c.args,
    issuedBy: c.issuedBy,
    issuedAt: c.issuedAt.toISOString(),
    expiresAt: c.expiresAt.toISOString(),
    deliveries: ds.map((d) => ({
      gatewayId: d.gatewayId,
      deviceIds: d.deviceIds,
      state: (expired && (d.state === 'pending' || d.state === 'delivered')
        ? 'expired'
        : d.state) as CommandView['deliveries'][number]['state'],
      deliveredAt: d.deliveredAt?.toISOString() ?? null,
      ackedAt: d.ackedAt?.toISOString() ?? null,
      detail: d.detail,
    })),
  };
}

/**
 * The commands waiting for a gateway (not yet acknowledged, not expired), oldest first, marked delivered. Expired
 * ones are not handed out: the gateway would refuse them anyway.
 */
export async function takePendingCommands(
  tx: Tx,
  orgId: string,
  gatewayId: string,
  now: number,
  limit = 100,
): Promise<GatewayCommand[]> {
  const rows = await tx
    .select({ c: commands, deviceIds: commandDeliveries.deviceIds })
    .from(commandDeliveries)
    .innerJoin(commands, eq(commands.id, commandDeliveries.commandId))
    .where(
      and(
        eq(commandDeliveries.orgId, orgId),
        eq(commandDeliveries.gatewayId, gatewayId),
        inArray(commandDeliveries.state, ['pending', 'delivered']),
        sql`${commands.expiresAt} > ${new Date(now)}`,
      ),
    )
    .orderBy(asc(commands.issuedAt), asc(commands.id))
    .limit(limit);
  if (rows.length === 0) return [];
  await tx
    .update(commandDeliveries)
    .set({ state: 'delivered', deliveredAt: sql`coalesce(${commandDeliveries.deliveredAt}, ${new Date(now)})` })
    .where(
      and(
        eq(commandDeliveries.gatewayId, gatewayId),
        eq(commandDeliveries.state, 'pending'),
        inArray(
          commandDeliveries.commandId,
          rows.map((r) => r.c.id),
        ),
      ),
    );
  return rows.map(({ c, deviceIds }) => ({
    id: c.id,
    target: c.target,
    deviceIds,
    args: c.args,
    issuedBy: c.issuedBy,
    issuedAt: c.issuedAt.toISOString(),
    expiresAt: c.expiresAt.toISOString(),
  }));
}

/**
 * Records a gateway's outcomes. Only this gateway's own deliveries move, and only once (a repeated ack changes
 * nothing); each recorded outcome is audited with the gateway as actor and the issuer in the entry.
 */
export async function recordCommandAcks(
  tx: Tx,
  gw: Extract<Principal, { kind: 'gateway' }>,
  source: RequestSource | undefined,
  acks: CommandAck[],
  now: number,
): Promise<number> {
  let accepted = 0;
  for (const a of acks) {
    const [moved] = await tx
      .update(commandDeliveries)
      .set({ state: a.outcome, ackedAt: new Date(now), detail: a.detail ?? null })
      .where(
        and(
          eq(commandDeliveries.orgId, gw.orgId),
          eq(commandDeliveries.gatewayId, gw.id),
          eq(commandDeliveries.commandId, a.commandId),
          inArray(commandDeliveries.state, ['pending', 'delivered']),
        ),
      )
      .returning({ commandId: commandDeliveries.commandId });
    if (!moved) continue;
    accepted++;
    const [c] = await tx
      .select({ issuedBy: commands.issuedBy, type: commands.type })
      .from(commands)
      .where(eq(commands.id, a.commandId));
    await recordAudit(
      tx,
      gw.orgId,
      gw,
      source,
      {
        action: 'command.ack',
        targetType: 'command',
        targetId: a.commandId,
        after: {
          outcome: a.outcome,
          detail: a.detail ?? null,
          gatewayTime: a.at,
          type: c?.type,
          issuedBy: c?.issuedBy,
        },
      },
      now,
    );
  }
  return accepted;
}
