/**
 * The one error hierarchy of Palisade. Every error the product raises on purpose is a {@link PalisadeError}
 * with a typed, dotted `code` (`domain.reason`). Callers branch on `code`, never on `message`.
 * Each surface (HTTP, MQTT, CLI) has one place that maps codes to its own responses.
 */
export class PalisadeError<C extends string = string> extends Error {
  override readonly name: string = 'PalisadeError';
  readonly code: C;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: C, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }

  toJSON(): { code: C; message: string; details?: Readonly<Record<string, unknown>> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Input that does not satisfy a schema or a documented limit (config, API body, CLI argument). */
export class ValidationError extends PalisadeError<`validation.${string}`> {
  override readonly name = 'ValidationError';
}

/** The caller is not who it says it is, or may not do what it asks. */
export class AuthError extends PalisadeError<`auth.${string}`> {
  override readonly name = 'AuthError';
}

/** A referenced record does not exist (or is not visible to the caller). */
export class NotFoundError extends PalisadeError<`not_found.${string}`> {
  override readonly name = 'NotFoundError';
}

/** The request conflicts with the current state (duplicate, wrong workflow transition, stale version). */
export class ConflictError extends PalisadeError<`conflict.${string}`> {
  override readonly name = 'ConflictError';
}

/** A dependency (database, broker, uplink) is not available; the caller may retry later. */
export class UnavailableError extends PalisadeError<`unavailable.${string}`> {
  override readonly name = 'UnavailableError';
}

/** A bug: a state the code believed impossible. Never caused by input. */
export class ImplementationError extends PalisadeError<`implementation.${string}`> {
  override readonly name = 'ImplementationError';
}

export function isPalisadeError(e: unknown): e is PalisadeError {
  return e instanceof PalisadeError;
}

/** A short, loggable description of any thrown value. */
export function describeError(e: unknown): { code: string; message: string } {
  if (e instanceof PalisadeError) return { code: e.code, message: e.message };
  if (e instanceof Error) return { code: 'internal', message: e.message };
  return { code: 'internal', message: String(e) };
}
