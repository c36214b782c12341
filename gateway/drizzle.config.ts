import { defineConfig } from 'drizzle-kit';

/** Migrations for the gateway's SQLite store: `npx drizzle-kit generate` (from `gateway/`), applied by `openStore`. */
export default defineConfig({
  dialect: 'sqlite',
  schema: ['./src/store/schema.ts', './src/sync/schema.ts'],
  out: './drizzle',
});
