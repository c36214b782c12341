import { Decoder, Encoder, Tag } from 'cbor-x';
import { ProtocolError } from '../errors.js';

export { Tag };

/**
 * Hard limits applied to every CBOR item before cbor-x builds a single value (PROTOCOL.md [FP-2-2]). A structural
 * scan walks the item's headers first: it checks well-formedness, sizes, depth, counts, tags, UTF-8 and duplicate
 * map keys without allocating values, so hostile input cannot exhaust memory or stack and cbor-x only ever sees
 * items that are already known to be bounded and well formed.
 */
export interface CborLimits {
  /** Total encoded size. */
  maxBytes: number;
  /** Nesting depth of arrays, maps and tags (the top-level item is depth 1). */
  maxDepth: number;
  /** Items in one array, or pairs in one map. */
  maxItems: number;
  /** Items in the whole data item, all levels together. */
  maxTotalItems: number;
  /** Length of one byte or text string. */
  maxStringBytes: number;
  /** Indefinite-length strings, arrays and maps ([FP-2-3]: the protocol uses none). */
  allowIndefinite: boolean;
  /** `undefined` (simple 23). */
  allowUndefined: boolean;
  /** Tags that may appear; any other tag is `cbor.unsupported`. */
  allowedTags: ReadonlySet<number>;
}

/** The protocol's limits (PROTOCOL.md §2): 8 KiB, depth 16, 256 items, only tag 18 (COSE_Sign1). */
export const DEFAULT_CBOR_LIMITS: Readonly<CborLimits> = Object.freeze({
  maxBytes: 8192,
  maxDepth: 16,
  maxItems: 256,
  maxTotalItems: 2048,
  maxStringBytes: 8192,
  allowIndefinite: false,
  allowUndefined: false,
  allowedTags: new Set([18]),
});

/**
 * Tags of RFC 8949 §3.4 with well-defined content, plus COSE_Sign1 (18) and CWT (61). Used for inspecting arbitrary
 * tokens and for the RFC 8949 Appendix A conformance suite; never for messages on device topics.
 */
export const GENERIC_CBOR_LIMITS: Readonly<CborLimits> = Object.freeze({
  ...DEFAULT_CBOR_LIMITS,
  maxBytes: 65536,
  maxStringBytes: 65536,
  maxTotalItems: 16384,
  allowIndefinite: true,
  allowUndefined: true,
  allowedTags: new Set([0, 1, 2, 3, 18, 21, 22, 23, 24, 32, 33, 34, 36, 37, 61, 55799]),
});

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fail(
  code: 'cbor.malformed' | 'cbor.too_large' | 'cbor.too_deep' | 'cbor.too_many_items' | 'cbor.unsupported',
  message: string,
  offset: number,
): never {
  throw new ProtocolError(code, message, { details: { offset } });
}

/** The content of a tag must have the major type its definition requires (RFC 8949 §3.4). */
const TAG_CONTENT: ReadonlyMap<number, readonly number[]> = new Map([
  [0, [3]],
  [1, [0, 1, 7]],
  [2, [2]],
  [3, [2]],
  [21, [2, 4, 5]],
  [22, [2, 4, 5]],
  [23, [2, 4, 5]],
  [24, [2]],
  [32, [3]],
  [33, [3]],
  [34, [3]],
  [36, [3]],
  [37, [2]],
]);

/** An indefinite-length string found by the scan: its span and its chunks' content joined. */
interface ChunkedString {
  start: number;
  end: number;
  major: number;
  content: Uint8Array;
}

class Scanner {
  private pos = 0;
  private total = 0;
  /** cbor-x cannot decode chunked strings; the scan collects them so the input can be rewritten definite. */
  readonly chunked: ChunkedString[] = [];

  constructor(
    private readonly b: Uint8Array,
    private readonly limits: CborLimits,
  ) {}

  /** Scans one complete item starting at the current position; returns its major type. */
  scan(depth: number): number {
    const { b, limits } = this;
    if (depth > limits.maxDepth) fail('cbor.too_deep', `nesting deeper than ${limits.maxDepth}`, this.pos);
    if (++this.total > limits.maxTotalItems) {
      fail('cbor.too_many_items', `more than ${limits.maxTotalItems} items in total`, this.pos);
    }
    const start = this.pos;
    if (start >= b.length) fail('cbor.malformed', 'unexpected end of input', start);
    const ib = b[this.pos++] as number;
    const major = ib >> 5;
    const ai = ib & 31;
    if (ai === 31) {
      if (major === 7) fail('cbor.malformed', 'break outside an indefinite-length item', start);
      if (major < 2 || major === 6) fail('cbor.malformed', 'indefinite length on a type that has none', start);
      if (!limits.allowIndefinite) fail('cbor.unsupported', 'indefinite-length items are not used', start);
      this.scanIndefinite(major, depth, start);
      return major;
    }
    if (major === 7) {
      this.scanSimple(ai, start);
      return major;
    }
    const arg = this.readArgument(ai, start);
    switch (major) {
      case 0:
      case 1:
        return major;
      case 2:
      case 3:
        this.skipString(major, arg, start);
        return major;
      case 4:
        this.checkCount(arg, start);
        for (let i = 0; i < arg; i++) this.scan(depth + 1);
        return major;
      case 5: {
        this.checkCount(arg, start);
        const keys: number[] = [];
        for (let i = 0; i < arg; i++) this.scanPair(depth, keys, start);
        return major;
      }
      default: {
        // major 6: a tag and its one content item
        if (!limits.allowedTags.has(arg)) fail('cbor.unsupported', `tag ${arg} is not supported`, start);
        const contentMajor = this.scan(depth + 1);
        const allowed = TAG_CONTENT.get(arg);
        if (allowed !== undefined && !allowed.includes(contentMajor)) {
          fail('cbor.malformed', `tag ${arg} has content of the wrong type`, start);
        }
        return major;
      }
    }
  }

  /**
   * One key and its value. [FP-2-4] Duplicate keys are found by comparing the keys' encoded bytes against the map's
   * earlier keys (their offsets in `keys`), without allocating: maps are small, and the input size bounds the work.
   */
  private scanPair(depth: number, keys: number[], mapStart: number): void {
    const keyStart = this.pos;
    this.scan(depth + 1);
    const keyEnd = this.pos;
    const len = keyEnd - keyStart;
    const b = this.b;
    for (let k = 0; k < keys.length; k += 2) {
      const s = keys[k] as number;
      if ((keys[k + 1] as number) - s !== len) continue;
      let i = 0;
      while (i < len && b[s + i] === b[keyStart + i]) i++;
      if (i === len) fail('cbor.malformed', 'duplicate map key', mapStart);
    }
    keys.push(keyStart, keyEnd);
    this.scan(depth + 1);
  }

  private scanIndefinite(major: number, depth: number, start: number): void {
    const { b } = this;
    let count = 0;
    const keys: number[] = [];
    const chunks: Uint8Array[] = [];
    for (;;) {
      if (this.pos >= b.length) fail('cbor.malformed', 'unterminated indefinite-length item', start);
      if (b[this.pos] === 0xff) {
        this.pos++;
        if (major === 2 || major === 3) {
          const content = Buffer.concat(chunks);
          if (content.length > this.limits.maxStringBytes) fail('cbor.too_large', 'chunked string too long', start);
          if (major === 3) {
            try {
              utf8.decode(content);
            } catch {
              fail('cbor.malformed', 'text string is not valid UTF-8', start);
            }
          }
          this.chunked.push({ start, end: this.pos, major, content });
        }
        return;
      }
      this.checkCount(++count, start);
      if (major === 2 || major === 3) {
        // chunks must be definite-length strings of the same major type
        const cb = b[this.pos] as number;
        if (cb >> 5 !== major || (cb & 31) === 31) fail('cbor.malformed', 'bad chunk in indefinite string', this.pos);
        const headerEnd = this.pos + 1 + ((cb & 31) < 24 ? 0 : 1 << ((cb & 31) - 24));
        this.scan(depth + 1);
        chunks.push(b.subarray(headerEnd, this.pos));
      } else if (major === 4) this.scan(depth + 1);
      else this.scanPair(depth, keys, start);
    }
  }

  private scanSimple(ai: number, start: number): void {
    if (ai >= 20 && ai <= 22) return; // false, true, null
    if (ai === 23) {
      if (!this.limits.allowUndefined) fail('cbor.unsupported', 'undefined is not used', start);
      return;
    }
    if (ai === 25 || ai === 26 || ai === 27) {
      const n = ai === 25 ? 2 : ai === 26 ? 4 : 8;
      if (this.pos + n > this.b.length) fail('cbor.malformed', 'truncated float', start);
      this.pos += n;
      return;
    }
    if (ai === 24) {
      if (this.pos >= this.b.length) fail('cbor.malformed', 'truncated simple value', start);
      if ((this.b[this.pos] as number) < 32) fail('cbor.malformed', 'two-byte encoding of a simple value < 32', start);
      this.pos++;
    }
    if (ai >= 28) fail('cbor.malformed', 'reserved additional information', start);
    // Unassigned simple values (0..19, 32..255) carry no meaning for the protocol ([FP-2-3]).
    fail('cbor.unsupported', 'unassigned simple value', start);
  }

  private readArgument(ai: number, start: number): number {
    const { b } = this;
    if (ai < 24) return ai;
    if (ai > 27) fail('cbor.malformed', 'reserved additional information', start);
    const n = 1 << (ai - 24);
    if (this.pos + n > b.length) fail('cbor.malformed', 'truncated header', start);
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + (b[this.pos + i] as number);
    this.pos += n;
    // 64-bit integers beyond 2^53 lose precision here, which only matters for lengths (refused by the limits anyway).
    return v;
  }

  private checkCount(n: number, start: number): void {
    if (n > this.limits.maxItems) fail('cbor.too_many_items', `more than ${this.limits.maxItems} items`, start);
  }

  private skipString(major: number, len: number, start: number): void {
    if (len > this.limits.maxStringBytes)
      fail('cbor.too_large', `string longer than ${this.limits.maxStringBytes}`, start);
    if (this.pos + len > this.b.length) fail('cbor.malformed', 'string runs past the end of input', start);
    if (major === 3) {
      try {
        utf8.decode(this.b.subarray(this.pos, this.pos + len));
      } catch {
        fail('cbor.malformed', 'text string is not valid UTF-8', start);
      }
    }
    this.pos += len;
  }

  get position(): number {
    return this.pos;
  }
}

const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });
const encoder = new Encoder({ mapsAsObjects: false, useRecords: false, tagUint8Array: false, variableMapSize: true });

/** Byte strings become plain `Uint8Array` copies, never views into the received buffer ([FP-6-1]). */
function normalise(v: unknown): unknown {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = normalise(v[i]);
    return v;
  }
  if (v instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, x] of v) out.set(normalise(k), normalise(x));
    return out;
  }
  if (v instanceof Tag) return new Tag(normalise(v.value), v.tag);
  return v;
}

/** Rewrites each chunked string as one definite-length string with the same content (outermost spans only). */
function joinChunkedStrings(bytes: Uint8Array, chunked: readonly ChunkedString[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const c of [...chunked].sort((x, y) => x.start - y.start)) {
    if (c.start < at) continue; // chunks cannot nest, but never emit a span twice
    parts.push(
      bytes.subarray(at, c.start),
      encodeCbor(c.major === 3 ? new TextDecoder().decode(c.content) : c.content),
    );
    at = c.end;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts);
}

/**
 * Decodes exactly one CBOR data item with no trailing bytes ([FP-2-1]). Maps decode to `Map` (integer keys stay
 * numbers), byte strings to `Uint8Array`, unknown-to-cbor-x tags to {@link Tag}. Throws only `ProtocolError` with a
 * `cbor.*` code.
 */
export function decodeCbor(bytes: Uint8Array, limits: Readonly<CborLimits> = DEFAULT_CBOR_LIMITS): unknown {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError('cbor.malformed', 'input must be bytes');
  if (bytes.length > limits.maxBytes) {
    throw new ProtocolError('cbor.too_large', `input exceeds ${limits.maxBytes} bytes`, {
      details: { size: bytes.length, max: limits.maxBytes },
    });
  }
  if (bytes.length === 0) throw new ProtocolError('cbor.malformed', 'empty input');
  const scanner = new Scanner(bytes, limits);
  scanner.scan(1);
  if (scanner.position !== bytes.length) {
    throw new ProtocolError('cbor.trailing_bytes', 'bytes after the data item', {
      details: { offset: scanner.position, size: bytes.length },
    });
  }
  let value: unknown;
  try {
    value = decoder.decode(scanner.chunked.length > 0 ? joinChunkedStrings(bytes, scanner.chunked) : bytes);
  } catch (cause) {
    // The scan accepted it, so this is a construct cbor-x itself refuses.
    throw new ProtocolError('cbor.unsupported', 'CBOR item could not be decoded', { cause });
  }
  return normalise(value);
}

/**
 * Encodes a value: `Map` with integer keys for protocol structures, `Uint8Array` as byte strings (untagged),
 * definite lengths. Returns a fresh buffer the caller owns.
 */
export function encodeCbor(value: unknown): Uint8Array {
  try {
    return new Uint8Array(encoder.encode(value));
  } catch (cause) {
    throw new ProtocolError('cbor.unsupported', 'value cannot be encoded as CBOR', { cause });
  }
}
