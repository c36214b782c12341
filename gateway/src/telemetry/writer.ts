import { type Clock, describeError, type Logger, silentLogger } from '@palisade/shared';
import type { Store } from '../store/open-store.js';

export interface TelemetryWriterOptions {
  clock: Clock;
  logger?: Logger;
  /**
   * Longest time a reading waits in memory before it is written. Default 250 ms: short enough that a crash loses
   * little, long enough that a busy plant's readings share one transaction (one fsync of the WAL) per flush.
   */
  flushIntervalMs?: number;
  /** Buffered rows that trigger an immediate flush. Default 1000; bounds memory under a burst. */
  flushRows?: number;
  /**
   * Rows held at most while the database is failing (disk full, locked); beyond it the oldest readings are dropped
   * and counted rather than let memory grow without bound. Default 100 000.
   */
  maxBufferedRows?: number;
}

export interface TelemetryReading {
  seq: number;
  values: Readonly<Record<string, number>>;
}

/** Columns per row in the flat buffer: device_id, ts, seq, metric, value, bytes. */
const COLS = 6;
/**
 * Rows per INSERT statement. One statement per row spends most of its time crossing from JS into SQLite; 128 rows
 * per statement measured 2.6x the rows per second of single-row inserts (640 bound values, far below SQLite's limit).
 */
const ROWS_PER_STATEMENT = 128;

/**
 * Batches telemetry into transactions. `add` is synchronous and cheap (the broker calls it per message); rows reach
 * SQLite every `flushIntervalMs` or every `flushRows` rows, whichever comes first.
 */
export class TelemetryWriter {
  /** Rows as a flat array of column values (no per-row allocation on the hot path). */
  private buffer: (string | number)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly writeBatch: (values: (string | number)[]) => void;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly flushIntervalMs: number;
  private readonly flushRows: number;
  private readonly maxBufferedRows: number;
  /** Rows committed since start. */
  written = 0;
  /** Rows dropped because the buffer was full while writes failed. */
  dropped = 0;

  constructor(store: Store, options: TelemetryWriterOptions) {
    this.clock = options.clock;
    this.log = (options.logger ?? silentLogger).child({ module: 'telemetry' });
    this.flushIntervalMs = options.flushIntervalMs ?? 250;
    this.flushRows = options.flushRows ?? 1000;
    this.maxBufferedRows = options.maxBufferedRows ?? 100_000;
    const sql = (rows: number) =>
      `INSERT INTO telemetry_raw (device_id, ts, seq, metric, value, bytes) VALUES ${Array(rows).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`;
    const many = store.sqlite.prepare<[(string | number)[]]>(sql(ROWS_PER_STATEMENT));
    const one = store.sqlite.prepare<[(string | number)[]]>(sql(1));
    const chunk = ROWS_PER_STATEMENT * COLS;
    this.writeBatch = store.sqlite.transaction((values: (string | number)[]) => {
      let i = 0;
      for (; i + chunk <= values.length; i += chunk) many.run(values.slice(i, i + chunk));
      for (; i < values.length; i += COLS) one.run(values.slice(i, i + COLS));
    });
  }

  /**
   * Buffers one telemetry message; `receivedAt` defaults to the clock (device clocks are not trusted). The message's
   * payload size is kept on its first reading's row, so rollups can count bytes per device.
   */
  add(deviceId: string, reading: TelemetryReading, receivedAt: number = this.clock.now(), payloadBytes = 0): void {
    let bytes = payloadBytes;
    for (const metric in reading.values) {
      const v = reading.values[metric];
      if (v === undefined) continue;
      this.buffer.push(deviceId, receivedAt, reading.seq, metric, v, bytes);
      bytes = 0;
    }
    if (this.buffer.length >= this.flushRows * COLS) this.flush();
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.buffer.length / COLS;
  }

  /** Writes everything buffered in one transaction; returns the rows written. Never throws. */
  flush(): number {
    if (this.buffer.length === 0) return 0;
    const values = this.buffer;
    this.buffer = [];
    try {
      this.writeBatch(values);
      const rows = values.length / COLS;
      this.written += rows;
      return rows;
    } catch (e) {
      // Keep the rows for the next attempt, but never more than the cap (the oldest go first).
      this.buffer = values.concat(this.buffer);
      const excess = this.buffer.length / COLS - this.maxBufferedRows;
      if (excess > 0) {
        this.buffer.splice(0, excess * COLS);
        this.dropped += excess;
      }
      this.log.error({ err: describeError(e), pending: this.pending }, 'telemetry flush failed');
      return 0;
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is left. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}
