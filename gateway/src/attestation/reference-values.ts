import { BOARD_FAMILIES, DIGEST_LENGTH, MEASUREMENT_ALGS, type Measurement } from '@palisade/firmware-protocol';
import { toHex } from '@palisade/shared';
import { z } from 'zod';
import { AttestationError } from './reasons.js';

/**
 * Reference values: the known-good firmware measurements per board family and firmware version, against which the
 * appraisal checks evidence [FP-5.2-5]. Operators import and export them as JSON (`refvals import|export`); the
 * schema below is that file format (version 1).
 *
 * A PSA token names neither family nor version [FP-5.3-6]: its entry is found by the registry's facts for the
 * device or, offline, by the token's implementation id, which an entry may carry.
 */

const hex = (what: string) =>
  z
    .string()
    .regex(/^([0-9a-f]{2})+$/, `${what} must be lower-case hex`)
    .max(128, `${what} is at most 64 bytes`);

const componentSchema = z
  .strictObject({
    name: z.string().min(1).max(32),
    alg: z.enum(MEASUREMENT_ALGS as ['sha-256', 'sha-384', 'sha-512']),
    digest: hex('digest'),
    signerId: hex('signerId').optional(),
    version: z.string().max(32).optional(),
  })
  .refine((c) => c.digest.length === DIGEST_LENGTH[c.alg] * 2, {
    message: 'digest length does not match alg',
    path: ['digest'],
  });

const entrySchema = z
  .strictObject({
    boardFamily: z.enum(BOARD_FAMILIES as ['stm32', 'nrf52', 'esp32']),
    firmwareVersion: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$/, 'firmwareVersion is not a valid version'),
    /** PSA implementation id (32 bytes, hex): lets a PSA token find its entry without the registry. */
    implementationId: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'implementationId must be 32 bytes of lower-case hex')
      .optional(),
    description: z.string().max(256).optional(),
    components: z.array(componentSchema).min(1).max(16),
  })
  .refine((e) => new Set(e.components.map((c) => c.name)).size === e.components.length, {
    message: 'component names must be unique within an entry',
    path: ['components'],
  });

export const referenceValuesSchema = z.strictObject({
  version: z.literal(1),
  entries: z.array(entrySchema).max(10_000),
});

export type ReferenceValuesDocument = z.infer<typeof referenceValuesSchema>;
export type ReferenceEntry = ReferenceValuesDocument['entries'][number];
export type ReferenceComponent = ReferenceEntry['components'][number];

/** What is known about the evidence's firmware, to find its entries. */
export interface FirmwareIdentity {
  boardFamily?: string;
  firmwareVersion?: string;
  implementationId?: Uint8Array;
}

/** Outcome of comparing measurements: `match`, `mismatch` (with the components that differ) or `unknown`. */
export type ReferenceVerdict =
  | { verdict: 'match'; entry: ReferenceEntry }
  | { verdict: 'mismatch'; components: string[] }
  | { verdict: 'unknown' };

/** An immutable, indexed set of reference values. */
export class ReferenceValues {
  private readonly byVersion = new Map<string, ReferenceEntry[]>();
  private readonly byImplementation = new Map<string, ReferenceEntry[]>();

  private constructor(readonly document: ReferenceValuesDocument) {
    for (const e of document.entries) {
      push(this.byVersion, `${e.boardFamily}/${e.firmwareVersion}`, e);
      if (e.implementationId !== undefined) push(this.byImplementation, e.implementationId, e);
    }
  }

  static empty(): ReferenceValues {
    return new ReferenceValues({ version: 1, entries: [] });
  }

  /**
   * Parses and validates an import (a JSON string or an already parsed value). Errors name the first bad field,
   * e.g. `entries.2.components.0.digest: digest length does not match alg` (`attestation.reference_values_invalid`).
   */
  static parse(input: unknown): ReferenceValues {
    let value = input;
    if (typeof input === 'string') {
      try {
        value = JSON.parse(input);
      } catch (e) {
        throw new AttestationError('attestation.reference_values_invalid', 'reference values are not valid JSON', {
          cause: e,
        });
      }
    }
    const parsed = referenceValuesSchema.safeParse(value);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new AttestationError(
        'attestation.reference_values_invalid',
        `invalid reference values: ${issues.join('; ')}`,
        { details: { issues } },
      );
    }
    return new ReferenceValues(parsed.data);
  }

  /** The set as its JSON file, entries sorted by family and version so that exports diff cleanly. */
  export(): string {
    const entries = [...this.document.entries].sort(
      (a, b) => a.boardFamily.localeCompare(b.boardFamily) || compareVersions(a.firmwareVersion, b.firmwareVersion),
    );
    return `${JSON.stringify({ version: 1, entries }, null, 2)}\n`;
  }

  get size(): number {
    return this.document.entries.length;
  }

  /**
   * Compares measurements with the entries for the firmware: `match` when one entry's components equal the
   * evidence's exactly (same names, algorithms, digests, and signer ids where the entry gives one); `unknown` when no
   * entry applies; otherwise `mismatch` naming the components of the closest entry that differ.
   */
  appraise(id: FirmwareIdentity, measurements: readonly Measurement[]): ReferenceVerdict {
    const candidates = this.candidates(id);
    if (candidates.length === 0) return { verdict: 'unknown' };
    let best: string[] | undefined;
    for (const entry of candidates) {
      const diff = differences(entry, measurements);
      if (diff.length === 0) return { verdict: 'match', entry };
      if (best === undefined || diff.length < best.length) best = diff;
    }
    return { verdict: 'mismatch', components: best ?? [] };
  }

  /**
   * The entry of `boardFamily` (any version) whose components the measurements match exactly, if any: tells a
   * downgrade to a known older release (rollback) from firmware nobody knows.
   */
  identify(
    boardFamily: string,
    implementationId: Uint8Array | undefined,
    measurements: readonly Measurement[],
  ): ReferenceEntry | undefined {
    const implHex = implementationId === undefined ? undefined : toHex(implementationId);
    return this.document.entries.find(
      (e) =>
        e.boardFamily === boardFamily &&
        (e.implementationId === undefined || e.implementationId === implHex) &&
        differences(e, measurements).length === 0,
    );
  }

  private candidates(id: FirmwareIdentity): ReferenceEntry[] {
    const implHex = id.implementationId === undefined ? undefined : toHex(id.implementationId);
    if (id.boardFamily !== undefined && id.firmwareVersion !== undefined) {
      const entries = this.byVersion.get(`${id.boardFamily}/${id.firmwareVersion}`) ?? [];
      // An entry pinned to an implementation id applies only to tokens of that implementation.
      return entries.filter((e) => e.implementationId === undefined || e.implementationId === implHex);
    }
    if (implHex !== undefined) return this.byImplementation.get(implHex) ?? [];
    return [];
  }
}

function differences(entry: ReferenceEntry, measurements: readonly Measurement[]): string[] {
  const diff = new Set<string>();
  const seen = new Set<string>();
  for (const m of measurements) {
    seen.add(m.component);
    const ref = entry.components.find((c) => c.name === m.component);
    if (
      ref === undefined ||
      ref.alg !== m.alg ||
      ref.digest !== toHex(m.digest) ||
      (ref.signerId !== undefined && (m.signerId === undefined || ref.signerId !== toHex(m.signerId)))
    ) {
      diff.add(m.component);
    }
  }
  for (const c of entry.components) if (!seen.has(c.name)) diff.add(c.name);
  return [...diff].sort();
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** Orders firmware versions numerically by their dotted parts (`1.10.0` after `1.9.2`). */
export function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
