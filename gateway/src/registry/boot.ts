/**
 * Boot counter and boot seed bookkeeping. [FP-5.2-3] A device's boot counter only ever grows; its boot seed is
 * fresh random bytes at every boot. So: a lower counter is a rollback (or a clone whose counter lags); the same
 * counter with a different seed is a reboot that did not count (also a rollback signal); a higher counter with a new
 * seed is an ordinary reboot.
 */
export type BootVerdict = 'first' | 'same-boot' | 'reboot' | 'rollback' | 'seed-reused';

export interface BootState {
  bootCount?: number | null;
  bootSeed?: string | null;
}

export function classifyBoot(previous: BootState | undefined, next: BootState): BootVerdict {
  const prevCount = previous?.bootCount ?? null;
  const prevSeed = previous?.bootSeed ?? null;
  const count = next.bootCount ?? null;
  const seed = next.bootSeed ?? null;
  if (prevCount === null && prevSeed === null) return 'first';
  if (count !== null && prevCount !== null) {
    if (count < prevCount) return 'rollback';
    if (count > prevCount) {
      // A new boot must bring a new seed; an old seed with a higher counter means the counter was forged or replayed.
      return seed !== null && seed === prevSeed ? 'seed-reused' : 'reboot';
    }
    // Same counter: either the same boot, or a reboot that did not advance the counter.
    return seed !== null && prevSeed !== null && seed !== prevSeed ? 'rollback' : 'same-boot';
  }
  // No counters to compare (a device that reports only a seed): a seed change is a reboot.
  return seed !== null && prevSeed !== null && seed !== prevSeed ? 'reboot' : 'same-boot';
}
