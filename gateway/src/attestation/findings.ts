import type { TrustworthinessClaim, TrustworthinessVector } from '@palisade/firmware-protocol';
import { EAR_STATUS_SEVERITY, trustTier } from '@palisade/shared';

/**
 * What an appraisal found, as it goes: the AR4SI trustworthiness vector [FP-8.2-1] and the reason codes that explain
 * every non-affirming claim [FP-8.2-3]. A claim only ever moves to a less favourable tier.
 */
export class Findings {
  readonly vector: TrustworthinessVector = {};
  private readonly reasonList: string[] = [];

  /** Sets `claim` to `value` unless it already holds a value of a less favourable tier. */
  set(claim: TrustworthinessClaim, value: number): void {
    const current = this.vector[claim];
    if (current === undefined || severity(value) > severity(current)) this.vector[claim] = value;
  }

  /** A failed check: its reason codes (appraisal code first, then any protocol-layer code) and its claim value. */
  fail(claim: TrustworthinessClaim, value: number, ...reasons: string[]): void {
    this.set(claim, value);
    for (const r of reasons) if (!this.reasonList.includes(r)) this.reasonList.push(r);
  }

  has(reason: string): boolean {
    return this.reasonList.includes(reason);
  }

  /** At most 32 reasons travel in a result [FP-4.4]. */
  get reasons(): string[] {
    return this.reasonList.slice(0, 32);
  }

  get failed(): boolean {
    return this.reasonList.length > 0;
  }
}

/** Tier order for "less favourable": affirming < none < warning < contraindicated; no-claim values rank lowest. */
function severity(value: number): number {
  const tier = trustTier(value);
  return tier === 'none' ? -1 : EAR_STATUS_SEVERITY[tier];
}
