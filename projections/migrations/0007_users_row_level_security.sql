-- 0007: logins under row-level security. 0004 left `users` readable by
-- every gateway session; from here a keepwatch_app session reads and
-- writes only the logins of the tenant it has set (keepwatch.tenant_id),
-- like every tenant table, and platform admins' logins (no tenant) not at
-- all.
--
-- What must be looked up before any tenant is known goes through narrow
-- SECURITY DEFINER functions, each answering for one email or one user id
-- that the caller already names (never a list):
--   auth_user_by_email(email)   login, and a retried sign-up
--   auth_user_by_id(user_id)    refresh, and "still a platform admin?"
--   auth_any_platform_admin()   at start: is there a platform admin yet
--   auth_add_first_platform_admin(user_id, email, hash)
--                               at start: the first one, if none yet
-- They run as the tables' owner (who is not held to the policy) with a
-- fixed search_path, so a session cannot substitute its own objects.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
  USING (tenant_id = nullif(current_setting('keepwatch.tenant_id', true), ''));

CREATE FUNCTION auth_user_by_email(p_email text)
RETURNS TABLE (user_id text, tenant_id text, password_hash text, platform_admin boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT u.user_id, u.tenant_id, u.password_hash, u.platform_admin FROM users u WHERE u.email = lower(p_email)
$$;

CREATE FUNCTION auth_user_by_id(p_user_id text)
RETURNS TABLE (tenant_id text, platform_admin boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT u.tenant_id, u.platform_admin FROM users u WHERE u.user_id = p_user_id
$$;

CREATE FUNCTION auth_any_platform_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM users WHERE platform_admin)
$$;

CREATE FUNCTION auth_add_first_platform_admin(p_user_id text, p_email text, p_hash text) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO users (user_id, email, tenant_id, password_hash, platform_admin)
  SELECT p_user_id, lower(p_email), NULL, p_hash, true
   WHERE NOT EXISTS (SELECT 1 FROM users WHERE platform_admin)
  ON CONFLICT (email) DO NOTHING
$$;

REVOKE ALL ON FUNCTION auth_user_by_email(text), auth_user_by_id(text), auth_any_platform_admin(),
  auth_add_first_platform_admin(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_user_by_email(text), auth_user_by_id(text), auth_any_platform_admin(),
  auth_add_first_platform_admin(text, text, text) TO keepwatch_app;
