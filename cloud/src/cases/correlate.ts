import { type Clock, ImplementationError, newId } from '@palisade/shared';
import { and, eq, gte, inArray, lte, ne, or, type SQL, sql } from 'drizzle-orm';
import { type AlertRow, alerts } from '../alerts/schema.js';
import type { Tx } from '../db/types.js';
import { SYSTEM_ACTOR } from './actor.js';
import { caseAlerts, cases } from './schema.js';
import { jaccard, trigrams } from './similarity.js';
import { recordTimeline } from './timeline.js';
import { maxSeverity, OPEN_STATES, type Severity } from './workflow.js';

/**
 * How alerts are grouped into cases. Every window is measured in DEVICE EVENT TIME (`occurredAt`), never in the
 * time the cloud received an alert, so an alert from a gateway that was offline for hours still lands in the case of
 * the events it belongs with.
 */
export interface CorrelationPolicy {
  /** Same device: any kind of alert within this window. */
  deviceWindowMs: number;
  /** Same firmware measurement (cohort) and same kind of alert, across sites and gateways. */
  cohortWindowMs: number;
  /** Same site and same kind of alert (a site-wide event, e.g. a rogue device sweep). */
  siteWindowMs: number;
  /** Similar title + description (trigram Jaccard ≥ `textThreshold`) anywhere in the organisation. */
  textWindowMs: number;
  textThreshold: number;
  /** Upper bound on alerts examined per new alert (closest in event time first). */
  maxCandidates: number;
}

const HOUR = 3_600_000;
export const DEFAULT_CORRELATION: CorrelationPolicy = {
  deviceWindowMs: 24 * HOUR,
  cohortWindowMs: 24 * HOUR,
  siteWindowMs: 1 * HOUR,
  textWindowMs: 6 * HOUR,
  textThreshold: 0.6,
  maxCandidates: 500,
};

/**
 * `seed`: the alert opened the case; the others name the evidence that linked it (a merge moves links with their
 * original strategy and score). Scores rank the strategies: a shared device is the strongest evidence, a shared
 * site the weakest; a text link scores 0.85 × its similarity, so it never outranks a shared device or cohort.
 */
export type CorrelationStrategy = 'seed' | 'device' | 'cohort' | 'text' | 'site';
export const STRATEGY_WEIGHT = { device: 1, cohort: 0.9, text: 0.85, site: 0.6 } as const;

/** What correlation looks at in an alert. */
export interface AlertFacts {
  id: string;
  siteId: string;
  deviceId: string | null;
  type: string;
  firmwareMeasurement: string | null;
  title: string;
  description: string;
  occurredAt: Date;
}

export interface Candidate extends AlertFacts {
  caseId: string;
  caseCreatedAt: Date;
}

export interface CorrelationMatch {
  caseId: string;
  strategy: Exclude<CorrelationStrategy, 'seed'>;
  score: number;
  details: { matchedAlertId: string; deltaMs: number; similarity?: number };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The strongest link between two alerts under the policy, or null when none applies. `textOf: null` leaves text
 * similarity out (the costly strategy; see `chooseCase`).
 */
export function scorePair(
  a: AlertFacts,
  b: AlertFacts,
  policy: CorrelationPolicy,
  textOf: ((x: AlertFacts) => Set<string>) | null = (x) => trigrams(`${x.title} ${x.description}`),
): Omit<CorrelationMatch, 'caseId'> | null {
  const deltaMs = Math.abs(a.occurredAt.getTime() - b.occurredAt.getTime());
  const base = { matchedAlertId: b.id, deltaMs };
  if (a.deviceId !== null && a.deviceId === b.deviceId && deltaMs <= policy.deviceWindowMs) {
    return { strategy: 'device', score: STRATEGY_WEIGHT.device, details: base };
  }
  if (
    a.firmwareMeasurement !== null &&
    a.firmwareMeasurement === b.firmwareMeasurement &&
    a.type === b.type &&
    deltaMs <= policy.cohortWindowMs
  ) {
    return { strategy: 'cohort', score: STRATEGY_WEIGHT.cohort, details: base };
  }
  let textMatch: Omit<CorrelationMatch, 'caseId'> | null = null;
  if (textOf !== null && deltaMs <= policy.textWindowMs) {
    const similarity = round(jaccard(textOf(a), textOf(b)));
    if (similarity >= policy.textThreshold) {
      textMatch = {
        strategy: 'text',
        score: round(STRATEGY_WEIGHT.text * similarity),
        details: { ...base, similarity },
      };
    }
  }
  const siteMatch =
    a.siteId === b.siteId && a.type === b.type && deltaMs <= policy.siteWindowMs
      ? { strategy: 'site' as const, score: STRATEGY_WEIGHT.site, details: base }
      : null;
  if (textMatch && siteMatch) return textMatch.score >= siteMatch.score ? textMatch : siteMatch;
  return textMatch ?? siteMatch;
}

/**
 * Picks the case a new alert joins, deterministically: highest score; then the closest event in time; then the
 * older case; then the smaller case id. Null when no candidate links.
 */
export function chooseCase(
  alert: AlertFacts,
  candidates: readonly Candidate[],
  policy: CorrelationPolicy = DEFAULT_CORRELATION,
): CorrelationMatch | null {
  // Keyed by the text itself: repeats of one kind of alert share their title and description.
  const cache = new Map<string, Set<string>>();
  const textOf = (x: AlertFacts) => {
    const text = `${x.title} ${x.description}`;
    let t = cache.get(text);
    if (!t) {
      t = trigrams(text);
      cache.set(text, t);
    }
    return t;
  };
  const pick = (withText: boolean) => {
    let best: (CorrelationMatch & { caseCreatedAt: number }) | null = null;
    for (const c of candidates) {
      if (c.id === alert.id) continue;
      const m = scorePair(alert, c, policy, withText ? textOf : null);
      if (!m) continue;
      const cand = { ...m, caseId: c.caseId, caseCreatedAt: c.caseCreatedAt.getTime() };
      if (
        !best ||
        cand.score > best.score ||
        (cand.score === best.score &&
          (cand.details.deltaMs < best.details.deltaMs ||
            (cand.details.deltaMs === best.details.deltaMs &&
              (cand.caseCreatedAt < best.caseCreatedAt ||
                (cand.caseCreatedAt === best.caseCreatedAt && cand.caseId < best.caseId)))))
      ) {
        best = cand;
      }
    }
    return best;
  };
  // A shared device or cohort outscores any text match, so text similarity (trigrams of every candidate) is
  // computed only when neither was found; the second pass then ranks all strategies together.
  let best = pick(false);
  if (!best || best.score <= STRATEGY_WEIGHT.text) best = pick(true);
  if (!best) return null;
  const { caseCreatedAt: _ignored, ...match } = best;
  return match;
}

/**
 * Alerts of open cases that could link to `alert` under some strategy, closest in event time first. Two steps, each
 * on an index (event time, then the link's primary key), so the cost stays linear in the candidates however large
 * a case grows and whatever the planner's statistics say.
 */
async function loadCandidates(tx: Tx, orgId: string, alert: AlertRow, policy: CorrelationPolicy): Promise<Candidate[]> {
  const widest = Math.max(policy.deviceWindowMs, policy.cohortWindowMs, policy.siteWindowMs, policy.textWindowMs);
  const t = alert.occurredAt.getTime();
  const at = alert.occurredAt.toISOString();
  const within = (ms: number) =>
    sql`abs(extract(epoch from ${alerts.occurredAt} - ${at}::timestamptz)) * 1000 <= ${ms}`;
  const strategies: SQL[] = [within(policy.textWindowMs)];
  if (alert.deviceId !== null)
    strategies.push(and(eq(alerts.deviceId, alert.deviceId), within(policy.deviceWindowMs))!);
  if (alert.firmwareMeasurement !== null) {
    strategies.push(
      and(
        eq(alerts.firmwareMeasurement, alert.firmwareMeasurement),
        eq(alerts.type, alert.type),
        within(policy.cohortWindowMs),
      )!,
    );
  }
  strategies.push(and(eq(alerts.siteId, alert.siteId), eq(alerts.type, alert.type), within(policy.siteWindowMs))!);
  const near = await tx
    .select({
      id: alerts.id,
      siteId: alerts.siteId,
      deviceId: alerts.deviceId,
      type: alerts.type,
      firmwareMeasurement: alerts.firmwareMeasurement,
      title: alerts.title,
      description: alerts.description,
      occurredAt: alerts.occurredAt,
    })
    .from(alerts)
    .where(
      and(
        eq(alerts.orgId, orgId),
        ne(alerts.id, alert.id),
        gte(alerts.occurredAt, new Date(t - widest)),
        lte(alerts.occurredAt, new Date(t + widest)),
        or(...strategies),
      ),
    )
    .orderBy(sql`abs(extract(epoch from ${alerts.occurredAt} - ${at}::timestamptz))`, alerts.id)
    .limit(policy.maxCandidates);
  if (near.length === 0) return [];
  const links = await tx
    .select({ alertId: caseAlerts.alertId, caseId: cases.id, caseCreatedAt: cases.createdAt })
    .from(caseAlerts)
    .innerJoin(cases, and(eq(cases.orgId, caseAlerts.orgId), eq(cases.id, caseAlerts.caseId)))
    .where(
      and(
        eq(caseAlerts.orgId, orgId),
        inArray(
          caseAlerts.alertId,
          near.map((a) => a.id),
        ),
        inArray(cases.state, [...OPEN_STATES]),
      ),
    );
  const byAlert = new Map(links.map((l) => [l.alertId, l]));
  const out: Candidate[] = [];
  for (const a of near) {
    const l = byAlert.get(a.id);
    if (l) out.push({ ...a, caseId: l.caseId, caseCreatedAt: l.caseCreatedAt });
  }
  return out;
}

export interface CorrelationOutcome {
  caseId: string;
  created: boolean;
  strategy: CorrelationStrategy;
  score: number;
}

/**
 * Puts a newly stored alert into a case: the best-matching open case, or a new case it seeds. The link row keeps
 * the strategy, score and the alert it matched; the case's timeline records the change.
 */
export async function correlateAlert(
  tx: Tx,
  orgId: string,
  alert: AlertRow,
  clock: Clock,
  policy: CorrelationPolicy = DEFAULT_CORRELATION,
): Promise<CorrelationOutcome> {
  const now = new Date(clock.now());
  const match = chooseCase(alert, await loadCandidates(tx, orgId, alert, policy), policy);
  if (!match) {
    const caseId = newId('case', now.getTime());
    const created = {
      id: caseId,
      orgId,
      title: alert.title,
      description: alert.description,
      state: 'new',
      severity: alert.severity,
      techniques: alert.techniques,
      alertCount: 1,
      firstEventAt: alert.occurredAt,
      lastEventAt: alert.lastSeenAt,
      createdAt: now,
      updatedAt: now,
    };
    await tx.insert(cases).values(created);
    await tx
      .insert(caseAlerts)
      .values({ orgId, alertId: alert.id, caseId, strategy: 'seed', score: 1, details: {}, linkedAt: now });
    await recordTimeline(tx, orgId, caseId, SYSTEM_ACTOR, now, 'case.created', null, {
      state: 'new',
      severity: alert.severity,
      seedAlertId: alert.id,
    });
    return { caseId, created: true, strategy: 'seed', score: 1 };
  }
  const [c] = await tx
    .select()
    .from(cases)
    .where(and(eq(cases.orgId, orgId), eq(cases.id, match.caseId)))
    .for('update');
  if (!c) throw new ImplementationError('implementation.case_vanished', `candidate case ${match.caseId} vanished`);
  await tx.insert(caseAlerts).values({
    orgId,
    alertId: alert.id,
    caseId: c.id,
    strategy: match.strategy,
    score: match.score,
    details: match.details,
    linkedAt: now,
  });
  const severity = maxSeverity(c.severity as Severity, alert.severity as Severity);
  const techniques = [...new Set([...c.techniques, ...alert.techniques])].sort();
  await tx
    .update(cases)
    .set({
      alertCount: c.alertCount + 1,
      severity,
      techniques,
      firstEventAt: c.firstEventAt && c.firstEventAt < alert.occurredAt ? c.firstEventAt : alert.occurredAt,
      lastEventAt: c.lastEventAt && c.lastEventAt > alert.lastSeenAt ? c.lastEventAt : alert.lastSeenAt,
      updatedAt: now,
      version: c.version + 1,
    })
    .where(and(eq(cases.orgId, orgId), eq(cases.id, c.id)));
  await recordTimeline(tx, orgId, c.id, SYSTEM_ACTOR, now, 'alert.linked', null, {
    alertId: alert.id,
    strategy: match.strategy,
    score: match.score,
    ...match.details,
  });
  if (severity !== c.severity) {
    await recordTimeline(tx, orgId, c.id, SYSTEM_ACTOR, now, 'case.severity', { severity: c.severity }, { severity });
  }
  return { caseId: c.id, created: false, strategy: match.strategy, score: match.score };
}
