import { defineConfig } from 'drizzle-kit';

/** Migrations for PGlite and PostgreSQL alike: `npx drizzle-kit generate` (from `cloud/`). */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/**/schema.ts',
  out: './drizzle',
});
