-- 0001: the migrations table and the application role (issue 4 items 2 and 5).
--
-- schema_migrations is also created by the runner before it applies anything
-- (it records this very file); this statement documents its shape.
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    int PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- keepwatch_app: the role the gateway and readers use. It owns no table (every
-- table is created by the migrating role) and never bypasses row-level
-- security; readers set the tenant with SET LOCAL in each transaction. Roles
-- are per cluster: create it only if missing, and refuse an existing one that
-- could bypass RLS rather than silently changing it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keepwatch_app') THEN
    CREATE ROLE keepwatch_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  ELSIF EXISTS (SELECT 1 FROM pg_roles
                WHERE rolname = 'keepwatch_app' AND (rolsuper OR rolbypassrls)) THEN
    RAISE EXCEPTION 'role keepwatch_app exists but is a superuser or has BYPASSRLS';
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO keepwatch_app;
