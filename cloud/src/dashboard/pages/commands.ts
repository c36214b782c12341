import { type CommandTarget, issueCommandRequestSchema, ValidationError } from '@palisade/shared';
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Hono } from 'hono';
import { html } from 'hono/html';
import { commandDeliveries, commands } from '../../commands/schema.js';
import { issueCommand } from '../../commands/service.js';
import type { Tx } from '../../db/types.js';
import { gateways } from '../../gateways/schema.js';
import { users } from '../../tenancy/schema.js';
import { csrfField, type Html, page, when } from '../html.js';
import type { DashContext, DashEnv } from '../index.js';
import { mayAct, principalOf, requireDashboardRole } from '../session.js';

const DEVICE_COMMAND_TYPES = ['quarantine', 'release', 'reattest'] as const;

function deliveryBadge(state: string): Html {
  const cls = state === 'applied' ? 'ok' : state === 'pending' || state === 'delivered' ? 'warn' : 'bad';
  return html`<span class="badge ${cls}" data-delivery="${state}">${state}</span>`;
}

function targetText(t: CommandTarget): string {
  return t.kind === 'device'
    ? `device ${t.deviceId}`
    : t.kind === 'cohort'
      ? `cohort ${t.firmwareMeasurement.slice(0, 12)}…`
      : 'all gateways';
}

/**
 * The latest commands (optionally those reaching one device) with their delivery state per gateway; a delivery not
 * acknowledged before the command expired shows as `expired`, as the API reports it.
 */
export async function recentCommands(
  tx: Tx,
  orgId: string,
  nowMs: number,
  f: { deviceId?: string } = {},
  limit = 25,
): Promise<{ id: string; html: Html }[]> {
  const cmds = await tx
    .select()
    .from(commands)
    .where(
      and(
        eq(commands.orgId, orgId),
        f.deviceId
          ? sql`exists (select 1 from ${commandDeliveries} d where d.command_id = ${commands.id} and d.device_ids @> ${JSON.stringify([f.deviceId])}::jsonb)`
          : undefined,
      ),
    )
    .orderBy(desc(commands.issuedAt), desc(commands.id))
    .limit(limit);
  if (cmds.length === 0) return [];
  const ds = await tx
    .select()
    .from(commandDeliveries)
    .where(
      and(
        eq(commandDeliveries.orgId, orgId),
        inArray(
          commandDeliveries.commandId,
          cmds.map((c) => c.id),
        ),
      ),
    )
    .orderBy(asc(commandDeliveries.gatewayId));
  // Who asked and where it went, by name rather than by id.
  const userIds = [...new Set(cmds.map((c) => c.issuedBy.replace(/^user:/, '')))];
  const people = new Map(
    (
      await tx
        .select({ id: users.id, email: users.email })
        .from(users)
        .where(and(eq(users.orgId, orgId), inArray(users.id, userIds)))
    ).map((u) => [`user:${u.id}`, u.email]),
  );
  const gatewayIds = [...new Set(ds.map((d) => d.gatewayId))];
  const gatewayNames = new Map(
    gatewayIds.length === 0
      ? []
      : (
          await tx
            .select({ id: gateways.id, name: gateways.name })
            .from(gateways)
            .where(and(eq(gateways.orgId, orgId), inArray(gateways.id, gatewayIds)))
        ).map((g) => [g.id, g.name]),
  );
  return cmds.map((c) => {
    const expired = c.expiresAt.getTime() <= nowMs;
    const mine = ds.filter((d) => d.commandId === c.id);
    const args = c.args as { type: string; reason?: string };
    return {
      id: c.id,
      html: html`<div class="comment" data-command="${c.id}"><div><b>${args.type}</b> → ${targetText(c.target)}${args.reason ? html` <span class="muted">“${args.reason}”</span>` : ''}</div>
<div class="meta">${c.id} · issued by ${people.get(c.issuedBy) ?? c.issuedBy} ${when(c.issuedAt, nowMs)} · expires ${when(c.expiresAt, nowMs)}</div>
<div class="actions">${mine.map((d) => {
        const state = expired && (d.state === 'pending' || d.state === 'delivered') ? 'expired' : d.state;
        return html`<span title="${d.gatewayId}">${gatewayNames.get(d.gatewayId) ?? d.gatewayId}: ${deliveryBadge(state)} <span class="muted">${d.detail ?? `${d.deviceIds.length} device(s)`}</span></span>`;
      })}</div></div>`,
    };
  });
}

/** The issue-a-command form, for a device (with its cohort as the alternative target) or free entry. */
export function commandForm(
  base: string,
  csrf: string,
  preset?: { kind: 'device'; value: string; measurement: string | null },
): Html {
  return html`<form method="post" action="${base}/commands" id="command-form" class="filters" data-confirm="Send this command to the gateways?">${csrfField(csrf)}
<label>Command<select name="type">${DEVICE_COMMAND_TYPES.map((t) => html`<option value="${t}">${t}</option>`)}</select></label>
<label>Target<select name="targetKind"><option value="device">this device</option>${preset?.measurement ? html`<option value="cohort">its firmware cohort</option>` : preset ? '' : html`<option value="cohort">firmware cohort</option>`}</select></label>
${
  preset
    ? html`<input type="hidden" name="deviceId" value="${preset.value}">${preset.measurement ? html`<input type="hidden" name="measurement" value="${preset.measurement}">` : ''}<input type="hidden" name="return" value="/devices/${encodeURIComponent(preset.value)}">`
    : html`<label>Device id<input type="text" name="deviceId" maxlength="64"></label><label>or cohort measurement<input type="text" name="measurement" maxlength="128"></label>`
}
<label>Reason (quarantine)<input type="text" name="reason" maxlength="500" value="SOC decision"></label>
<button type="submit" class="danger">Issue command</button></form>`;
}

export function registerCommandPages(app: Hono<DashEnv>, ctx: DashContext): void {
  const { deps, base } = ctx;

  app.get('/commands', async (c) => {
    const user = c.get('user');
    const now = deps.clock.now();
    const list = await deps.database.withTenant(user.orgId, (tx) => recentCommands(tx, user.orgId, now, {}, 50));
    const body = html`<h1>Commands</h1>
<div class="card"><h2>Issue a command</h2>${mayAct(user) ? commandForm(base, user.csrf) : html`<p class="muted">Signed in as a viewer: commands are hidden.</p>`}</div>
<div class="card" data-refresh="10"><h2>Latest commands and their delivery</h2>${list.length === 0 ? html`<p class="muted">No command issued yet.</p>` : list.map((l) => l.html)}</div>`;
    return c.html(page({ base, title: 'Commands', nav: 'commands', user, flash: ctx.takeFlash(user), body }));
  });

  app.post('/commands', async (c) => {
    const user = c.get('user');
    requireDashboardRole(user, 'analyst');
    const f = await c.req.parseBody();
    const s = (k: string) => (typeof f[k] === 'string' ? (f[k] as string).trim() : '');
    const type = s('type');
    const target =
      s('targetKind') === 'cohort'
        ? { kind: 'cohort', firmwareMeasurement: s('measurement').toLowerCase() }
        : { kind: 'device', deviceId: s('deviceId') };
    const args = type === 'quarantine' ? { type, reason: s('reason') || 'SOC decision' } : { type };
    const back = /^\/devices\/[A-Za-z0-9._%-]{1,200}$/.test(s('return')) ? s('return') : '/commands';
    const parsed = issueCommandRequestSchema.safeParse({ target, args });
    if (!parsed.success) {
      ctx.flash(
        user,
        'error',
        `Not sent: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
      return c.redirect(`${base}${back}`, 303);
    }
    try {
      const view = await deps.database.withTenant(user.orgId, (tx) =>
        issueCommand(tx, principalOf(user), c.get('source'), parsed.data, deps.clock.now()),
      );
      ctx.flash(
        user,
        'ok',
        `Command ${view.id} issued to ${view.deliveries.length} gateway(s); its delivery state updates below.`,
      );
    } catch (e) {
      if (
        e instanceof ValidationError ||
        (e instanceof Error && 'code' in e && String((e as { code: unknown }).code).startsWith('not_found.'))
      ) {
        ctx.flash(user, 'error', `Not sent: ${e.message}`);
      } else throw e;
    }
    return c.redirect(`${base}${back}`, 303);
  });
}
