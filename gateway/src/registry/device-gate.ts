import { TOPIC_SPECS } from '@palisade/firmware-protocol';
import type { PublishKind } from '../broker/acl.js';
import type { Store } from '../store/open-store.js';
import type { DeviceRow, EnrollmentState } from '../store/schema.js';

interface Entry {
  enrollment: EnrollmentState;
  quarantined: boolean;
}

/**
 * The broker's synchronous view of enrollment and quarantine, answered from memory on every publish (hot path).
 * Kept current by the registry's change events in this process, and by polling `updated_at` for changes made by
 * another process (the CLI operating on the same data dir while the gateway runs).
 */
export class DeviceGate {
  private readonly entries = new Map<string, Entry>();
  private watermark = 0;

  constructor(private readonly store: Store) {
    this.poll();
  }

  /** Applies a committed change from this process. */
  update(d: Pick<DeviceRow, 'id' | 'enrollment' | 'quarantined'>): void {
    this.entries.set(d.id, { enrollment: d.enrollment, quarantined: d.quarantined });
  }

  /** Re-reads rows changed since the last poll (with a margin for clock skew between processes). */
  poll(): number {
    const rows = this.store.sqlite
      .prepare<[number], { id: string; enrollment: EnrollmentState; quarantined: number; updated_at: number }>(
        'SELECT id, enrollment, quarantined, updated_at FROM devices WHERE updated_at >= ?',
      )
      .all(this.watermark - 5_000);
    for (const r of rows) {
      this.entries.set(r.id, { enrollment: r.enrollment, quarantined: r.quarantined === 1 });
      if (r.updated_at > this.watermark) this.watermark = r.updated_at;
    }
    return rows.length;
  }

  enrollment(deviceId: string): EnrollmentState | 'unknown' {
    return this.entries.get(deviceId)?.enrollment ?? 'unknown';
  }

  isQuarantined(deviceId: string): boolean {
    return this.entries.get(deviceId)?.quarantined ?? true;
  }

  /**
   * The broker's publish gate. [FP-7.4-1] A quarantined device, and a device not (yet) approved, may publish only
   * on `attest/evidence` and `status`; a revoked or unknown device nothing at all.
   */
  isPublishAllowed(deviceId: string, kind: PublishKind): true | string | { discard: string } {
    const e = this.entries.get(deviceId);
    if (e === undefined) return 'gate.unknown_device';
    if (e.enrollment === 'revoked') return 'gate.revoked';
    if (kind === 'other') return 'gate.topic';
    if (TOPIC_SPECS[kind].direction !== 'device-to-gateway') return 'gate.direction';
    if ((e.quarantined || e.enrollment !== 'approved') && !TOPIC_SPECS[kind].allowedInQuarantine) {
      // Refused by discarding, not by disconnecting: a dropped connection would be re-established at once and each
      // reconnect re-challenged, turning one failing device into a stream of appraisals, results and alerts.
      return { discard: e.enrollment === 'approved' ? 'gate.quarantined' : 'gate.not_approved' };
    }
    return true;
  }
}
