import { SEVERITIES, type Severity } from './workflow.js';

/** Targets of one severity, in minutes. */
export interface SlaTarget {
  acknowledgeMinutes: number;
  resolveMinutes: number;
}
export type SlaPolicy = Record<Severity, SlaTarget>;

/** Used until an admin configures the organisation's own targets. */
export const DEFAULT_SLA: SlaPolicy = {
  critical: { acknowledgeMinutes: 15, resolveMinutes: 4 * 60 },
  high: { acknowledgeMinutes: 60, resolveMinutes: 24 * 60 },
  medium: { acknowledgeMinutes: 4 * 60, resolveMinutes: 3 * 24 * 60 },
  low: { acknowledgeMinutes: 24 * 60, resolveMinutes: 7 * 24 * 60 },
  info: { acknowledgeMinutes: 3 * 24 * 60, resolveMinutes: 30 * 24 * 60 },
};

export interface SlaClock {
  targetMinutes: number;
  dueAt: string;
  /** Time the clock has run: until it stopped, else until now. */
  elapsedMs: number;
  stoppedAt: string | null;
  breached: boolean;
}

export interface SlaStatus {
  acknowledge: SlaClock;
  resolve: SlaClock;
}

function clockOf(startMs: number, targetMinutes: number, stoppedAt: Date | null, nowMs: number): SlaClock {
  const dueMs = startMs + targetMinutes * 60_000;
  const endMs = stoppedAt ? stoppedAt.getTime() : nowMs;
  return {
    targetMinutes,
    dueAt: new Date(dueMs).toISOString(),
    elapsedMs: Math.max(0, endMs - startMs),
    stoppedAt: stoppedAt ? stoppedAt.toISOString() : null,
    breached: endMs > dueMs,
  };
}

/**
 * Both clocks start when the case is opened. Time to acknowledge stops at the first change out of `new`; time to
 * resolve stops on `resolved`/`false_positive` (and runs again if the case is reopened). Targets follow the case's
 * CURRENT severity, so raising the severity can put a case in breach at once — which is what the SOC wants to see.
 * `breached` is computed from the clock every time, never stored, so it cannot go stale.
 */
export function slaStatus(
  c: { severity: string; createdAt: Date; acknowledgedAt: Date | null; resolvedAt: Date | null },
  policy: SlaPolicy,
  nowMs: number,
): SlaStatus {
  const target = policy[(SEVERITIES as readonly string[]).includes(c.severity) ? (c.severity as Severity) : 'medium'];
  const start = c.createdAt.getTime();
  return {
    acknowledge: clockOf(start, target.acknowledgeMinutes, c.acknowledgedAt, nowMs),
    resolve: clockOf(start, target.resolveMinutes, c.resolvedAt, nowMs),
  };
}
