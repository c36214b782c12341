import { createHash } from 'node:crypto';
import type { Measurement } from '@palisade/firmware-protocol';
import { toHex } from '@palisade/shared';

/**
 * One digest for a device's whole measured firmware, to notice any change between appraisals: SHA-256 over the
 * sorted `component:alg:digest` lines, so the order a device lists its components in does not matter.
 */
export function measurementDigest(measurements: readonly Measurement[]): string {
  const lines = measurements.map((m) => `${m.component}:${m.alg}:${toHex(m.digest)}`).sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}
