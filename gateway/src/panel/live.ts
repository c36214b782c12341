import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';

/**
 * Change notification for the panel's server-sent events. One poller per panel compares a cheap fingerprint of the
 * store (see `changeMark`) every `intervalMs` while at least one browser listens, and wakes the listeners when it
 * moves. Polling the store rather than hooking every writer means a change made by the CLI on the same data
 * directory, or by the sync agent, shows up too.
 */
export class LiveFeed {
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private last: string | undefined;

  constructor(
    private readonly mark: () => string,
    private readonly intervalMs: number,
  ) {}

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    if (this.timer === undefined) {
      this.last = this.mark();
      this.timer = setInterval(() => this.check(), this.intervalMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** Checks now (after a change made through the panel itself). */
  check(): void {
    if (this.listeners.size === 0) return;
    let next: string;
    try {
      next = this.mark();
    } catch {
      return; // store closing: the next tick or the closing stream ends this
    }
    if (next === this.last) return;
    this.last = next;
    for (const l of this.listeners) l();
  }

  get size(): number {
    return this.listeners.size;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The `text/event-stream` answer: `change` events, a comment line every 15 s to keep proxies from closing it. */
export function liveStream(c: Context, feed: LiveFeed, keepAliveMs = 15_000): Response {
  return streamSSE(c, async (stream) => {
    let changed = false;
    let wake: (() => void) | undefined;
    const unsubscribe = feed.subscribe(() => {
      changed = true;
      wake?.();
    });
    stream.onAbort(() => {
      unsubscribe();
      wake?.();
    });
    try {
      await stream.writeSSE({ event: 'hello', data: 'live' });
      while (!stream.aborted && !stream.closed) {
        if (changed) {
          changed = false;
          await stream.writeSSE({ event: 'change', data: 'reload' });
          continue;
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, keepAliveMs);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
        if (!changed && !stream.aborted) await stream.write(': keep-alive\n\n');
      }
    } finally {
      unsubscribe();
    }
  });
}
