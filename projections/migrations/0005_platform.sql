-- 0005: what platform administrators read across tenants.
--
-- Row-level security shows keepwatch_app one tenant's rows at a time, so the
-- platform admin's list of tenants goes through this function, which runs as
-- the owner of the read models. It answers only the tenants table's own
-- columns (id, name, plan, status, times) — no member, monitor or billing
-- data. The gateway calls it only on routes that asked for the platform
-- action. Like status_page_by_slug (0002): search_path pinned with pg_temp
-- last and the table qualified, so a caller's temporary objects cannot stand
-- in for it; EXECUTE for keepwatch_app only.

-- A page of tenants ordered by id: those after `p_after` ('' for the first),
-- of status `p_status` ('' for any), at most `p_limit` (clamped to 1..201).
CREATE FUNCTION platform_tenants(p_after text, p_status text, p_limit integer)
RETURNS TABLE (tenant_id text, name text, plan text, status text,
               created_at timestamptz, updated_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  SELECT t.tenant_id, t.name, t.plan, t.status, t.created_at, t.updated_at
    FROM public.tenants t
   WHERE t.tenant_id > p_after AND (p_status = '' OR t.status = p_status)
   ORDER BY t.tenant_id
   LIMIT least(greatest(p_limit, 1), 201)
$$;
REVOKE ALL ON FUNCTION platform_tenants(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_tenants(text, text, integer) TO keepwatch_app;
