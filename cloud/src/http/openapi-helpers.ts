import { z } from '@hono/zod-openapi';

/** A JSON response entry of a route's `responses`. */
export const json = <T extends z.ZodType>(schema: T, description = 'OK') => ({
  content: { 'application/json': { schema } },
  description,
});

/** A JSON request body entry of a route's `request`. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  content: { 'application/json': { schema } },
  required: true,
});

export const idParam = z.object({ id: z.string().min(1).max(128) });

export const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
