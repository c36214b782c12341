import { EventEmitter } from 'node:events';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import {
  AuthError,
  COMMANDS_LONG_POLL_MAX_SECONDS,
  commandAcksRequestSchema,
  commandAcksResponseSchema,
  commandViewSchema,
  issueCommandRequestSchema,
  pendingCommandsResponseSchema,
  SIGNATURE_HEADERS,
  ValidationError,
} from '@palisade/shared';
import { member, requireRole } from '../auth/roles.js';
import { gatewayAuth } from '../gateways/request-auth.js';
import type { CloudDeps } from '../http/deps.js';
import type { AppEnv } from '../http/env.js';
import { idParam, json, jsonBody } from '../http/openapi-helpers.js';
import { newRouter } from '../http/router.js';
import { getCommand, issueCommand, recordCommandAcks, takePendingCommands } from './service.js';

/** Command acks are small; a gateway acks at most 1000 outcomes per request. */
const MAX_ACK_BODY_BYTES = 512 * 1024;
/** How often a waiting long-poll re-reads the database (commands issued through another instance). */
const LONG_POLL_RECHECK_MS = 1000;

/**
 * Commands down to gateways: `POST /commands` and `GET /commands/{id}` for people and automation; the signed
 * gateway side `GET /sync/commands` (long-poll) and `POST /sync/command-acks`. The same pending commands also ride
 * on every sync ack (sync/routes.ts).
 */
export function commandRoutes(deps: CloudDeps) {
  const { database, clock } = deps;
  const r = newRouter();
  // Wakes this instance's long-polls when a command for their gateway is issued here; other instances' commands
  // are found by the periodic re-read.
  const issued = new EventEmitter();
  issued.setMaxListeners(0);

  r.openapi(
    createRoute({
      method: 'post',
      path: '/commands',
      tags: ['commands'],
      summary: 'Issues a command to a device, a firmware cohort, or every gateway; one delivery per gateway reached',
      middleware: [requireRole('analyst')] as const,
      request: { body: jsonBody(issueCommandRequestSchema) },
      responses: { 201: json(commandViewSchema, 'Issued') },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const body = c.req.valid('json');
      const now = clock.now();
      const view = await database.withTenant(p.orgId, (tx) => issueCommand(tx, p, c.get('source'), body, now));
      for (const d of view.deliveries) issued.emit(d.gatewayId);
      return c.json(view, 201);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/commands/{id}',
      tags: ['commands'],
      summary: 'A command with its delivery state per gateway',
      middleware: [requireRole('viewer')] as const,
      request: { params: idParam },
      responses: { 200: json(commandViewSchema) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const { id } = c.req.valid('param');
      const view = await database.withTenant(p.orgId, (tx) => getCommand(tx, p.orgId, id, clock.now()));
      return c.json(view, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/sync/commands',
      tags: ['sync'],
      summary: 'A gateway long-polls for its pending commands (signed request)',
      security: [],
      description: `Headers: ${Object.values(SIGNATURE_HEADERS).join(', ')}. Answers as soon as a command is pending, or empty after waitSeconds.`,
      middleware: [gatewayAuth(deps, 0)] as const,
      request: {
        query: z.object({ waitSeconds: z.coerce.number().int().min(0).max(COMMANDS_LONG_POLL_MAX_SECONDS).default(0) }),
      },
      responses: { 200: json(pendingCommandsResponseSchema) },
    }),
    async (c) => {
      const gw = gatewayOf(c.get('principal'));
      const { waitSeconds } = c.req.valid('query');
      const deadline = clock.now() + waitSeconds * 1000;
      for (;;) {
        const commands = await database.withTenant(gw.orgId, (tx) =>
          takePendingCommands(tx, gw.orgId, gw.id, clock.now()),
        );
        const left = deadline - clock.now();
        if (commands.length > 0 || left <= 0) return c.json({ commands }, 200);
        await waitFor(issued, gw.id, Math.min(left, LONG_POLL_RECHECK_MS), c.req.raw.signal);
        if (c.req.raw.signal.aborted) return c.json({ commands: [] }, 200);
      }
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/sync/command-acks',
      tags: ['sync'],
      summary: 'A gateway reports command outcomes (signed request); a repeated ack changes nothing',
      security: [],
      middleware: [gatewayAuth(deps, MAX_ACK_BODY_BYTES)] as const,
      responses: { 200: json(commandAcksResponseSchema) },
    }),
    async (c) => {
      const gw = gatewayOf(c.get('principal'));
      let value: unknown;
      try {
        value = JSON.parse(Buffer.from(c.get('rawBody')).toString('utf8'));
      } catch (e) {
        throw new ValidationError('validation.malformed_body', 'body is not valid JSON', { cause: e });
      }
      const parsed = commandAcksRequestSchema.safeParse(value);
      if (!parsed.success) {
        throw new ValidationError('validation.command_acks', 'body does not match the command-ack contract', {
          details: {
            issues: parsed.error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.'), message: i.message })),
          },
        });
      }
      const now = clock.now();
      const accepted = await database.withTenant(gw.orgId, (tx) =>
        recordCommandAcks(tx, gw, c.get('source'), parsed.data.acks, now),
      );
      return c.json({ accepted }, 200);
    },
  );

  return r;
}

/** Mounts the command routes on an `/api/v1` router (or pass `commandRoutes` in `createCloudApp`'s `routes`). */
export function registerCommandRoutes(app: OpenAPIHono<AppEnv>, deps: CloudDeps): void {
  app.route('/', commandRoutes(deps));
}

function gatewayOf(p: AppEnv['Variables']['principal']) {
  if (p.kind !== 'gateway') throw new AuthError('auth.forbidden', 'only gateways call this endpoint');
  return p;
}

function waitFor(emitter: EventEmitter, event: string, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      emitter.off(event, done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    emitter.on(event, done);
    signal.addEventListener('abort', done);
  });
}
