-- The role every tenant-scoped transaction runs as (`SET LOCAL ROLE palisade_app` in withTenant): not a superuser,
-- no BYPASSRLS, so row-level security applies to it. Roles are cluster-wide on PostgreSQL, hence the guard.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'palisade_app') THEN
    CREATE ROLE palisade_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
END
$$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO palisade_app;
--> statement-breakpoint
-- Every table later migrations create (as the migrating role) is readable and writable by the app role; RLS
-- policies decide which rows.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO palisade_app;
--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO palisade_app;
