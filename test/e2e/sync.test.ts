import { describe, expect, it } from 'vitest';
import { syncSuite, waitUntil, writeRollups } from './sync-world.js';

/**
 * Store-and-forward under faults, end to end: a real cloud (PGlite in process), gateways enrolled through the real
 * endpoint, the gateway's sync agent talking through a TCP proxy that fails the link in the ways uplinks fail. In
 * every case the cloud must end with exactly the gateway's records: same count, same content, and the accepted
 * batches together carried each record once.
 */

// Tight per-gateway rate limit: the rate-limit case below runs into it for real.
const suite = syncSuite({ burst: 5, perSecond: 2 });
const { gateway, client, expectExactlyOnce } = suite;

describe('sync under faults', () => {
  it('rides out a cloud answering 500 and then not answering at all (timeouts)', async () => {
    const g = await gateway();
    writeRollups(g.store, 'dev-a', 0, 120);
    const c = client(g, { maxRecords: 25, requestTimeoutMs: 400 });
    g.proxy.mode = 'http500';
    const done = c.drain();
    await waitUntil(() => g.proxy.stats.connections >= 3, 5000, 'three 500 answers');
    expect(c.status().lastError?.code).toBe('sync.internal');
    g.proxy.mode = 'blackhole';
    const before = g.proxy.stats.connections;
    await waitUntil(
      () => g.proxy.stats.connections >= before + 2 && c.status().lastError?.code === 'sync.timeout',
      8000,
      'two timeouts',
    );
    g.proxy.mode = 'pass';
    await done;
    await expectExactlyOnce(g);
    expect(c.status()).toMatchObject({ pendingRecords: 0, consecutiveFailures: 0 });
  });

  it('loses nothing over a long link cut while records keep being written', async () => {
    const g = await gateway();
    const c = client(g, { maxRecords: 200 });
    let next = writeRollups(g.store, 'dev-b', 0, 50);
    c.start();
    const writer = setInterval(() => {
      next = writeRollups(g.store, 'dev-b', next, 7);
      c.wake();
    }, 20);
    await waitUntil(() => c.status().batchesAcked >= 1, 5000, 'a first ack');
    g.proxy.mode = 'cut';
    await new Promise((r) => setTimeout(r, 1500));
    const queued = c.status().pendingRecords;
    expect(queued).toBeGreaterThan(100);
    g.proxy.mode = 'pass';
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(writer);
    await waitUntil(() => c.status().pendingRecords === 0, 10_000, 'the backlog to drain');
    await c.stop();
    await expectExactlyOnce(g);
  });

  it('honours the cloud rate limit (429 + Retry-After) and still delivers every record once', async () => {
    const g = await gateway();
    writeRollups(g.store, 'dev-c', 0, 14);
    const c = client(g, { maxRecords: 2 });
    const t0 = Date.now();
    await c.drain();
    // 7 batches against a burst of 5 and 2/s: at least one 429 told the agent to wait a whole second.
    expect(c.status().lastError?.code).toBe('sync.rate_limited.gateway');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    await expectExactlyOnce(g);
  });

  it('a gateway restored from an old backup (sequence numbers reused) renumbers and still delivers every record once', async () => {
    const g = await gateway();
    writeRollups(g.store, 'dev-e', 0, 30);
    const c = client(g, { maxRecords: 10 });
    await c.drain();
    expect(c.status().ackedSequence).toBe(3);
    // The disk comes back from a backup taken before those batches: the counter starts over at 1.
    g.store.sqlite.prepare('UPDATE sync_state SET next_seq = 1, acked_seq = 0').run();
    writeRollups(g.store, 'dev-e', 30, 15);
    await c.drain();
    // Sequences 1-3 answered 409 (held with other content); the records went out under fresh numbers.
    expect(c.status().ackedSequence).toBeGreaterThan(3);
    await expectExactlyOnce(g);
  });
});
