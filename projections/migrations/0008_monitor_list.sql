-- 0008: monitor_list, the dashboard projection's read model for the monitor
-- list (GET /api/v1/monitors and /monitors/{id}): one row per (tenant,
-- monitor) holding what a list item shows that does not depend on the time
-- of the read — the monitor's configuration and status, and its latest
-- check — already in the text the API answers (RFC 3339 times, the tags as
-- JSON). A page is then one range scan of the primary key, with no join;
-- only the uptime windows, which move with now(), are still summed from the
-- stats tables, and only for the rows of the page.
--
-- The dashboard projection writes it (a rebuild truncates it with the rest):
-- monitor events set the configuration and status columns, check results
-- the latest check (the highest seq wins). Check results and monitor events
-- may be read in either order (a rebuild reads the checks topic apart from
-- the events topic), so a check may come before its monitor_created: it
-- makes a row that is not `listed`. monitor_deleted likewise keeps the row
-- (as monitor_last_check keeps its own), unlisted and with the
-- configuration columns back at their defaults, so the table holds the same
-- rows whichever order the two topics were read in.
CREATE FUNCTION kw_rfc3339(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE TABLE monitor_list (
  tenant_id       text NOT NULL,
  monitor_id      text NOT NULL,
  listed          boolean NOT NULL DEFAULT false,  -- created and not deleted
  name            text NOT NULL DEFAULT '',
  kind            text NOT NULL DEFAULT '',
  target          text NOT NULL DEFAULT '',
  interval_s      int  NOT NULL DEFAULT 0,
  tags            text[] NOT NULL DEFAULT '{}',
  tags_json       text NOT NULL DEFAULT '[]',      -- to_json(tags)
  active          boolean NOT NULL DEFAULT false,
  status          text NOT NULL DEFAULT '',
  status_since    text NOT NULL DEFAULT '',        -- kw_rfc3339
  check_seq       bigint,                          -- the latest check's: NULL, none yet
  last_check_at   text,                            -- kw_rfc3339
  last_check_ok   boolean,
  last_latency_us bigint,
  PRIMARY KEY (tenant_id, monitor_id)
);

ALTER TABLE monitor_list ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON monitor_list
  USING (tenant_id = nullif(current_setting('keepwatch.tenant_id', true), ''));
ALTER TABLE monitor_list ADD CHECK (tenant_id <> '');
GRANT SELECT ON monitor_list TO keepwatch_app;

-- An existing read side: filled from the tables it summarises, as a rebuild
-- would fill it.
INSERT INTO monitor_list (tenant_id, monitor_id, listed, name, kind, target, interval_s, tags, tags_json, active,
                          status, status_since, check_seq, last_check_at, last_check_ok, last_latency_us)
SELECT m.tenant_id, m.monitor_id, true, m.name, m.kind, m.target, m.interval_s, m.tags, to_json(m.tags)::text,
       m.active, m.status, kw_rfc3339(m.status_since), c.seq, kw_rfc3339(c.checked_at), c.ok, c.latency_us
  FROM monitors m
  LEFT JOIN monitor_last_check c ON c.tenant_id = m.tenant_id AND c.monitor_id = m.monitor_id;
INSERT INTO monitor_list (tenant_id, monitor_id, check_seq, last_check_at, last_check_ok, last_latency_us)
SELECT c.tenant_id, c.monitor_id, c.seq, kw_rfc3339(c.checked_at), c.ok, c.latency_us
  FROM monitor_last_check c
 WHERE NOT EXISTS (SELECT 1 FROM monitors m WHERE m.tenant_id = c.tenant_id AND m.monitor_id = c.monitor_id);
