import type { Clock } from '@palisade/shared';

/** Abuse limits of the broker; every default is chosen against a specific attack. */
export interface BrokerLimits {
  /**
   * Largest MQTT packet (remaining length, bytes). Protocol messages are at most 8 KiB [FP-4.1-2]; the margin is
   * for topic and header. A larger declared length closes the connection before the body is buffered, so a
   * peer cannot make the broker hold megabytes per socket. Default 16 384.
   */
  maxPacketSize: number;
  /** New connections accepted per remote address per minute (reconnect storms, credential guessing). Default 60. */
  connectionsPerAddressPerMinute: number;
  /** Inbound QoS 2 messages a client may hold un-released (aedes `maxInflightInbound`). Default 32. */
  maxInflight: number;
  /** Sustained PUBLISH rate per device; above it the device is disconnected (flooding). Default 50. */
  messagesPerSecondPerDevice: number;
  /** Token-bucket depth: short bursts above the rate (a status + evidence at connect). Default 2 × rate. */
  messageBurst: number;
  /** Time allowed between TCP accept and CONNECT, and for the TLS handshake (slow-loris). Default 10 000 ms. */
  connectTimeoutMs: number;
}

export function resolveLimits(partial: Partial<BrokerLimits> | undefined): BrokerLimits {
  const rate = partial?.messagesPerSecondPerDevice ?? 50;
  const limits: BrokerLimits = {
    maxPacketSize: partial?.maxPacketSize ?? 16_384,
    connectionsPerAddressPerMinute: partial?.connectionsPerAddressPerMinute ?? 60,
    maxInflight: partial?.maxInflight ?? 32,
    messagesPerSecondPerDevice: rate,
    messageBurst: partial?.messageBurst ?? Math.max(1, 2 * rate),
    connectTimeoutMs: partial?.connectTimeoutMs ?? 10_000,
  };
  for (const [k, v] of Object.entries(limits)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new RangeError(`broker limit ${k} must be a positive number`);
    }
  }
  return limits;
}

/** A token bucket refilled continuously; `take()` is O(1) and allocation-free. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    private readonly clock: Clock,
  ) {
    this.tokens = capacity;
    this.last = clock.now();
  }

  take(): boolean {
    const now = this.clock.now();
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.ratePerSecond) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Fixed one-minute windows per remote address. The table is pruned when it grows, so a scan from many addresses
 * cannot grow it without bound.
 */
export class ConnectionRateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
    private readonly maxTracked = 100_000,
  ) {}

  admit(address: string): boolean {
    const now = this.clock.now();
    let w = this.windows.get(address);
    if (w === undefined || now - w.start >= 60_000) {
      if (w === undefined && this.windows.size >= this.maxTracked) this.prune(now);
      w = { start: now, count: 0 };
      this.windows.set(address, w);
    }
    w.count++;
    return w.count <= this.perMinute;
  }

  private prune(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= 60_000) this.windows.delete(k);
    // Still full of live windows: forget the oldest half rather than grow.
    if (this.windows.size >= this.maxTracked) {
      let n = Math.floor(this.windows.size / 2);
      for (const k of this.windows.keys()) {
        if (n-- <= 0) break;
        this.windows.delete(k);
      }
    }
  }
}

interface LengthParser {
  packet: { length: number };
  _parseLength: () => boolean;
}

/**
 * Installs the packet-size limit on an aedes client's MQTT parser (mqtt-packet). The check runs when the fixed
 * header's remaining length has been decoded — before the body is buffered. Returns false when the parser does not
 * have the expected shape (a dependency upgrade changed it); the caller then refuses the connection rather than
 * run without the limit.
 */
export function limitPacketSize(client: unknown, max: number, onOversize: (length: number) => void): boolean {
  const parser = (client as { _parser?: Partial<LengthParser> })._parser;
  const original = parser?._parseLength;
  if (parser === undefined || typeof original !== 'function') return false;
  let tripped = false;
  parser._parseLength = function limitedParseLength(this: LengthParser): boolean {
    if (tripped) return false;
    const ok = original.call(this);
    if (ok && this.packet.length > max) {
      tripped = true;
      onOversize(this.packet.length);
      return false;
    }
    return ok;
  };
  return true;
}
