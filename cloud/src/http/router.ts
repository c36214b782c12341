import { OpenAPIHono } from '@hono/zod-openapi';
import { ValidationError } from '@palisade/shared';
import type { AppEnv } from './env.js';

/**
 * Every router of the API is an OpenAPIHono, so its zod schemas both validate requests and describe them in
 * `/api/v1/openapi.json`. A request that fails its schema becomes a `validation.request` error (400) in the one
 * error shape, with the zod issues as details.
 */
export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw new ValidationError('validation.request', 'request does not match its schema', {
          details: {
            target: result.target,
            issues: result.error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.'), message: i.message })),
          },
        });
      }
    },
  });
}
