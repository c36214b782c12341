import {
  type Clock,
  type CommandAck,
  type CommandOutcome,
  describeError,
  type GatewayCommand,
  type Logger,
  silentLogger,
} from '@palisade/shared';
import type Database from 'better-sqlite3';
import { recordAudit } from '../store/journal.js';
import type { Db } from '../store/open-store.js';

/**
 * What the gateway does for each command type. Quarantine and release go through the registry (its own audit and
 * outbox rows record the change, with the cloud user as actor); the others are optional: a gateway without a handler
 * refuses the command with `unsupported` instead of pretending.
 */
export interface CommandHandlers {
  quarantine(deviceId: string, actor: string, reason: string): unknown;
  release(deviceId: string, actor: string): unknown;
  reattest?(deviceId: string, actor: string): unknown;
  updateReferenceValues?(document: { version: 1; entries: Record<string, unknown>[] }, actor: string): unknown;
  updateRevocations?(crlPems: string[], actor: string): unknown;
}

/** The audit actor of a command: the cloud user or API key that asked for it. */
export function commandActor(cmd: Pick<GatewayCommand, 'issuedBy'>): string {
  return `cloud:${cmd.issuedBy}`;
}

interface StoredCommand {
  id: string;
  outcome: CommandOutcome;
  detail: string | null;
  decidedAt: number;
}

/**
 * Applies cloud commands at most once each. The command id is the idempotency key: a command seen before is not
 * applied again, its recorded outcome is re-acknowledged (the cloud re-delivers until it has the ack). A command past
 * `expiresAt` by the gateway's clock is refused as `expired` and changes nothing. Every command, applied or not, gets
 * a gateway audit entry naming who asked.
 */
export class CommandApplier {
  private readonly log: Logger;

  constructor(
    private readonly db: Db,
    private readonly sqlite: Database.Database,
    private readonly handlers: CommandHandlers,
    private readonly clock: Clock,
    logger?: Logger,
  ) {
    this.log = (logger ?? silentLogger).child({ module: 'sync.commands' });
  }

  async apply(cmd: GatewayCommand): Promise<CommandAck> {
    const seen = this.sqlite
      .prepare('SELECT id, outcome, detail, decided_at AS decidedAt FROM sync_commands WHERE id = ?')
      .get(cmd.id) as StoredCommand | undefined;
    if (seen !== undefined) return toAck(seen);
    const now = this.clock.now();
    const actor = commandActor(cmd);
    let outcome: CommandOutcome;
    let detail: string | undefined;
    if (Date.parse(cmd.expiresAt) <= now) {
      outcome = 'expired';
      detail = `expired at ${cmd.expiresAt}`;
    } else {
      ({ outcome, detail } = await this.run(cmd, actor));
    }
    const decidedAt = this.clock.now();
    const stored = this.db.transaction((tx) => {
      const inserted = this.sqlite
        .prepare(
          `INSERT OR IGNORE INTO sync_commands (id, type, issued_by, body, outcome, detail, decided_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(cmd.id, cmd.args.type, cmd.issuedBy, JSON.stringify(cmd), outcome, detail ?? null, decidedAt);
      if (inserted.changes === 1) {
        recordAudit(tx, {
          at: decidedAt,
          actor,
          action: `command.${cmd.args.type}`,
          deviceId: cmd.deviceIds.length === 1 ? cmd.deviceIds[0] : null,
          details: { commandId: cmd.id, outcome, detail: detail ?? null, deviceIds: cmd.deviceIds, target: cmd.target },
        });
      }
      return inserted.changes === 1;
    });
    if (!stored) {
      const first = this.sqlite
        .prepare('SELECT id, outcome, detail, decided_at AS decidedAt FROM sync_commands WHERE id = ?')
        .get(cmd.id) as StoredCommand;
      return toAck(first);
    }
    this.log.info({ commandId: cmd.id, type: cmd.args.type, outcome, issuedBy: cmd.issuedBy }, 'cloud command decided');
    return {
      commandId: cmd.id,
      outcome,
      ...(detail === undefined ? {} : { detail }),
      at: new Date(decidedAt).toISOString(),
    };
  }

  /** Outcomes the cloud has not confirmed yet, oldest first. */
  unacknowledged(limit = 1000): CommandAck[] {
    const rows = this.sqlite
      .prepare(
        'SELECT id, outcome, detail, decided_at AS decidedAt FROM sync_commands WHERE acked_at IS NULL ORDER BY decided_at LIMIT ?',
      )
      .all(limit) as StoredCommand[];
    return rows.map(toAck);
  }

  markAcknowledged(ids: readonly string[]): void {
    const stmt = this.sqlite.prepare('UPDATE sync_commands SET acked_at = ? WHERE id = ? AND acked_at IS NULL');
    const now = this.clock.now();
    this.sqlite.transaction(() => {
      for (const id of ids) stmt.run(now, id);
    })();
  }

  private async run(cmd: GatewayCommand, actor: string): Promise<{ outcome: CommandOutcome; detail?: string }> {
    const h = this.handlers;
    const args = cmd.args;
    try {
      switch (args.type) {
        case 'quarantine':
          return this.perDevice(cmd, (id) => h.quarantine(id, actor, args.reason));
        case 'release':
          return this.perDevice(cmd, (id) => h.release(id, actor));
        case 'reattest': {
          const reattest = h.reattest;
          if (!reattest) return { outcome: 'rejected', detail: 'unsupported: no re-attest handler' };
          return this.perDevice(cmd, (id) => reattest(id, actor));
        }
        case 'reference_values_update':
          if (!h.updateReferenceValues)
            return { outcome: 'rejected', detail: 'unsupported: no reference-value handler' };
          await h.updateReferenceValues(args.document, actor);
          return { outcome: 'applied', detail: `${args.document.entries.length} entries` };
        case 'revocation_update':
          if (!h.updateRevocations) return { outcome: 'rejected', detail: 'unsupported: no revocation handler' };
          await h.updateRevocations(args.crlPems, actor);
          return { outcome: 'applied', detail: `${args.crlPems.length} CRLs` };
      }
    } catch (e) {
      const d = describeError(e);
      return { outcome: 'failed', detail: `${d.code}: ${d.message}`.slice(0, 1000) };
    }
  }

  /** Applies to each device; applied if at least one device took it, failures listed in the detail. */
  private async perDevice(
    cmd: GatewayCommand,
    fn: (deviceId: string) => unknown,
  ): Promise<{ outcome: CommandOutcome; detail?: string }> {
    if (cmd.deviceIds.length === 0) return { outcome: 'rejected', detail: 'no device of this gateway is targeted' };
    const failures: string[] = [];
    for (const id of cmd.deviceIds) {
      try {
        await fn(id);
      } catch (e) {
        failures.push(`${id}: ${describeError(e).code}`);
      }
    }
    const applied = cmd.deviceIds.length - failures.length;
    if (applied === 0) return { outcome: 'failed', detail: failures.join('; ').slice(0, 1000) };
    return {
      outcome: 'applied',
      detail: (failures.length === 0 ? `${applied} device(s)` : `${applied} applied; ${failures.join('; ')}`).slice(
        0,
        1000,
      ),
    };
  }
}

function toAck(s: StoredCommand): CommandAck {
  return {
    commandId: s.id,
    outcome: s.outcome,
    ...(s.detail === null ? {} : { detail: s.detail }),
    at: new Date(s.decidedAt).toISOString(),
  };
}
