import { ValidationError } from '@palisade/shared';
import type { z } from 'zod';

/** Parses a service input with its schema; failures become `validation.<what>` with the zod issues as details. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    throw new ValidationError(`validation.${what}`, `invalid ${what.replaceAll('_', ' ')}`, {
      details: { issues: r.error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  return r.data;
}

/** `%` and `_` in user text match themselves in LIKE patterns, not any character. */
export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}
