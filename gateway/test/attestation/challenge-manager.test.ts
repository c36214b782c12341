import { decodeChallenge, parseDeviceTopic } from '@palisade/firmware-protocol';
import { ManualClock, toHex } from '@palisade/shared';
import { describe, expect, it } from 'vitest';
import {
  type ChallengeEvent,
  ChallengeManager,
  type ChallengeManagerOptions,
  MemoryNonceStore,
  type Scheduler,
} from '../../src/attestation/index.js';

/** Timers on a manual clock: `advance` moves time and fires what falls due, in order. */
class ManualScheduler implements Scheduler {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 0;
  constructor(private readonly clock: ManualClock) {}
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.push({ at: this.clock.now() + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  get pending(): number {
    return this.timers.length;
  }
  async advance(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    for (;;) {
      await flush();
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const t = this.timers[0];
      if (t === undefined || t.at > end) break;
      this.timers.shift();
      this.clock.set(t.at);
      t.fn();
    }
    this.clock.set(end);
    await flush();
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

function setup(over: Partial<ChallengeManagerOptions> = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const scheduler = new ManualScheduler(clock);
  const nonces = new MemoryNonceStore();
  const sent: { deviceId: string; nonceHex: string; reason: string; ttlMs: number; issuedAt: number }[] = [];
  const events: ChallengeEvent[] = [];
  let seq = 0;
  const manager = new ChallengeManager({
    clock,
    scheduler,
    nonces,
    // deterministic "random": distinct nonces, and 0x80.. for jitter draws (u = 0.5, no jitter)
    random: (n) => {
      const b = new Uint8Array(n).fill(0x80);
      if (n === 32) new DataView(b.buffer).setUint32(0, seq++);
      return b;
    },
    publish: async (topic, payload) => {
      const t = parseDeviceTopic(topic);
      const c = decodeChallenge(payload);
      expect(t?.kind).toBe('challenge');
      sent.push({
        deviceId: t?.deviceId ?? '',
        nonceHex: toHex(c.nonce),
        reason: c.reason,
        ttlMs: c.ttlMs,
        issuedAt: c.issuedAt,
      });
    },
    onEvent: (e) => events.push(e),
    ...over,
  });
  return { clock, scheduler, nonces, sent, events, manager };
}

describe('ChallengeManager', () => {
  it('[FP-7.1-1] challenges on connect with a stored 32-byte nonce and the default 30 s TTL', async () => {
    const s = setup();
    s.manager.connected('nrf52-1');
    await flush();
    expect(s.sent).toHaveLength(1);
    expect(s.sent[0]).toMatchObject({ deviceId: 'nrf52-1', reason: 'connect', ttlMs: 30_000 });
    expect(s.sent[0]?.nonceHex).toHaveLength(64);
    expect(s.nonces.consume(s.sent[0]?.nonceHex ?? '', 'nrf52-1', s.clock.now())).toBe('ok');
    expect(s.events[0]).toMatchObject({ type: 'attestation.challenge_sent', deviceId: 'nrf52-1' });
  });

  it('[FP-7.3-2] bounds outstanding challenges: 1 000 reconnecting devices are served in waves', async () => {
    const s = setup({ maxInFlight: 64 });
    for (let i = 0; i < 1000; i++) s.manager.connected(`dev-${i}`);
    await flush();
    expect(s.sent).toHaveLength(64);
    expect(s.manager.stats()).toEqual({ devices: 1000, inFlight: 64, queued: 936 });
    // answering frees slots for the queue, oldest first
    for (const c of s.sent.slice(0, 10)) expect(s.manager.answered(c.deviceId, c.nonceHex)).toBe(true);
    await flush();
    expect(s.sent).toHaveLength(74);
    expect(s.sent[73]?.deviceId).toBe('dev-73');
    // answer everything as it comes
    for (let i = 10; i < s.sent.length; i++) {
      const c = s.sent[i];
      if (c !== undefined) s.manager.answered(c.deviceId, c.nonceHex);
      await flush();
    }
    expect(s.sent).toHaveLength(1000);
    expect(new Set(s.sent.map((c) => c.nonceHex)).size).toBe(1000);
    expect(s.manager.stats().inFlight).toBe(0);
  });

  it('an answer for a nonce that is not the outstanding one frees nothing', async () => {
    const s = setup();
    s.manager.connected('d1');
    await flush();
    expect(s.manager.answered('d1', 'ab'.repeat(32))).toBe(false);
    expect(s.manager.answered('d2', s.sent[0]?.nonceHex ?? '')).toBe(false);
    expect(s.manager.stats().inFlight).toBe(1);
  });

  it('[FP-7.2-1] re-challenges after TTL, 2×TTL, 4×TTL, then reports the device unresponsive', async () => {
    const s = setup({ ttlMs: 10_000, periodMs: 0 });
    const start = s.clock.now();
    s.manager.connected('silent');
    await flush();
    await s.scheduler.advance(10_000); // first challenge expires
    expect(s.events.filter((e) => e.type === 'attestation.timeout')).toHaveLength(1);
    await s.scheduler.advance(10_000); // retry 1 after TTL
    expect(s.sent).toHaveLength(2);
    await s.scheduler.advance(10_000 + 20_000); // expires, then retry 2 after 2×TTL
    expect(s.sent).toHaveLength(3);
    await s.scheduler.advance(10_000 + 40_000); // expires, then retry 3 after 4×TTL
    expect(s.sent).toHaveLength(4);
    await s.scheduler.advance(10_000);
    const timeouts = s.events.filter((e) => e.type === 'attestation.timeout');
    expect(timeouts.map((e) => (e.type === 'attestation.timeout' ? [e.attempt, e.final] : []))).toEqual([
      [0, false],
      [1, false],
      [2, false],
      [3, true],
    ]);
    expect(timeouts[3]).toMatchObject({ reason: 'appraisal.no_evidence' });
    expect(s.sent.map((c) => c.issuedAt - start)).toEqual([0, 20_000, 50_000, 100_000]);
    expect(new Set(s.sent.map((c) => c.nonceHex)).size).toBe(4);
    expect(s.manager.stats().inFlight).toBe(0);
    await s.scheduler.advance(1_000_000);
    expect(s.sent).toHaveLength(4);
  });

  it('[FP-7.3-1] re-challenges periodically with ±10 % jitter drawn from the random source', async () => {
    const draws = [0x00, 0xff];
    let seq = 0;
    const s = setup({
      periodMs: 100_000,
      random: (n) => {
        const b = new Uint8Array(n).fill(n === 4 ? (draws.shift() ?? 0x80) : 0);
        if (n === 32) new DataView(b.buffer).setUint32(0, seq++);
        return b;
      },
    });
    s.manager.connected('d1');
    await flush();
    const t0 = s.clock.now();
    s.manager.answered('d1', s.sent[0]?.nonceHex ?? '');
    await s.scheduler.advance(89_999);
    expect(s.sent).toHaveLength(1);
    await s.scheduler.advance(1);
    expect(s.sent).toHaveLength(2);
    expect(s.sent[1]).toMatchObject({ reason: 'periodic', issuedAt: t0 + 90_000 });
    s.manager.answered('d1', s.sent[1]?.nonceHex ?? '');
    await s.scheduler.advance(109_997);
    expect(s.sent).toHaveLength(2);
    await s.scheduler.advance(3);
    expect(s.sent).toHaveLength(3);
  });

  it('[FP-7.3-2] on-demand challenges: coalesced with an outstanding one, refused for unknown devices', async () => {
    const s = setup();
    expect(s.manager.request('ghost')).toBe(false);
    s.manager.connected('d1');
    await flush();
    expect(s.manager.request('d1')).toBe(true);
    await flush();
    expect(s.sent).toHaveLength(1);
    s.manager.answered('d1', s.sent[0]?.nonceHex ?? '');
    expect(s.manager.request('d1', 'on-demand')).toBe(true);
    await flush();
    expect(s.sent.map((c) => c.reason)).toEqual(['connect', 'on-demand']);
  });

  it('disconnect frees the slot and cancels retries and periodic challenges', async () => {
    const s = setup({ maxInFlight: 1 });
    s.manager.connected('d1');
    s.manager.connected('d2');
    await flush();
    expect(s.sent.map((c) => c.deviceId)).toEqual(['d1']);
    s.manager.disconnected('d1');
    await flush();
    expect(s.sent.map((c) => c.deviceId)).toEqual(['d1', 'd2']);
    s.manager.disconnected('d2');
    expect(s.scheduler.pending).toBe(0);
    expect(s.manager.stats()).toEqual({ devices: 0, inFlight: 0, queued: 0 });
  });

  it('[FP-7.1-1] a reconnect gets a fresh connect challenge even while the old one is outstanding', async () => {
    const s = setup({ maxInFlight: 1 });
    s.manager.connected('d1');
    await flush();
    s.manager.connected('d1');
    await flush();
    expect(s.sent.map((c) => c.reason)).toEqual(['connect', 'connect']);
    expect(s.manager.stats()).toEqual({ devices: 1, inFlight: 1, queued: 0 });
    expect(s.scheduler.pending).toBe(1);
  });

  it('a publish failure is reported and retried like a timeout', async () => {
    let fail = true;
    const s = setup({
      ttlMs: 1_000,
      publish: async () => {
        if (fail) throw new Error('broker down');
      },
    });
    s.manager.connected('d1');
    await flush();
    expect(s.events.map((e) => e.type)).toEqual(['attestation.publish_failed', 'attestation.timeout']);
    expect(s.manager.stats().inFlight).toBe(0);
    fail = false;
    await s.scheduler.advance(1_000);
    expect(s.events.at(-1)).toMatchObject({ type: 'attestation.challenge_sent', attempt: 1 });
  });

  it('refuses a TTL outside 1 000..300 000 ms', () => {
    expect(() => setup({ ttlMs: 500 })).toThrow(expect.objectContaining({ code: 'validation.challenge_ttlMs' }));
  });
});
