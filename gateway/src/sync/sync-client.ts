import type { KeyObject } from 'node:crypto';
import {
  type Clock,
  COMMANDS_LONG_POLL_MAX_SECONDS,
  type CommandAck,
  commandAcksResponseSchema,
  describeError,
  errorBodySchema,
  type GatewayCommand,
  type Logger,
  PalisadeError,
  pendingCommandsResponseSchema,
  SYNC_BATCHES_PATH,
  SYNC_COMMAND_ACKS_PATH,
  SYNC_COMMANDS_PATH,
  signRequest,
  silentLogger,
  syncAckSchema,
} from '@palisade/shared';
import type Database from 'better-sqlite3';
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF, parseRetryAfter } from './backoff.js';
import { type BudgetOutcome, enforceOutboxBudget, type OutboxBudgetOptions } from './budget.js';
import type { CommandApplier } from './commands.js';
import { OutboxQueue, type OutboxQueueOptions } from './outbox-queue.js';

export interface SyncClientOptions extends Omit<OutboxQueueOptions, 'clock'> {
  sqlite: Database.Database;
  cloudUrl: string;
  gatewayId: string;
  privateKey: KeyObject;
  clock: Clock;
  logger?: Logger;
  backoff?: BackoffPolicy;
  /** Per request; a cloud that accepts the connection but never answers is given up on after this. Default 30 s. */
  requestTimeoutMs?: number;
  /** Idle: how long one long-poll for commands waits (also how soon new outbox rows are noticed). Default 10 s. */
  idlePollSeconds?: number;
  budget?: OutboxBudgetOptions;
  /** How often the budget is checked while syncing. Default 10 s. */
  budgetCheckIntervalMs?: number;
  commands?: CommandApplier;
  /** Injected for tests: jitter source in [0, 1). */
  random?: () => number;
  fetch?: typeof fetch;
}

export interface SyncStatus {
  ackedSequence: number;
  inflightSequence: number | null;
  pendingRecords: number;
  /** Cloud clock minus gateway clock, ms (from the cloud's `Date` header; ±1 s resolution). Null before contact. */
  clockSkewMs: number | null;
  lastAckAt: number | null;
  lastError: { code: string; message: string; at: number } | null;
  consecutiveFailures: number;
  batchesAcked: number;
  recordsAcked: number;
  thinnedRollups: number;
  deadLetters: number;
  lastBudget: BudgetOutcome | null;
}

/** A failed attempt; `retryable` failures back off and retry the same bytes. */
export class SyncAttemptError extends PalisadeError<`sync.${string}`> {
  override readonly name = 'SyncAttemptError';
  constructor(
    code: `sync.${string}`,
    message: string,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(code, message, options);
  }
}

type Outcome =
  | { kind: 'idle' }
  | { kind: 'acked'; sequence: number; records: number }
  | { kind: 'requeued'; how: string };

/**
 * The gateway's sync agent: sends the outbox to the cloud in numbered, gzip-compressed, signed batches and moves the
 * acknowledged cursor only on the cloud's ack (the durable part is {@link OutboxQueue}). Network errors, timeouts,
 * 5xx, 429 and 503 are retried with exponential backoff and full jitter, never earlier than a `Retry-After`; a batch
 * the cloud refuses as such (400, 413, 415) is split until the one bad record is found and set aside. Commands come
 * back in the acks and from a long-poll while idle, are applied by the {@link CommandApplier}, and their outcomes are
 * acknowledged. The clock skew to the cloud is measured on every answer and used for request timestamps, so a gateway
 * with a wrong clock still signs requests the cloud accepts.
 */
export class SyncClient {
  readonly queue: OutboxQueue;
  private readonly o: SyncClientOptions;
  private readonly log: Logger;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly doFetch: typeof fetch;
  private readonly base: URL;
  private skewMs: number | null = null;
  private failures = 0;
  private lastError: SyncStatus['lastError'] = null;
  private lastAckAt: number | null = null;
  private batchesAcked = 0;
  private recordsAcked = 0;
  private lastBudget: BudgetOutcome | null = null;
  private lastBudgetCheck = Number.NEGATIVE_INFINITY;
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeup: AbortController | undefined;
  private readonly sleepers = new Set<() => void>();

  constructor(options: SyncClientOptions) {
    this.o = options;
    this.log = (options.logger ?? silentLogger).child({ module: 'sync' });
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
    this.doFetch = options.fetch ?? fetch;
    this.base = new URL(options.cloudUrl);
    this.queue = new OutboxQueue(options.sqlite, { ...options, clock: options.clock });
  }

  status(): SyncStatus {
    const s = this.queue.state();
    return {
      ackedSequence: s.ackedSeq,
      inflightSequence: s.inflightSeq,
      pendingRecords: this.queue.pendingCount(),
      clockSkewMs: this.skewMs,
      lastAckAt: this.lastAckAt,
      lastError: this.lastError,
      consecutiveFailures: this.failures,
      batchesAcked: this.batchesAcked,
      recordsAcked: this.recordsAcked,
      thinnedRollups: s.thinned,
      deadLetters: s.deadLetters,
      lastBudget: this.lastBudget,
    };
  }

  /** One step: enforce the budget, send the current batch once. Throws {@link SyncAttemptError} on failure. */
  async syncOnce(): Promise<Outcome> {
    const now = this.o.clock.now();
    // Summing the queued bytes scans the outbox: at most once per interval, not once per batch.
    if (this.o.budget && now - this.lastBudgetCheck >= (this.o.budgetCheckIntervalMs ?? 10_000)) {
      this.lastBudgetCheck = now;
      const s = this.queue.state();
      this.lastBudget = enforceOutboxBudget(this.o.sqlite, this.o.budget, s.inflightLastId ?? 0);
      if (this.lastBudget.thinned > 0) this.log.warn({ ...this.lastBudget }, 'outbox over budget: telemetry thinned');
    }
    const batch = this.queue.prepare(this.o.gatewayId);
    if (batch === null) return { kind: 'idle' };
    let res: { status: number; json: unknown };
    try {
      res = await this.request('POST', SYNC_BATCHES_PATH, batch.body, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      });
    } catch (e) {
      if (e instanceof SyncAttemptError && e.status !== undefined && [400, 409, 413, 415].includes(e.status)) {
        // A sequence the cloud holds with other content (a restored backup of the gateway's disk): this content was
        // not stored, so it goes out again under a fresh number.
        const how =
          e.status === 409 && e.code === 'sync.conflict.sync_sequence_reused'
            ? this.queue.renumberInflight()
            : this.queue.refuseInflight(`${e.code}: ${e.message}`);
        this.log.warn({ sequence: batch.sequence, code: e.code, how }, 'cloud refused the batch');
        return { kind: 'requeued', how: String(how) };
      }
      throw e;
    }
    const ack = syncAckSchema.safeParse(res.json);
    if (!ack.success || ack.data.ackedSequence !== batch.sequence) {
      throw new SyncAttemptError('sync.bad_ack', 'the cloud acknowledged another sequence', res.status, undefined);
    }
    this.queue.acknowledge(batch.sequence);
    this.batchesAcked++;
    this.recordsAcked += batch.records;
    this.lastAckAt = this.o.clock.now();
    if (ack.data.commands?.length) await this.handleCommands(ack.data.commands);
    return { kind: 'acked', sequence: batch.sequence, records: batch.records };
  }

  /** Sends until the outbox is empty (retrying with backoff), then flushes command acks. Resolves when done or stopped. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.stopped()) return;
      try {
        const out = await this.syncOnce();
        await this.flushCommandAcks();
        this.succeeded();
        if (out.kind === 'idle') return;
      } catch (e) {
        await this.failed(e);
      }
    }
  }

  /** Runs in the background until {@link stop}: drain, then long-poll for commands while idle. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.drain();
        if (!this.running) break;
        try {
          // At least a second: an idle agent must not spin against the cloud.
          await this.pollCommands(Math.max(1, this.o.idlePollSeconds ?? 10));
          this.succeeded();
        } catch (e) {
          if (this.running) await this.failed(e);
        }
      }
    })();
  }

  /** New outbox rows: cut an idle long-poll short so they go out now. */
  wake(): void {
    this.wakeup?.abort();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    for (const wakeSleeper of [...this.sleepers]) wakeSleeper();
    await this.loop;
    this.loop = undefined;
  }

  /** Long-polls `GET /sync/commands` once; applies what arrives. */
  async pollCommands(waitSeconds: number): Promise<void> {
    const wait = Math.max(0, Math.min(COMMANDS_LONG_POLL_MAX_SECONDS, Math.floor(waitSeconds)));
    const ctl = new AbortController();
    this.wakeup = ctl;
    try {
      const res = await this.request(
        'GET',
        `${SYNC_COMMANDS_PATH}?waitSeconds=${wait}`,
        new Uint8Array(0),
        {},
        ctl.signal,
        wait * 1000,
      );
      const parsed = pendingCommandsResponseSchema.safeParse(res.json);
      if (!parsed.success)
        throw new SyncAttemptError('sync.bad_response', 'unexpected commands answer', res.status, undefined);
      if (parsed.data.commands.length > 0) await this.handleCommands(parsed.data.commands);
      await this.flushCommandAcks();
    } catch (e) {
      if (ctl.signal.aborted) return;
      throw e;
    } finally {
      if (this.wakeup === ctl) this.wakeup = undefined;
    }
  }

  private async handleCommands(cmds: GatewayCommand[]): Promise<void> {
    const applier = this.o.commands;
    if (!applier) {
      this.log.warn({ count: cmds.length }, 'commands received but no command applier configured');
      return;
    }
    for (const cmd of cmds) await applier.apply(cmd);
    await this.flushCommandAcks();
  }

  private async flushCommandAcks(): Promise<void> {
    const applier = this.o.commands;
    if (!applier) return;
    const acks: CommandAck[] = applier.unacknowledged();
    if (acks.length === 0) return;
    const body = Buffer.from(JSON.stringify({ acks }));
    const res = await this.request('POST', SYNC_COMMAND_ACKS_PATH, body, { 'content-type': 'application/json' });
    if (!commandAcksResponseSchema.safeParse(res.json).success) {
      throw new SyncAttemptError('sync.bad_response', 'unexpected command-ack answer', res.status, undefined);
    }
    applier.markAcknowledged(acks.map((a) => a.commandId));
  }

  private stopped(): boolean {
    return this.loop !== undefined && !this.running;
  }

  private succeeded(): void {
    this.failures = 0;
  }

  private async failed(e: unknown): Promise<void> {
    this.failures++;
    const d = describeError(e);
    this.lastError = { ...d, at: this.o.clock.now() };
    const retryAfter = e instanceof SyncAttemptError ? e.retryAfterMs : undefined;
    const delay = backoffDelay(this.failures, this.backoff, this.random, retryAfter);
    this.log.warn({ err: d, failures: this.failures, delayMs: delay }, 'sync attempt failed; backing off');
    await this.sleep(delay);
  }

  /** Sleeps, but wakes at once on {@link stop} (not on {@link wake}: that would defeat a Retry-After). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.sleepers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  /** One signed request; measures clock skew; maps every non-2xx to a {@link SyncAttemptError}. */
  private async request(
    method: 'GET' | 'POST',
    path: string,
    body: Uint8Array,
    headers: Record<string, string>,
    signal?: AbortSignal,
    extraTimeoutMs = 0,
  ): Promise<{ status: number; json: unknown }> {
    const url = new URL(path, this.base);
    const signed = signRequest({
      gatewayId: this.o.gatewayId,
      privateKey: this.o.privateKey,
      method,
      path: url.pathname + url.search,
      body,
      now: this.o.clock.now() + (this.skewMs ?? 0),
    });
    const timeout = AbortSignal.timeout((this.o.requestTimeoutMs ?? 30_000) + extraTimeoutMs);
    const started = this.o.clock.now();
    let res: Response;
    let text: string;
    try {
      res = await this.doFetch(url, {
        method,
        headers: { ...headers, ...signed },
        ...(method === 'POST' ? { body } : {}),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await res.text();
    } catch (e) {
      if (signal?.aborted) throw e;
      const timedOut = timeout.aborted;
      throw new SyncAttemptError(
        timedOut ? 'sync.timeout' : 'sync.network',
        timedOut
          ? `no answer from the cloud within the timeout`
          : `cannot reach the cloud: ${describeError(e).message}`,
        undefined,
        undefined,
        { cause: e },
      );
    }
    const ended = this.o.clock.now();
    this.measureSkew(res.headers.get('date'), started, ended);
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok) return { status: res.status, json };
    const err = errorBodySchema.safeParse(json);
    const code = err.success ? err.data.error.code : `http_${res.status}`;
    const message = err.success ? err.data.error.message : `HTTP ${res.status}`;
    throw new SyncAttemptError(
      `sync.${code}`,
      message,
      res.status,
      parseRetryAfter(res.headers.get('retry-after'), ended),
    );
  }

  /**
   * Skew from the `Date` header: the cloud's clock at some point of the exchange, compared with its midpoint on ours.
   * `Date` has one-second resolution, so the estimate is smoothed and only replaced when it moves by more than 1 s.
   */
  private measureSkew(date: string | null, started: number, ended: number): void {
    if (date === null) return;
    const cloud = Date.parse(date);
    if (Number.isNaN(cloud)) return;
    // The header truncates to the second: its true value lies in [cloud, cloud + 1000).
    const skew = cloud + 500 - (started + ended) / 2;
    if (this.skewMs === null || Math.abs(skew - this.skewMs) > 1000) this.skewMs = Math.round(skew);
    else this.skewMs = Math.round(this.skewMs * 0.8 + skew * 0.2);
  }
}
