-- monitor_overview, same columns: the 7-day and 30-day uptimes come from one
-- scan of monitor_stats_day (the 7 days filtered out of the 30) instead of
-- two. The view is read for every monitor of every list page, so each scan
-- per row counts.
CREATE OR REPLACE VIEW monitor_overview WITH (security_invoker = true) AS
SELECT m.tenant_id, m.monitor_id, m.name, m.kind, m.target, m.interval_s, m.tags,
       m.active, m.status, m.status_since, m.status_reason,
       c.checked_at AS last_check_at, c.ok AS last_check_ok,
       c.latency_us AS last_latency_us, c.http_status AS last_http_status,
       c.error AS last_error, c.cert_expires_at,
       round(h24.up::numeric / nullif(h24.checks, 0), 6) AS uptime_24h,
       round(d.up7::numeric / nullif(d.checks7, 0), 6)   AS uptime_7d,
       round(d.up30::numeric / nullif(d.checks30, 0), 6) AS uptime_30d,
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
    SELECT sum(checks) FILTER (WHERE s.bucket > now() - interval '7 days') AS checks7,
           sum(up) FILTER (WHERE s.bucket > now() - interval '7 days')     AS up7,
           sum(checks) AS checks30, sum(up) AS up30
      FROM monitor_stats_day s
     WHERE s.tenant_id = m.tenant_id AND s.monitor_id = m.monitor_id
       AND s.bucket > now() - interval '30 days') d ON true;
GRANT SELECT ON monitor_overview TO keepwatch_app;
