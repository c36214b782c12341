import { ProtocolError, type ProtocolReasonCode } from '../errors.js';

/**
 * Typed reads out of a decoded CBOR map (integer keys) with the checks every wire schema needs: presence, CBOR
 * major type, size bounds. Each failure is a {@link ProtocolError} whose code the caller chooses (`message.schema`
 * for messages, `evidence.missing_claim` / `evidence.bad_claim` for evidence claims), and whose `details` name the
 * field, never echo its value.
 */
export interface FieldCodes {
  /** The map itself is not a map. */
  readonly notMap: ProtocolReasonCode;
  /** A required key is absent. */
  readonly missing: ProtocolReasonCode;
  /** A key holds a value of the wrong type, size or range, or an unknown key is present where forbidden. */
  readonly bad: ProtocolReasonCode;
}

interface SizeBounds {
  readonly min?: number;
  readonly max: number;
}

export class FieldReader {
  private constructor(
    readonly map: ReadonlyMap<unknown, unknown>,
    private readonly what: string,
    private readonly codes: FieldCodes,
  ) {}

  static of(value: unknown, what: string, codes: FieldCodes): FieldReader {
    if (!(value instanceof Map)) {
      throw new ProtocolError(codes.notMap, `${what} must be a CBOR map`, { details: { what } });
    }
    return new FieldReader(value, what, codes);
  }

  has(key: number): boolean {
    return this.map.has(key);
  }

  /** Rejects any key not listed (messages are closed maps: PROTOCOL.md [FP-4.1-3]). */
  onlyKeys(allowed: readonly number[]): void {
    for (const k of this.map.keys()) {
      if (typeof k !== 'number' || !allowed.includes(k)) {
        throw this.bad(typeof k === 'number' ? k : -1, 'unknown key', 'unexpected key');
      }
    }
  }

  private get(key: number, name: string): unknown {
    const v = this.map.get(key);
    if (v === undefined) {
      throw new ProtocolError(this.codes.missing, `${this.what}: missing ${name} (key ${key})`, {
        details: { what: this.what, field: name, key },
      });
    }
    return v;
  }

  bad(key: number, name: string, why: string): ProtocolError {
    return new ProtocolError(this.codes.bad, `${this.what}: ${name} (key ${key}) ${why}`, {
      details: { what: this.what, field: name, key, why },
    });
  }

  bytes(key: number, name: string, size: SizeBounds): Uint8Array {
    return checkBytes(this.get(key, name), size, (why) => this.bad(key, name, why));
  }

  optBytes(key: number, name: string, size: SizeBounds): Uint8Array | undefined {
    return this.map.has(key) ? this.bytes(key, name, size) : undefined;
  }

  text(key: number, name: string, size: SizeBounds, pattern?: RegExp): string {
    return checkText(this.get(key, name), size, pattern, (why) => this.bad(key, name, why));
  }

  optText(key: number, name: string, size: SizeBounds, pattern?: RegExp): string | undefined {
    return this.map.has(key) ? this.text(key, name, size, pattern) : undefined;
  }

  /** An integer in [min, max] (both within the safe-integer range). */
  int(key: number, name: string, min: number, max: number): number {
    return checkInt(this.get(key, name), min, max, (why) => this.bad(key, name, why));
  }

  optInt(key: number, name: string, min: number, max: number): number | undefined {
    return this.map.has(key) ? this.int(key, name, min, max) : undefined;
  }

  oneOf<T extends string>(key: number, name: string, values: readonly T[]): T {
    const v = this.get(key, name);
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      throw this.bad(key, name, `must be one of ${values.join(', ')}`);
    }
    return v as T;
  }

  optOneOf<T extends string>(key: number, name: string, values: readonly T[]): T | undefined {
    return this.map.has(key) ? this.oneOf(key, name, values) : undefined;
  }

  array(key: number, name: string, size: SizeBounds): unknown[] {
    const v = this.get(key, name);
    if (!Array.isArray(v)) throw this.bad(key, name, 'must be an array');
    if (v.length < (size.min ?? 0) || v.length > size.max) {
      throw this.bad(key, name, `must hold ${size.min ?? 0} to ${size.max} items`);
    }
    return v;
  }

  raw(key: number, name: string): unknown {
    return this.get(key, name);
  }
}

/** A byte string, copied into a plain Uint8Array (never a Buffer view into the received message). */
export function checkBytes(v: unknown, size: SizeBounds, fail: (why: string) => Error): Uint8Array {
  if (!(v instanceof Uint8Array)) throw fail('must be a byte string');
  const min = size.min ?? 0;
  if (v.length < min || v.length > size.max) throw fail(`must be ${min} to ${size.max} bytes`);
  return new Uint8Array(v);
}

export function checkText(
  v: unknown,
  size: SizeBounds,
  pattern: RegExp | undefined,
  fail: (why: string) => Error,
): string {
  if (typeof v !== 'string') throw fail('must be a text string');
  const min = size.min ?? 0;
  if (v.length < min || v.length > size.max) throw fail(`must be ${min} to ${size.max} characters`);
  if (pattern !== undefined && !pattern.test(v)) throw fail('has a bad format');
  return v;
}

export function checkInt(v: unknown, min: number, max: number, fail: (why: string) => Error): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw fail('must be an integer');
  if (v < min || v > max) throw fail(`must be in [${min}, ${max}]`);
  return v;
}
