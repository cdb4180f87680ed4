-- 0004: the gateway's credentials (issue 5). Not read models: they are the
-- gateway's own state, which never enters the event log (DESIGN.md: password
-- hashes stay out of it; events only say that a user exists).
--
-- The application role reads and writes them: login looks a user up by
-- email before any tenant is known, so these tables have no row-level
-- security; nothing in them is a tenant's monitoring data. (Known weakness:
-- every gateway session may read every user's row; narrowing it to
-- SECURITY DEFINER lookups is future work.)

-- A login: one user of one tenant (or a platform admin, tenant_id NULL).
CREATE TABLE users (
  user_id        text PRIMARY KEY,
  email          text NOT NULL UNIQUE CHECK (email = lower(email)),
  tenant_id      text,
  password_hash  text NOT NULL,
  platform_admin boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_by_tenant ON users (tenant_id, user_id);

-- Refresh tokens, stored as SHA-256 of the random token. Each use rotates:
-- the used token is marked, a new one of the same family is issued; using a
-- marked token again revokes the whole family (it was stolen or replayed).
CREATE TABLE refresh_tokens (
  token_hash text PRIMARY KEY,
  user_id    text NOT NULL REFERENCES users ON DELETE CASCADE,
  family     text NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at    timestamptz,
  revoked_at timestamptz
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);

-- Access tokens revoked by logout before they expire (by JWT id).
CREATE TABLE revoked_access_tokens (
  jti        text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON users, refresh_tokens, revoked_access_tokens TO keepwatch_app;

-- Read-your-writes: a reader may wait until the dashboard has applied an
-- offset. Offsets are positions in the log, not tenant data.
GRANT SELECT ON projection_offsets TO keepwatch_app;
