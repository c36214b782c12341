/**
 * The telemetry writer's database thread (see `TelemetryWriter`'s `thread` option): its own connection to the
 * gateway's WAL database, writing the batches the broker's thread hands over. The broker's event loop then waits
 * on the disk only when the disk is behind (see `TelemetryWriter`): on a gateway's eMMC a commit can take
 * milliseconds, during which no device would otherwise be served. Each batch commits in one transaction and is acknowledged with its row count, or with the error
 * (the sender keeps the rows and retries them).
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { decodeTelemetryBatch, type EncodedTelemetryBatch, insertTelemetryBatch } from './insert.js';

export interface WriterWorkerData {
  path: string;
  busyTimeoutMs: number;
  /**
   * Int32 slot 0: batches processed (committed or failed), incremented and notified after each, so that the
   * broker's thread can wait for the writer without the message queue (its backpressure, see `TelemetryWriter`).
   */
  progress: SharedArrayBuffer;
}

export type WriterWorkerRequest = { id: number; batch: EncodedTelemetryBatch };
export type WriterWorkerReply =
  | { id: number; rows: number }
  | { id: number; error: { name: string; code?: string; message: string } }
  | { ready: true }
  | { fatal: { name: string; code?: string; message: string } };

/** Nice value of this thread (0 normal, 19 lowest). */
const WRITER_NICE = 10;

const port = parentPort;
if (port === null) throw new Error('writer-worker runs only as a worker thread');
const data = workerData as WriterWorkerData;
const progress = new Int32Array(data.progress);

function errorOf(e: unknown): { name: string; code?: string; message: string } {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' ? { name: e.name, code, message: e.message } : { name: e.name, message: e.message };
  }
  return { name: 'Error', message: String(e) };
}

// Below the broker's thread when both want the CPU: on Linux a nice value set from a thread applies to that thread
// only. Readings are not lost by this (the broker waits when this thread is behind); the broker keeps serving devices.
try {
  setPriority(WRITER_NICE);
} catch {
  // Not permitted (or not supported here): same priority as the broker.
}

let write: (values: (string | number)[]) => number;
try {
  // fileMustExist: the main thread created and migrated the database; a missing file is a misconfiguration here.
  const db = new Database(data.path, { fileMustExist: true });
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(data.busyTimeoutMs))}`);
  db.pragma('synchronous = NORMAL');
  write = insertTelemetryBatch(db);
  port.postMessage({ ready: true } satisfies WriterWorkerReply);
} catch (e) {
  port.postMessage({ fatal: errorOf(e) } satisfies WriterWorkerReply);
  process.exit(1);
}

port.on('message', (m: WriterWorkerRequest) => {
  let reply: WriterWorkerReply;
  try {
    reply = { id: m.id, rows: write(decodeTelemetryBatch(m.batch)) };
  } catch (e) {
    reply = { id: m.id, error: errorOf(e) };
  }
  port.postMessage(reply);
  Atomics.add(progress, 0, 1);
  Atomics.notify(progress, 0);
});
