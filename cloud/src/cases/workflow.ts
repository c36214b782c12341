import { ConflictError } from '@palisade/shared';

/** Severities, lowest to highest. A case takes the highest severity of its alerts unless an analyst sets it. */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: string): number {
  return SEVERITIES.indexOf(s as Severity);
}

export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) >= severityRank(b) ? a : b;
}

/**
 * Case states. `merged` is reached only by merging a case into another (never by a transition) and is final.
 */
export const CASE_STATES = [
  'new',
  'triaged',
  'investigating',
  'contained',
  'resolved',
  'false_positive',
  'merged',
] as const;
export type CaseState = (typeof CASE_STATES)[number];
export type TransitionTarget = Exclude<CaseState, 'merged'>;

/**
 * The explicit transition table. Anything not listed is refused with `conflict.case_transition`.
 * Closed cases can be reopened (resolved → investigating, false_positive → triaged) because evidence arrives late.
 */
export const TRANSITIONS: Readonly<Record<CaseState, readonly TransitionTarget[]>> = {
  new: ['triaged', 'investigating', 'false_positive'],
  triaged: ['investigating', 'resolved', 'false_positive'],
  investigating: ['contained', 'resolved', 'false_positive'],
  contained: ['investigating', 'resolved'],
  resolved: ['investigating'],
  false_positive: ['triaged'],
  merged: [],
};

/** States in which a case still collects newly correlated alerts. */
export const OPEN_STATES: readonly CaseState[] = ['new', 'triaged', 'investigating', 'contained'];
/** States that stop the time-to-resolve clock. */
export const RESOLVED_STATES: readonly CaseState[] = ['resolved', 'false_positive'];

export function assertTransition(from: CaseState, to: string): TransitionTarget {
  const allowed = TRANSITIONS[from];
  if (!allowed.includes(to as TransitionTarget)) {
    throw new ConflictError('conflict.case_transition', `a case in state ${from} cannot move to ${to}`, {
      details: { from, to, allowed: [...allowed] },
    });
  }
  return to as TransitionTarget;
}
