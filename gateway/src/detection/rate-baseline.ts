export interface RateBaselineOptions {
  /** Length of a counting window. Default 10 s. */
  windowMs?: number;
  /** EWMA weight of the newest window. Default 0.2 (about the last 10 windows matter). */
  alpha?: number;
  /** Windows observed before the baseline is trusted. Default 6 (one minute at the default window). */
  warmupWindows?: number;
  /** A window is anomalous above `factor × baseline`. Default 4. */
  factor?: number;
  /** ...and above this many messages per second, so a quiet device going from 0.1/s to 0.5/s is not news. Default 2. */
  minRatePerSec?: number;
  maxTracked?: number;
}

export interface RateAnomaly {
  ratePerSec: number;
  baselinePerSec: number;
  factor: number;
}

interface DeviceRate {
  windowStart: number;
  count: number;
  ewma: number;
  windows: number;
}

/**
 * Message rate per device against its own exponentially weighted moving average. An anomalous window does not feed
 * the baseline, so a flood cannot teach the detector that floods are normal.
 */
export class RateBaseline {
  private readonly windowMs: number;
  private readonly alpha: number;
  private readonly warmup: number;
  private readonly factor: number;
  private readonly minRate: number;
  private readonly maxTracked: number;
  private readonly devices = new Map<string, DeviceRate>();

  constructor(o: RateBaselineOptions = {}) {
    this.windowMs = o.windowMs ?? 10_000;
    this.alpha = o.alpha ?? 0.2;
    this.warmup = o.warmupWindows ?? 6;
    this.factor = o.factor ?? 4;
    this.minRate = o.minRatePerSec ?? 2;
    this.maxTracked = o.maxTracked ?? 10_000;
  }

  /** Counts one message at `now`; returns an anomaly at most once per window, as soon as the window crosses. */
  observe(deviceId: string, now: number): RateAnomaly | undefined {
    let d = this.devices.get(deviceId);
    if (d === undefined) {
      if (this.devices.size >= this.maxTracked) {
        const oldest = this.devices.keys().next().value;
        if (oldest !== undefined) this.devices.delete(oldest);
      }
      d = { windowStart: now, count: 0, ewma: 0, windows: 0 };
      this.devices.set(deviceId, d);
    }
    if (now >= d.windowStart + this.windowMs) {
      const elapsed = Math.floor((now - d.windowStart) / this.windowMs);
      const rate = (d.count * 1000) / this.windowMs;
      if (!this.isAnomalous(d, rate)) this.feed(d, rate);
      // Silent windows in between count as zero, up to one baseline's memory.
      for (let i = 1; i < Math.min(elapsed, 20); i++) this.feed(d, 0);
      d.windowStart += elapsed * this.windowMs;
      d.count = 0;
    }
    d.count++;
    const rate = (d.count * 1000) / this.windowMs;
    // Fire exactly when the window's count first crosses the threshold.
    if (this.isAnomalous(d, rate) && !this.isAnomalous(d, ((d.count - 1) * 1000) / this.windowMs)) {
      return { ratePerSec: rate, baselinePerSec: d.ewma, factor: this.factor };
    }
    return undefined;
  }

  baseline(deviceId: string): number | undefined {
    return this.devices.get(deviceId)?.ewma;
  }

  private isAnomalous(d: DeviceRate, rate: number): boolean {
    return d.windows >= this.warmup && rate > this.minRate && rate > this.factor * d.ewma;
  }

  private feed(d: DeviceRate, rate: number): void {
    d.ewma = d.windows === 0 ? rate : this.alpha * rate + (1 - this.alpha) * d.ewma;
    d.windows++;
  }
}
