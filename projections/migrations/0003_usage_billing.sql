-- 0003: invoices from the billing periods, and the usage report (issue 4,
-- read models "usage" and "billing").
--
-- billing_close_month(tenant, month)    closes one tenant's invoice for one
--                                       calendar month (UTC)
-- billing_close_partition(p, before)    closes every month that ended by
--                                       `before` for the tenants of one log
--                                       partition
-- usage_report(from, to)                per tenant and day: monitor-hours, peak
--                                       of active monitors, counters
--
-- Guarantees:
-- - An invoice is written once: a (tenant, month) that already has an invoice
--   is never recomputed or changed, and two closers racing on one month
--   produce one invoice (the loser sees the primary key and does nothing).
--   The invoice and its lines are written by one statement.
-- - Every amount is pro-rated by seconds, from the exact overlap of the
--   billing periods with the month, and rounded once, half away from zero, to
--   whole cents: base = round(base_price × plan seconds / month seconds);
--   monitors = round(monitor_price × monitor-seconds / month seconds), a
--   monitor-month being one monitor for the whole month. A period still open
--   (ended_at NULL) counts up to the month's end. Each line's description
--   shows its computation.
-- - A plan period whose plan is not in `plans` is an error naming the plan:
--   nothing is written, and nothing is guessed.
-- - The billing functions run as the caller (the projection runner, which owns
--   the tables) and are not executable by PUBLIC. usage_report is
--   SECURITY INVOKER: keepwatch_app sees only the rows row-level security
--   lets it see, i.e. those of the tenant it SET LOCAL.
-- - Times are UTC whatever the session's TimeZone.

-- Cents as dollars: 25 -> '$0.25', 123456 -> '$1234.56', -5 -> '-$0.05'.
CREATE FUNCTION kw_format_cents(p_cents bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE WHEN p_cents < 0 THEN '-' ELSE '' END
         || '$' || to_char(abs(p_cents) / 100.0, 'FM999999999999990.00')
$$;

-- A quantity for a description, with at most two decimals: 30 -> '30',
-- 7.8 -> '7.8', 1/3 -> '0.33'.
CREATE FUNCTION kw_format_decimal(p_value numeric) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT trim_scale(round(p_value, 2))::text
$$;

-- Closes the invoice of p_tenant for the calendar month (UTC) starting at
-- p_month, which must be the 1st of a month (else raises). Returns true when
-- it wrote the invoice; false, writing nothing, when the month is already
-- invoiced or the tenant had no plan during it. Raises, writing nothing, when
-- a plan period of the month names a plan missing from `plans`.
--
-- Lines, numbered from 1 in order of plan-period start, two per plan period
-- overlapping the month:
--   base      quantity = share of the month on the plan (6 places),
--             unit = base_price_cents,
--             amount = round(base_price_cents × overlap s / month s);
--   monitors  quantity = monitor-hours on the plan during the month
--             (6 places; emitted even when 0),
--             unit = monitor_price_cents,
--             amount = round(monitor_price_cents × monitor s / month s).
-- total_cents is the sum of the amounts.
CREATE FUNCTION billing_close_month(p_tenant text, p_month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  m_start timestamptz;
  m_end   timestamptz;
  missing text;
  n       int;
BEGIN
  IF p_tenant IS NULL THEN
    RAISE EXCEPTION 'billing_close_month: tenant is NULL'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_month IS NULL OR extract(day FROM p_month) <> 1 THEN
    RAISE EXCEPTION 'billing_close_month: month % is not the first day of a month (tenant %)',
      coalesce(p_month::text, 'NULL'), p_tenant
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  IF EXISTS (SELECT 1 FROM invoices WHERE tenant_id = p_tenant AND month = p_month) THEN
    RETURN false;
  END IF;

  m_start := p_month::timestamp AT TIME ZONE 'UTC';
  m_end := (p_month + interval '1 month') AT TIME ZONE 'UTC';

  SELECT string_agg(DISTINCT pp.plan, ', ' ORDER BY pp.plan) INTO missing
    FROM billing_plan_periods pp
   WHERE pp.tenant_id = p_tenant
     AND greatest(pp.started_at, m_start) < least(coalesce(pp.ended_at, m_end), m_end)
     AND NOT EXISTS (SELECT 1 FROM plans WHERE name = pp.plan);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'billing_close_month: plan % of tenant % (month %) is not in the plans table',
      missing, p_tenant, p_month
      USING ERRCODE = 'foreign_key_violation',
            HINT = 'add the plan to config/plans.toml; the month stays open until then';
  END IF;

  WITH cal AS (
    SELECT extract(epoch FROM m_end - m_start) AS secs
  ), periods AS (
    -- each plan period, clipped to the month
    SELECT pp.plan, pp.started_at,
           greatest(pp.started_at, m_start) AS s,
           least(coalesce(pp.ended_at, m_end), m_end) AS e
      FROM billing_plan_periods pp
     WHERE pp.tenant_id = p_tenant
       AND greatest(pp.started_at, m_start) < least(coalesce(pp.ended_at, m_end), m_end)
  ), usage AS (
    SELECT p.plan, p.started_at,
           extract(epoch FROM p.e - p.s) AS plan_secs,
           coalesce((
             SELECT sum(extract(epoch FROM
                      least(coalesce(bm.ended_at, p.e), p.e) - greatest(bm.started_at, p.s)))
               FROM billing_monitor_periods bm
              WHERE bm.tenant_id = p_tenant
                AND greatest(bm.started_at, p.s) < least(coalesce(bm.ended_at, p.e), p.e)
           ), 0) AS monitor_secs
      FROM periods p
  ), priced AS (
    SELECT u.*, pl.base_price_cents, pl.monitor_price_cents, m.secs AS month_secs,
           round(pl.base_price_cents * u.plan_secs / m.secs)::bigint AS base_cents,
           round(pl.monitor_price_cents * u.monitor_secs / m.secs)::bigint AS monitor_cents
      FROM usage u JOIN plans pl ON pl.name = u.plan CROSS JOIN cal m
  ), lines AS (
    SELECT 2 * row_number() OVER (ORDER BY started_at) - 1 AS line_no, 'base' AS kind, plan,
           format('%s plan base price %s × %s of %s days = %s', plan,
                  kw_format_cents(base_price_cents), kw_format_decimal(plan_secs / 86400),
                  kw_format_decimal(month_secs / 86400), kw_format_cents(base_cents))
             AS description,
           round(plan_secs / month_secs, 6) AS quantity,
           base_price_cents AS unit_price_cents, base_cents AS amount_cents
      FROM priced
    UNION ALL
    SELECT 2 * row_number() OVER (ORDER BY started_at), 'monitors', plan,
           format('%s monitor-hours × %s per monitor-month (%s hours) on %s = %s',
                  kw_format_decimal(monitor_secs / 3600), kw_format_cents(monitor_price_cents),
                  kw_format_decimal(month_secs / 3600), plan, kw_format_cents(monitor_cents)),
           round(monitor_secs / 3600, 6),
           monitor_price_cents, monitor_cents
      FROM priced
  ), invoice AS (
    INSERT INTO invoices (tenant_id, month, total_cents)
    SELECT p_tenant, p_month, sum(amount_cents) FROM lines HAVING count(*) > 0
    ON CONFLICT (tenant_id, month) DO NOTHING
    RETURNING 1
  )
  INSERT INTO invoice_lines (tenant_id, month, line_no, kind, plan, description,
                             quantity, unit_price_cents, amount_cents)
  SELECT p_tenant, p_month, line_no, kind, plan, description,
         quantity, unit_price_cents, amount_cents
    FROM lines
   WHERE EXISTS (SELECT 1 FROM invoice);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n > 0;
END
$$;
REVOKE ALL ON FUNCTION billing_close_month(text, date) FROM PUBLIC;

-- Closes, for every tenant of billing_tenants in log partition p_partition,
-- every month that ends on or before p_before (00:00 UTC), that a plan period
-- overlaps and that is not invoiced yet; returns how many invoices it wrote.
-- Raises (writing nothing) as billing_close_month does.
--
-- Cheap when all is closed: a tenant's candidate months start after its
-- latest invoice (one index probe) and are generated only from its plan
-- periods that reach past it, so a closed or deleted tenant costs a look at
-- its few plan periods, not a walk over the months since it was created.
-- Hence a month left open before a later invoiced one (only possible when
-- billing_close_month was called out of order) is not closed here.
CREATE FUNCTION billing_close_partition(p_partition int, p_before date) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  n int := 0;
BEGIN
  FOR r IN
    WITH tenants AS (
      SELECT bt.tenant_id,
             (SELECT max(i.month) FROM invoices i WHERE i.tenant_id = bt.tenant_id) AS last_month
        FROM billing_tenants bt
       WHERE bt.log_partition = p_partition
    )
    SELECT DISTINCT t.tenant_id, m::date AS month
      FROM tenants t
      JOIN billing_plan_periods pp ON pp.tenant_id = t.tenant_id
     CROSS JOIN LATERAL generate_series(
             -- from the month the period starts in, or after the last invoice
             greatest(date_trunc('month', pp.started_at AT TIME ZONE 'UTC'),
                      t.last_month + interval '1 month'),
             -- to the month holding its last instant, or the month of p_before
             least(date_trunc('month', (pp.ended_at AT TIME ZONE 'UTC') - interval '1 microsecond'),
                   date_trunc('month', p_before::timestamp)),
             interval '1 month') AS m
     WHERE m + interval '1 month' <= p_before::timestamp
     ORDER BY t.tenant_id, month
  LOOP
    IF billing_close_month(r.tenant_id, r.month) THEN
      n := n + 1;
    END IF;
  END LOOP;
  RETURN n;
END
$$;
REVOKE ALL ON FUNCTION billing_close_partition(int, date) FROM PUBLIC;

-- One row per tenant and UTC day in [p_from, p_to] on which the tenant had a
-- monitor active or a usage_daily row, ordered by tenant and day:
--   monitor_hours         the overlap of usage_monitor_periods with
--                         [day, min(day + 1, now())), in hours (6 places);
--   peak_active_monitors  the most periods open at one instant of the day (a
--                         period [s, e) is open at t when s <= t < e);
--   checks, notifications, api_calls  from usage_daily, 0 when absent.
-- SECURITY INVOKER: the caller's row-level security decides which tenants.
CREATE FUNCTION usage_report(p_from date, p_to date)
RETURNS TABLE (tenant_id text, day date, monitor_hours numeric,
               peak_active_monitors int, checks bigint, notifications bigint,
               api_calls bigint)
LANGUAGE sql STABLE SECURITY INVOKER AS $$
  WITH days AS (
    SELECT d::date AS day,
           d AT TIME ZONE 'UTC' AS day_start,
           least((d + interval '1 day') AT TIME ZONE 'UTC', now()) AS day_end
      FROM generate_series(p_from::timestamp, p_to::timestamp, interval '1 day') AS d
  ), periods AS (
    -- each monitor period, clipped to each day it overlaps
    SELECT p.tenant_id, d.day,
           greatest(p.started_at, d.day_start) AS s,
           least(coalesce(p.ended_at, 'infinity'), d.day_end) AS e
      FROM days d
      JOIN usage_monitor_periods p
        ON p.started_at < d.day_end
       AND coalesce(p.ended_at, 'infinity') > d.day_start
       AND greatest(p.started_at, d.day_start) < least(coalesce(p.ended_at, 'infinity'), d.day_end)
  ), edges AS (
    -- +1 where a period opens, -1 where it closes; at one instant closings
    -- come first, so a period ending at t is not counted with one starting at t
    SELECT tenant_id, day, s AS at, 1 AS delta FROM periods
    UNION ALL
    SELECT tenant_id, day, e, -1 FROM periods
  ), open_counts AS (
    SELECT tenant_id, day,
           sum(delta) OVER (PARTITION BY tenant_id, day ORDER BY at, delta
                            ROWS UNBOUNDED PRECEDING) AS open_now
      FROM edges
  ), monitors AS (
    SELECT h.tenant_id, h.day, h.hours, pk.peak
      FROM (SELECT tenant_id, day, sum(extract(epoch FROM e - s)) / 3600 AS hours
              FROM periods GROUP BY tenant_id, day) h
      JOIN (SELECT tenant_id, day, max(open_now)::int AS peak
              FROM open_counts GROUP BY tenant_id, day) pk USING (tenant_id, day)
  ), counters AS (
    SELECT u.tenant_id, u.day, u.checks, u.notifications, u.api_calls
      FROM usage_daily u
     WHERE u.day BETWEEN p_from AND p_to
  )
  SELECT tenant_id, day,
         round(coalesce(m.hours, 0), 6),
         coalesce(m.peak, 0),
         coalesce(c.checks, 0::bigint),
         coalesce(c.notifications, 0::bigint),
         coalesce(c.api_calls, 0::bigint)
    FROM monitors m
    FULL JOIN counters c USING (tenant_id, day)
   ORDER BY tenant_id, day
$$;
REVOKE ALL ON FUNCTION usage_report(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION usage_report(date, date) TO keepwatch_app;
