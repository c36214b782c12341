import type { ErrorBody } from '@palisade/shared';
import { describeError, isPalisadeError, type Logger } from '@palisade/shared';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * The one place that turns errors into HTTP answers. The reason-code domain decides the status; a few codes get
 * a more precise one. Anything that is not a PalisadeError is a bug: 500 with a generic message (the cause is
 * logged, never sent).
 */
const BY_CODE: Record<string, ContentfulStatusCode> = {
  'auth.unauthenticated': 401,
  'auth.invalid_credentials': 401,
  'auth.invalid_api_key': 401,
  'auth.session_expired': 401,
  'auth.bad_signature': 401,
  'auth.stale_request': 401,
  'auth.replayed_request': 401,
  'auth.unknown_gateway': 401,
  'auth.gateway_revoked': 403,
  'auth.certificate_expired': 401,
  'auth.invalid_enrollment_token': 401,
  'validation.body_too_large': 413,
  'validation.unsupported_media_type': 415,
  'rate_limited.gateway': 429,
};

const BY_DOMAIN: Record<string, ContentfulStatusCode> = {
  validation: 400,
  auth: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  unavailable: 503,
};

export function statusFor(code: string): ContentfulStatusCode {
  return BY_CODE[code] ?? BY_DOMAIN[code.split('.')[0] ?? ''] ?? 500;
}

export function errorBody(code: string, message: string, details?: Readonly<Record<string, unknown>>): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details: { ...details } } };
}

export function errorResponse(c: Context, e: unknown, logger: Logger): Response {
  if (isPalisadeError(e)) {
    const status = statusFor(e.code);
    if (status >= 500) logger.warn({ err: describeError(e), cause: describeError(e.cause) }, 'request failed');
    const retryAfter = e.details?.retryAfterSeconds;
    if (typeof retryAfter === 'number') c.header('Retry-After', String(retryAfter));
    if (status === 503) c.header('Retry-After', '5');
    return c.json(errorBody(e.code, e.message, e.details), status);
  }
  if (e instanceof HTTPException && e.status < 500) {
    // Raised by hono itself (e.g. its JSON body parser on malformed JSON): the client's fault, never a crash.
    const code =
      e.status === 413
        ? 'validation.body_too_large'
        : e.status === 400
          ? 'validation.malformed_body'
          : 'validation.request';
    return c.json(errorBody(code, e.message || 'bad request'), e.status as ContentfulStatusCode);
  }
  logger.error({ err: describeError(e), stack: e instanceof Error ? e.stack : undefined }, 'unhandled error');
  return c.json(errorBody('internal', 'internal error'), 500);
}
