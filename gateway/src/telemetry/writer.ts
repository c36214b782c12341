import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type Clock, describeError, type Logger, silentLogger } from '@palisade/shared';
import type { Store } from '../store/open-store.js';
import { TELEMETRY_COLS as COLS, encodeTelemetryBatch, insertTelemetryBatch } from './insert.js';
import type { WriterWorkerData, WriterWorkerReply, WriterWorkerRequest } from './writer-worker.js';

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
  /**
   * Write on a worker thread with its own connection to the database (file databases only; `:memory:` cannot be
   * shared). Default false; the gateway turns it on (`telemetry.writerThread`).
   */
  thread?: boolean;
  /** The writer thread's SQLite busy timeout, as the store's. Default 5000 ms. */
  busyTimeoutMs?: number;
}

export interface TelemetryReading {
  seq: number;
  values: Readonly<Record<string, number>>;
}

/**
 * Batches handed to the writer thread and not yet processed. A flush beyond this waits for the writer thread:
 * blocking the broker's thread is the backpressure that keeps a QoS 0 flood from outrunning the disk (it slows the
 * reading of sockets, so TCP slows the publishers), exactly as writing in-thread would, but only when the disk is
 * actually behind.
 */
const MAX_BATCHES_IN_FLIGHT = 4;
/** Longest wait for the writer thread at a flush; past it the thread is given up and the writer goes in-thread. */
const STALL_MS = 15_000;
/** How long `stop` waits for the writer thread's last acknowledgements before writing the rest itself. */
const STOP_WAIT_MS = 10_000;

/**
 * Batches telemetry into transactions. `add` is synchronous and cheap (the broker calls it per message); rows reach
 * SQLite every `flushIntervalMs` or every `flushRows` rows, whichever comes first. With `thread`, the transactions run
 * on a worker thread with its own connection (`writer-worker.ts`), so the broker's thread waits on the disk only when
 * it falls behind;
 * if that thread fails, its unacknowledged batches come back to the buffer and the writer carries on in-thread.
 */
export class TelemetryWriter {
  /** Rows as a flat array of column values (no per-row allocation on the hot path). */
  private buffer: (string | number)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly writeBatch: (values: (string | number)[]) => number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly flushIntervalMs: number;
  private readonly flushRows: number;
  private readonly maxBufferedRows: number;
  private worker: Worker | undefined;
  /** Batches posted to the writer thread, by id, until it acknowledges them. */
  private readonly inFlight = new Map<number, (string | number)[]>();
  private inFlightRows = 0;
  private nextBatch = 1;
  /** Batches posted to the writer thread, and the thread's count of those it has processed (shared memory). */
  private posted = 0;
  private progress: Int32Array | undefined;
  private drained: (() => void)[] = [];
  /** Rows committed since start. */
  written = 0;
  /** Rows dropped because the buffer was full while writes failed or lagged. */
  dropped = 0;

  constructor(store: Store, options: TelemetryWriterOptions) {
    this.clock = options.clock;
    this.log = (options.logger ?? silentLogger).child({ module: 'telemetry' });
    this.flushIntervalMs = options.flushIntervalMs ?? 250;
    this.flushRows = options.flushRows ?? 1000;
    this.maxBufferedRows = options.maxBufferedRows ?? 100_000;
    // Compiled on first in-thread write: a writer on its thread may never need it.
    let write: ((values: (string | number)[]) => number) | undefined;
    this.writeBatch = (values) => {
      write ??= insertTelemetryBatch(store.sqlite);
      return write(values);
    };
    if (options.thread === true && store.path !== ':memory:') this.startWorker(store.path, options.busyTimeoutMs);
  }

  /** Settles once the writer thread has opened the database (true) or failed to (false; the writer is in-thread). */
  ready: Promise<boolean> = Promise.resolve(false);
  private settleReady: ((ok: boolean) => void) | undefined;

  /** True while batches are written on the writer thread. */
  get threaded(): boolean {
    return this.worker !== undefined;
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

  /** Rows not yet committed: buffered, or handed to the writer thread and not yet acknowledged. */
  get pending(): number {
    return this.buffer.length / COLS + this.inFlightRows;
  }

  /**
   * Writes everything buffered in one transaction and returns the rows written; with the writer thread, hands the
   * batch over (first waiting while the thread is `MAX_BATCHES_IN_FLIGHT` batches behind) and returns the rows handed
   * over. Never throws.
   */
  flush(): number {
    if (this.buffer.length === 0) return 0;
    if (this.worker !== undefined && !this.waitForWriterThread()) this.abandonWorker(true);
    if (this.worker !== undefined) {
      const values = this.buffer;
      this.buffer = [];
      const id = this.nextBatch++;
      this.inFlight.set(id, values);
      this.inFlightRows += values.length / COLS;
      const batch = encodeTelemetryBatch(values);
      this.worker.postMessage({ id, batch } satisfies WriterWorkerRequest, [batch.nums.buffer as ArrayBuffer]);
      this.posted++;
      return values.length / COLS;
    }
    const values = this.buffer;
    this.buffer = [];
    try {
      const rows = this.writeBatch(values);
      this.written += rows;
      return rows;
    } catch (e) {
      this.requeue(values);
      this.log.error({ err: describeError(e), pending: this.pending }, 'telemetry flush failed');
      return 0;
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  /**
   * Stops the timer and writes what is left: hands the rest to the writer thread and waits for its
   * acknowledgements (at most `STOP_WAIT_MS`), then ends the thread and writes anything still unwritten here.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const worker = this.worker;
    if (worker !== undefined) {
      worker.ref();
      const deadline = Date.now() + STOP_WAIT_MS;
      while ((this.buffer.length > 0 || this.inFlight.size > 0) && this.worker !== undefined && Date.now() < deadline) {
        this.flush();
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          this.drained.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      this.abandonWorker();
      await worker.terminate();
    }
    this.flush();
  }

  /**
   * Blocks until fewer than `MAX_BATCHES_IN_FLIGHT` batches are unprocessed (at once when they are). False when the
   * writer thread made no progress for `STALL_MS`.
   */
  private waitForWriterThread(): boolean {
    const progress = this.progress;
    if (progress === undefined) return true;
    for (;;) {
      const processed = Atomics.load(progress, 0);
      if (this.posted - processed < MAX_BATCHES_IN_FLIGHT) return true;
      if (Atomics.wait(progress, 0, processed, STALL_MS) === 'timed-out') return false;
    }
  }

  private startWorker(path: string, busyTimeoutMs = 5000): void {
    const shared = new SharedArrayBuffer(4);
    this.progress = new Int32Array(shared);
    this.posted = 0;
    this.ready = new Promise((resolve) => {
      this.settleReady = resolve;
    });
    const worker = new Worker(workerScript(), {
      workerData: { path, busyTimeoutMs, progress: shared } satisfies WriterWorkerData,
    });
    worker.unref();
    this.worker = worker;
    worker.on('message', (m: WriterWorkerReply) => this.onReply(m));
    worker.on('error', (e) => {
      this.log.error({ err: describeError(e) }, 'telemetry writer thread failed; writing in-thread');
      this.abandonWorker();
    });
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.log.error({ code }, 'telemetry writer thread exited; writing in-thread');
      this.abandonWorker();
    });
  }

  private onReply(m: WriterWorkerReply): void {
    if ('ready' in m) {
      this.settleReady?.(true);
      return;
    }
    if ('fatal' in m) {
      this.log.error({ err: m.fatal }, 'telemetry writer thread cannot open the database; writing in-thread');
      this.abandonWorker();
      return;
    }
    const values = this.inFlight.get(m.id);
    if (values === undefined) return;
    this.inFlight.delete(m.id);
    this.inFlightRows -= values.length / COLS;
    if ('rows' in m) {
      this.written += m.rows;
    } else {
      // The rows go back to the front of the buffer and are retried by the next flush.
      this.requeue(values);
      this.log.error({ err: m.error, pending: this.pending }, 'telemetry flush failed');
    }
    if (this.inFlight.size === 0) for (const f of this.drained.splice(0)) f();
  }

  /**
   * Stops using the writer thread: its unacknowledged batches return to the buffer, oldest first. A stalled thread
   * is terminated (a batch it committed but never acknowledged is then written twice: duplicated, never lost).
   */
  private abandonWorker(stalled = false): void {
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    this.progress = undefined;
    this.settleReady?.(false);
    if (stalled) {
      this.log.error(
        { stallMs: STALL_MS, pending: this.pending },
        'telemetry writer thread stalled; writing in-thread',
      );
      void worker.terminate();
    }
    const back = [...this.inFlight.keys()].sort((a, b) => a - b).flatMap((id) => this.inFlight.get(id) ?? []);
    this.inFlight.clear();
    this.inFlightRows = 0;
    this.buffer = back.concat(this.buffer);
    for (const f of this.drained.splice(0)) f();
  }

  /** Puts unwritten rows back before the buffer, within the cap. */
  private requeue(values: (string | number)[]): void {
    this.buffer = values.concat(this.buffer);
    this.capBuffer();
  }

  /** Keeps at most `maxBufferedRows` rows waiting (the oldest go first), counting what is dropped. */
  private capBuffer(): void {
    const excess = this.buffer.length / COLS + this.inFlightRows - this.maxBufferedRows;
    if (excess > 0) {
      const n = Math.min(excess, this.buffer.length / COLS);
      this.buffer.splice(0, n * COLS);
      this.dropped += n;
    }
  }
}

/** The compiled worker script beside this module (tests run the TypeScript sources; the worker runs from dist/). */
function workerScript(): URL {
  const here = new URL('./writer-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL(here.href.replace('/src/telemetry/', '/dist/src/telemetry/'));
}
