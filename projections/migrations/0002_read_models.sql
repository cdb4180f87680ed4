-- 0002: the read models (issue 4 item 4) and the runner's offsets (item 3).
--
-- Every tenant table has tenant_id first in its primary key (so every index
-- leads with it) and row-level security on
-- current_setting('keepwatch.tenant_id', true): a reader that did not set the
-- tenant sees nothing. The projection runner writes as the migrating role,
-- which owns the tables; keepwatch_app (0001) only reads, and only its
-- tenant's rows.
--
-- Which projection writes which table (a rebuild truncates exactly these):
--   dashboard  tenants members api_keys channels status_pages
--              maintenance_windows monitors monitor_last_check heartbeats
--              monitor_stats_minute
--              monitor_stats_hour monitor_stats_day incidents
--   usage      usage_daily usage_monitor_periods
--   billing    billing_tenants billing_plan_periods billing_monitor_periods
--              invoices invoice_lines
--   audit      audit_log audit_entities

-- Where each projection has read to: the next offset of each (topic,
-- partition), written in the same transaction as the rows it produced.
CREATE TABLE projection_offsets (
  projection    text   NOT NULL,
  topic         text   NOT NULL,
  log_partition int    NOT NULL,
  next_offset   bigint NOT NULL CHECK (next_offset >= 0),
  PRIMARY KEY (projection, topic, log_partition)
);

-- The plan catalogue (config/plans.toml), mirrored by the runner at start:
-- heartbeat retention and invoices read it.
CREATE TABLE plans (
  name                text PRIMARY KEY,
  max_monitors        int    NOT NULL,
  min_interval_s      int    NOT NULL,
  retention_days      int    NOT NULL,
  max_users           int    NOT NULL,
  max_status_pages    int    NOT NULL,
  api_rate_per_min    int    NOT NULL,
  base_price_cents    bigint NOT NULL,
  monitor_price_cents bigint NOT NULL
);

-- ---------------------------------------------------------------- dashboard

CREATE TABLE tenants (
  tenant_id  text PRIMARY KEY,
  name       text NOT NULL,
  plan       text NOT NULL,
  status     text NOT NULL CHECK (status IN ('active', 'suspended', 'deleted')),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE members (
  tenant_id text NOT NULL,
  user_id   text NOT NULL,
  email     text NOT NULL,
  role      text NOT NULL,
  added_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE api_keys (
  tenant_id  text NOT NULL,
  key_id     text NOT NULL,
  name       text NOT NULL,
  key_hash   text NOT NULL,
  scope      text NOT NULL,
  created_at timestamptz NOT NULL,
  revoked_at timestamptz,
  PRIMARY KEY (tenant_id, key_id)
);

-- Notification channels, without their (sealed) secrets.
CREATE TABLE channels (
  tenant_id  text NOT NULL,
  channel_id text NOT NULL,
  name       text NOT NULL,
  kind       text NOT NULL,
  url        text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, channel_id)
);

CREATE TABLE status_pages (
  tenant_id   text NOT NULL,
  page_id     text NOT NULL,
  slug        text NOT NULL,  -- unique per tenant (the tenant decides)
  title       text NOT NULL,
  monitor_ids text[] NOT NULL,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, page_id)
);
CREATE INDEX status_pages_by_slug ON status_pages (slug);

CREATE TABLE maintenance_windows (
  tenant_id    text NOT NULL,
  window_id    text NOT NULL,
  title        text NOT NULL,
  monitor_ids  text[] NOT NULL,  -- empty: every monitor of the tenant
  starts_at    timestamptz NOT NULL,
  ends_at      timestamptz NOT NULL,
  cancelled_at timestamptz,
  PRIMARY KEY (tenant_id, window_id)
);

-- One row per live monitor (a deleted monitor's row goes; its heartbeats,
-- stats and incidents stay until retention removes them).
CREATE TABLE monitors (
  tenant_id        text NOT NULL,
  monitor_id       text NOT NULL,
  name             text NOT NULL,
  kind             text NOT NULL,
  target           text NOT NULL,   -- the URL, or host:port
  interval_s       int  NOT NULL,
  tags             text[] NOT NULL,
  config           jsonb NOT NULL,  -- the whole configuration, as in the event
  active           boolean NOT NULL,
  status           text NOT NULL,   -- pending | up | down | maintenance
  status_since     timestamptz NOT NULL,
  status_reason    text NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, monitor_id)
);

-- Each monitor's latest check (the highest seq wins, whatever order the
-- check results and the monitor's events are read in).
CREATE TABLE monitor_last_check (
  tenant_id       text NOT NULL,
  monitor_id      text NOT NULL,
  seq             bigint NOT NULL,
  checked_at      timestamptz NOT NULL,
  ok              boolean NOT NULL,
  latency_us      bigint NOT NULL,
  http_status     int NOT NULL,
  error           text NOT NULL,
  cert_expires_at timestamptz,
  PRIMARY KEY (tenant_id, monitor_id)
);

-- Every check result, partitioned by day (heartbeats_YYYYMMDD, created by
-- kw_heartbeat_partition) and purged by each tenant's plan retention
-- (kw_purge_read_models).
CREATE TABLE heartbeats (
  tenant_id   text NOT NULL,
  monitor_id  text NOT NULL,
  checked_at  timestamptz NOT NULL,
  seq         bigint NOT NULL,
  ok          boolean NOT NULL,
  latency_us  bigint NOT NULL,
  http_status int NOT NULL,
  error       text NOT NULL,
  PRIMARY KEY (tenant_id, monitor_id, checked_at, seq)
) PARTITION BY RANGE (checked_at);

-- Check counts per monitor and bucket (UTC minute, hour, day). Latency
-- figures are over the successful checks (`up` of them).
CREATE TABLE monitor_stats_minute (
  tenant_id      text NOT NULL,
  monitor_id     text NOT NULL,
  bucket         timestamptz NOT NULL,
  checks         int NOT NULL,
  up             int NOT NULL,
  latency_sum_us bigint NOT NULL,
  latency_min_us bigint,
  latency_max_us bigint,
  -- Covering: the uptime sums are read from the index alone (a monitor's
  -- rows are written an hour or a day apart, on scattered heap pages).
  PRIMARY KEY (tenant_id, monitor_id, bucket) INCLUDE (checks, up, latency_sum_us)
);
CREATE TABLE monitor_stats_hour (LIKE monitor_stats_minute INCLUDING ALL);
CREATE TABLE monitor_stats_day (LIKE monitor_stats_minute INCLUDING ALL);
-- Retention deletes by age: BRIN indexes (tiny; buckets grow with time).
CREATE INDEX monitor_stats_minute_by_bucket ON monitor_stats_minute USING brin (bucket);
CREATE INDEX monitor_stats_hour_by_bucket ON monitor_stats_hour USING brin (bucket);
CREATE INDEX monitor_stats_day_by_bucket ON monitor_stats_day USING brin (bucket);

CREATE TABLE incidents (
  tenant_id   text NOT NULL,
  incident_id text NOT NULL,
  monitor_id  text NOT NULL,
  cause       text NOT NULL,
  opened_at   timestamptz NOT NULL,
  closed_at   timestamptz,
  duration_ms bigint,
  PRIMARY KEY (tenant_id, incident_id)
);
CREATE INDEX incidents_by_monitor ON incidents (tenant_id, monitor_id, opened_at);

-- ---------------------------------------------------------------- usage

-- Counters per tenant and UTC day. Monitor-hours and the peak of active
-- monitors come from usage_monitor_periods (usage_report, 0003).
CREATE TABLE usage_daily (
  tenant_id     text NOT NULL,
  day           date NOT NULL,
  checks        bigint NOT NULL DEFAULT 0,
  notifications bigint NOT NULL DEFAULT 0,
  api_calls     bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day)
);

-- When each monitor was active (created or resumed, until paused or deleted).
CREATE TABLE usage_monitor_periods (
  tenant_id  text NOT NULL,
  monitor_id text NOT NULL,
  started_at timestamptz NOT NULL,
  ended_at   timestamptz,            -- NULL: still active
  PRIMARY KEY (tenant_id, monitor_id, started_at)
);

-- ---------------------------------------------------------------- billing

CREATE TABLE billing_tenants (
  tenant_id     text PRIMARY KEY,
  log_partition int NOT NULL
);
CREATE INDEX billing_tenants_by_partition ON billing_tenants (log_partition, tenant_id);

-- Which plan a tenant was on when (created, plan changed, deleted).
CREATE TABLE billing_plan_periods (
  tenant_id  text NOT NULL,
  plan       text NOT NULL,
  started_at timestamptz NOT NULL,
  ended_at   timestamptz,
  PRIMARY KEY (tenant_id, started_at)
);

CREATE TABLE billing_monitor_periods (LIKE usage_monitor_periods INCLUDING ALL);

-- A closed invoice per tenant and calendar month (UTC); see 0003.
CREATE TABLE invoices (
  tenant_id   text NOT NULL,
  month       date NOT NULL CHECK (extract(day FROM month) = 1),
  currency    text NOT NULL DEFAULT 'USD',
  total_cents bigint NOT NULL,
  status      text NOT NULL DEFAULT 'closed',
  PRIMARY KEY (tenant_id, month)
);

CREATE TABLE invoice_lines (
  tenant_id        text NOT NULL,
  month            date NOT NULL,
  line_no          int  NOT NULL,
  kind             text NOT NULL,     -- base | monitors
  plan             text NOT NULL,
  description      text NOT NULL,     -- how the amount was computed
  quantity         numeric NOT NULL,  -- base: share of the month; monitors: monitor-hours
  unit_price_cents bigint NOT NULL,
  amount_cents     bigint NOT NULL,
  PRIMARY KEY (tenant_id, month, line_no),
  FOREIGN KEY (tenant_id, month) REFERENCES invoices (tenant_id, month)
);

-- ---------------------------------------------------------------- audit

-- One row per domain event (keepwatch.events.v1).
CREATE TABLE audit_log (
  tenant_id     text NOT NULL,
  at            timestamptz NOT NULL,
  event_id      text NOT NULL,
  log_partition int NOT NULL,
  log_offset    bigint NOT NULL,
  aggregate     text NOT NULL,
  seq           bigint NOT NULL,
  actor_kind    text NOT NULL,
  actor_id      text NOT NULL,
  actor_ip      text NOT NULL,
  action        text NOT NULL,   -- the event type, e.g. keepwatch.monitor.updated.v1
  entity        text NOT NULL,   -- e.g. monitor/<id>, member/<user id>
  before        jsonb,           -- the entity before the event; NULL when created
  after         jsonb,           -- the entity after it; NULL when deleted
  prevhash      text NOT NULL,
  hash          text NOT NULL,
  PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX audit_log_by_time ON audit_log (tenant_id, at);
CREATE INDEX audit_log_by_entity ON audit_log (tenant_id, entity, at);

-- The current state of each audited entity, for the next event's "before".
CREATE TABLE audit_entities (
  tenant_id text NOT NULL,
  entity    text NOT NULL,
  state     jsonb NOT NULL,
  PRIMARY KEY (tenant_id, entity)
);

-- ---------------------------------------------------------------- security

-- Row-level security on every tenant table, and read access for the
-- application role. No policy grants anything when keepwatch.tenant_id is
-- unset (current_setting(..., true) is NULL) or empty.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY[
    'tenants', 'members', 'api_keys', 'channels', 'status_pages',
    'maintenance_windows', 'monitors', 'monitor_last_check', 'heartbeats', 'monitor_stats_minute',
    'monitor_stats_hour', 'monitor_stats_day', 'incidents', 'usage_daily',
    'usage_monitor_periods', 'billing_tenants', 'billing_plan_periods',
    'billing_monitor_periods', 'invoices', 'invoice_lines', 'audit_log',
    'audit_entities']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    -- After a SET LOCAL ends, the setting reads '' (not NULL) on that
    -- connection: nullif makes that, too, match nothing, and no row may
    -- have an empty tenant.
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING '
      '(tenant_id = nullif(current_setting(''keepwatch.tenant_id'', true), ''''))', t);
    EXECUTE format('ALTER TABLE %I ADD CHECK (tenant_id <> '''')', t);
    EXECUTE format('GRANT SELECT ON %I TO keepwatch_app', t);
  END LOOP;
END
$$;
GRANT SELECT ON plans TO keepwatch_app;

-- Today's heartbeat partition, or any day's: created once, under a lock so
-- two runners do not race.
CREATE FUNCTION kw_heartbeat_partition(p_day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  name text := 'heartbeats_' || to_char(p_day, 'YYYYMMDD');
BEGIN
  IF to_regclass(name) IS NOT NULL THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('keepwatch.heartbeats'));
  EXECUTE format(
    'CREATE TABLE IF NOT EXISTS %I PARTITION OF heartbeats FOR VALUES FROM (%L) TO (%L)',
    name, p_day::timestamp AT TIME ZONE 'UTC', (p_day + 1)::timestamp AT TIME ZONE 'UTC');
END
$$;

-- Retention, as of p_now: each tenant's heartbeats and daily stats older
-- than its plan's retention_days; minute stats older than 2 days and hour
-- stats older than 35 days for everyone; heartbeat partitions that end
-- before the longest retention are dropped whole. Returns the rows deleted.
CREATE FUNCTION kw_purge_read_models(p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  n bigint := 0;
  k bigint;
  longest int;
  shortest int;
  part record;
BEGIN
  -- Only partitions older than the shortest retention can hold rows to
  -- delete: the constant bound lets PostgreSQL skip every newer partition.
  SELECT coalesce(min(retention_days), 0) INTO shortest FROM plans;
  DELETE FROM heartbeats h USING tenants t JOIN plans p ON p.name = t.plan
   WHERE h.tenant_id = t.tenant_id
     AND h.checked_at < p_now - make_interval(days => shortest)
     AND h.checked_at < p_now - make_interval(days => p.retention_days);
  GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
  DELETE FROM monitor_stats_day s USING tenants t JOIN plans p ON p.name = t.plan
   WHERE s.tenant_id = t.tenant_id
     AND s.bucket < p_now - make_interval(days => p.retention_days);
  GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
  DELETE FROM monitor_stats_minute WHERE bucket < p_now - interval '2 days';
  GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
  DELETE FROM monitor_stats_hour WHERE bucket < p_now - interval '35 days';
  GET DIAGNOSTICS k = ROW_COUNT; n := n + k;
  SELECT coalesce(max(retention_days), 0) INTO longest FROM plans;
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'heartbeats'::regclass
       AND c.relname ~ '^heartbeats_[0-9]{8}$'
       AND to_date(substr(c.relname, 12), 'YYYYMMDD') + 1
           < (p_now - make_interval(days => longest))::date
  LOOP
    EXECUTE format('DROP TABLE %I', part.relname);
  END LOOP;
  RETURN n;
END
$$;

-- The dashboard's monitor list: each monitor with its uptime (the share of
-- successful checks) over the last 24 hours (hourly stats) and the last 7
-- and 30 days (daily stats, by whole UTC days), and its mean latency over 24
-- hours.
-- security_invoker: the reader's row-level security applies.
CREATE VIEW monitor_overview WITH (security_invoker = true) AS
SELECT m.tenant_id, m.monitor_id, m.name, m.kind, m.target, m.interval_s, m.tags,
       m.active, m.status, m.status_since, m.status_reason,
       c.checked_at AS last_check_at, c.ok AS last_check_ok,
       c.latency_us AS last_latency_us, c.http_status AS last_http_status,
       c.error AS last_error, c.cert_expires_at,
       round(h24.up::numeric / nullif(h24.checks, 0), 6) AS uptime_24h,
       round(h7.up::numeric / nullif(h7.checks, 0), 6)   AS uptime_7d,
       round(d30.up::numeric / nullif(d30.checks, 0), 6) AS uptime_30d,
       (h24.latency_sum_us / nullif(h24.up, 0))::bigint  AS avg_latency_us_24h
  FROM monitors m
  LEFT JOIN monitor_last_check c
    ON c.tenant_id = m.tenant_id AND c.monitor_id = m.monitor_id
  LEFT JOIN LATERAL (
    SELECT sum(checks) AS checks, sum(up) AS up, sum(latency_sum_us) AS latency_sum_us
      FROM monitor_stats_hour s
     WHERE s.tenant_id = m.tenant_id AND s.monitor_id = m.monitor_id
       AND s.bucket > now() - interval '24 hours') h24 ON true
  LEFT JOIN LATERAL (
    SELECT sum(checks) AS checks, sum(up) AS up
      FROM monitor_stats_day s
     WHERE s.tenant_id = m.tenant_id AND s.monitor_id = m.monitor_id
       AND s.bucket > now() - interval '7 days') h7 ON true
  LEFT JOIN LATERAL (
    SELECT sum(checks) AS checks, sum(up) AS up
      FROM monitor_stats_day s
     WHERE s.tenant_id = m.tenant_id AND s.monitor_id = m.monitor_id
       AND s.bucket > now() - interval '30 days') d30 ON true;
GRANT SELECT ON monitor_overview TO keepwatch_app;

-- Public status pages are found by slug before any tenant is known: this
-- function (running as the owner) answers only which tenant and page a slug
-- names, nothing else.
CREATE FUNCTION status_page_by_slug(p_slug text)
RETURNS TABLE (tenant_id text, page_id text)
-- Its search_path names pg_temp last, and the table is qualified, so a
-- caller's temporary objects cannot stand in for status_pages and run as
-- the owner.
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  SELECT tenant_id, page_id FROM public.status_pages WHERE slug = p_slug
   ORDER BY created_at, tenant_id LIMIT 1
$$;
REVOKE ALL ON FUNCTION status_page_by_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION status_page_by_slug(text) TO keepwatch_app;

-- The maintenance functions are the owner's (the projection runner's) alone.
REVOKE ALL ON FUNCTION kw_heartbeat_partition(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION kw_purge_read_models(timestamptz) FROM PUBLIC;
