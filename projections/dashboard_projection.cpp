// The dashboard projection: what the tenant dashboard reads.
//
// Domain events become one or two statements each, in log order. Check
// results, the bulk of the traffic, are one statement per batch (checks_sql):
// the heartbeats inserted, each stats table's counts per bucket added, and
// each monitor's latest check moved only to a higher seq. None of those depends on the order check results and domain
// events are read in, so a rebuild gives the same rows.
#include <set>

#include <nlohmann/json.hpp>

#include "events/codec.hpp"
#include "projections/projections.hpp"

namespace kw::projections {
namespace {

std::string json_array(const std::vector<std::string>& v) { return nlohmann::json(v).dump(); }

// PostgreSQL text[] from a JSON array literal.
constexpr const char* text_array_of_json =
    "ARRAY(SELECT jsonb_array_elements_text($X::jsonb))";

// The tags of a monitor_list row, from the JSON array in $7, as `a.t`.
constexpr const char* list_tags = "(SELECT ARRAY(SELECT jsonb_array_elements_text($7::jsonb)) AS t) a";

std::string with_param(std::string sql_template, const char* placeholder) {
  auto at = sql_template.find("$X");
  sql_template.replace(at, 2, placeholder);
  return sql_template;
}

std::string target_of(const monitor_config& c) {
  if (c.kind == monitor_kind::tcp) return c.host + ":" + std::to_string(c.port);
  if (c.kind == monitor_kind::push) return "push";
  return c.url;
}

std::string config_json(const monitor_config& c) {
  nlohmann::json j;
  to_json(j, c);
  return j.dump();
}

// Appends `v` as a JSON string literal.
void json_string(std::string& out, const std::string& v) {
  out += nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The check results of a batch in one statement: the rows parsed once, then
// the heartbeats inserted; the minute, hour and day sums grouped and added
// (counters that only add, so the order batches arrive in does not matter);
// each monitor's latest check kept only when its seq is higher, in
// monitor_last_check and in monitor_list (a row not yet listed when the
// monitor's creation has not been read yet).
const std::string& checks_sql() {
  static const std::string sql = [] {
    std::string s =
        "WITH x AS MATERIALIZED (SELECT * FROM json_to_recordset($1::json) AS x(t text, m text, at timestamptz, "
        "s bigint, ok boolean, l bigint, h int, e text, x timestamptz)), "
        "hb AS (INSERT INTO heartbeats (tenant_id, monitor_id, checked_at, seq, ok, latency_us, http_status, error) "
        "SELECT t, m, at, s, ok, l, h, e FROM x ON CONFLICT DO NOTHING)";
    for (const char* unit : {"minute", "hour", "day"})
      s += std::string(", ") + unit + "s AS (INSERT INTO monitor_stats_" + unit +
           " AS s (tenant_id, monitor_id, bucket, checks, up, latency_sum_us, latency_min_us, latency_max_us) "
           "SELECT t, m, date_trunc('" + unit + "', at, 'UTC'), count(*), count(*) FILTER (WHERE ok), "
           "coalesce(sum(l) FILTER (WHERE ok), 0), min(l) FILTER (WHERE ok), max(l) FILTER (WHERE ok) "
           "FROM x GROUP BY 1, 2, 3 "
           "ON CONFLICT (tenant_id, monitor_id, bucket) DO UPDATE SET "
           "checks = s.checks + excluded.checks, up = s.up + excluded.up, "
           "latency_sum_us = s.latency_sum_us + excluded.latency_sum_us, "
           "latency_min_us = least(s.latency_min_us, excluded.latency_min_us), "
           "latency_max_us = greatest(s.latency_max_us, excluded.latency_max_us))";
    s += ", list AS (INSERT INTO monitor_list AS ml (tenant_id, monitor_id, check_seq, last_check_at, "
         "last_check_ok, last_latency_us) SELECT DISTINCT ON (t, m) t, m, s, kw_rfc3339(at), ok, x.l FROM x "
         "ORDER BY t, m, s DESC ON CONFLICT (tenant_id, monitor_id) DO UPDATE SET check_seq = excluded.check_seq, "
         "last_check_at = excluded.last_check_at, last_check_ok = excluded.last_check_ok, "
         "last_latency_us = excluded.last_latency_us "
         "WHERE ml.check_seq IS NULL OR excluded.check_seq > ml.check_seq)";
    s += " INSERT INTO monitor_last_check AS c (tenant_id, monitor_id, seq, checked_at, ok, latency_us, "
         "http_status, error, cert_expires_at) SELECT DISTINCT ON (t, m) t, m, s, at, ok, l, h, e, x FROM x "
         "ORDER BY t, m, s DESC ON CONFLICT (tenant_id, monitor_id) DO UPDATE SET seq = excluded.seq, "
         "checked_at = excluded.checked_at, ok = excluded.ok, latency_us = excluded.latency_us, "
         "http_status = excluded.http_status, error = excluded.error, "
         "cert_expires_at = excluded.cert_expires_at WHERE excluded.seq > c.seq";
    return s;
  }();
  return sql;
}

class dashboard final : public projection {
public:
  const char* name() const noexcept override { return "dashboard"; }
  std::vector<storage::topic> topics() const override {
    return {storage::topic::events, storage::topic::checks};
  }
  std::vector<std::string> tables() const override {
    return {"tenants", "members", "api_keys", "channels", "status_pages", "maintenance_windows",
            "monitors", "monitor_last_check", "heartbeats", "monitor_stats_minute",
            "monitor_stats_hour", "monitor_stats_day", "incidents", "monitor_list"};
  }

  void apply(const std::vector<projected_event>& batch, sql_batch& out) const override {
    std::string rows = "[";
    std::set<std::string> days;
    for (auto& r : batch) {
      const event& e = *r.e;
      if (auto* c = std::get_if<check_completed>(&e.data)) {
        const std::string at = format_time(e.meta.time);
        days.insert(at.substr(0, 10));
        if (rows.size() > 1) rows += ',';
        rows += "{\"t\":";
        json_string(rows, e.meta.tenant.get());
        rows += ",\"m\":";
        json_string(rows, c->monitor_id);
        rows += ",\"at\":\"" + at + "\",\"s\":" + std::to_string(e.meta.seq.get()) +
                ",\"ok\":" + (c->ok ? "true" : "false") + ",\"l\":" + std::to_string(c->latency_us) +
                ",\"h\":" + std::to_string(c->http_status) + ",\"e\":";
        json_string(rows, c->error);
        rows += ",\"x\":";
        if (c->cert_expires_at) {
          rows += "\"" + format_time(*c->cert_expires_at) + "\"";
        } else {
          rows += "null";
        }
        rows += '}';
        continue;
      }
      domain(e, out);
    }
    if (days.empty()) return;
    rows += ']';
    for (auto& d : days) out.push_back({"SELECT kw_heartbeat_partition($1::date)", {d}});
    out.push_back({checks_sql(), {rows}});
  }

  void tick(timestamp now, const std::vector<partition_id>&, sql_batch& out) const override {
    out.push_back({"SELECT kw_purge_read_models($1::timestamptz)", {sql_time(now)}});
  }

private:
  static void domain(const event& e, sql_batch& out) {
    const std::string t = e.meta.tenant.get();
    const std::string at = sql_time(e.meta.time);
    auto tenant_set = [&](const std::string& assignment, const std::string& value) {
      out.push_back({"UPDATE tenants SET " + assignment + " = $2, updated_at = $3 WHERE tenant_id = $1",
                     {t, value, at}});
    };
    std::visit(
        overloaded{
            [&](const tenant_created& d) {
              out.push_back({"INSERT INTO tenants (tenant_id, name, plan, status, created_at, updated_at) "
                             "VALUES ($1, $2, $3, 'active', $4, $4)",
                             {t, d.name, d.plan, at}});
              out.push_back({"INSERT INTO members (tenant_id, user_id, email, role, added_at) "
                             "VALUES ($1, $2, $3, 'owner', $4)",
                             {t, d.owner_user_id, d.owner_email, at}});
            },
            [&](const tenant_renamed& d) { tenant_set("name", d.name); },
            [&](const tenant_plan_changed& d) { tenant_set("plan", d.to_plan); },
            [&](const tenant_suspended&) { tenant_set("status", "suspended"); },
            [&](const tenant_activated&) { tenant_set("status", "active"); },
            [&](const tenant_deleted&) { tenant_set("status", "deleted"); },
            [&](const member_added& d) {
              out.push_back({"INSERT INTO members (tenant_id, user_id, email, role, added_at) "
                             "VALUES ($1, $2, $3, $4, $5)",
                             {t, d.user_id, d.email, d.role, at}});
            },
            [&](const member_role_changed& d) {
              out.push_back({"UPDATE members SET role = $3 WHERE tenant_id = $1 AND user_id = $2",
                             {t, d.user_id, d.to_role}});
            },
            [&](const member_removed& d) {
              out.push_back({"DELETE FROM members WHERE tenant_id = $1 AND user_id = $2", {t, d.user_id}});
            },
            [&](const api_key_created& d) {
              out.push_back({"INSERT INTO api_keys (tenant_id, key_id, name, key_hash, scope, created_at) "
                             "VALUES ($1, $2, $3, $4, $5, $6)",
                             {t, d.key_id, d.name, d.key_hash, d.scope, at}});
            },
            [&](const api_key_revoked& d) {
              out.push_back({"UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND key_id = $2",
                             {t, d.key_id, at}});
            },
            [&](const channel_created& d) {
              out.push_back({"INSERT INTO channels (tenant_id, channel_id, name, kind, url, created_at, "
                             "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                             {t, d.channel_id, d.name, d.kind, d.url, at}});
            },
            [&](const channel_updated& d) {
              out.push_back({"UPDATE channels SET name = $3, url = $4, updated_at = $5 "
                             "WHERE tenant_id = $1 AND channel_id = $2",
                             {t, d.channel_id, d.name, d.url, at}});
            },
            [&](const channel_deleted& d) {
              out.push_back({"DELETE FROM channels WHERE tenant_id = $1 AND channel_id = $2",
                             {t, d.channel_id}});
            },
            [&](const status_page_created& d) {
              out.push_back({with_param("INSERT INTO status_pages (tenant_id, page_id, slug, title, "
                                        "monitor_ids, created_at, updated_at) VALUES ($1, $2, $3, $4, " +
                                            std::string(text_array_of_json) + ", $6, $6)",
                                        "$5"),
                             {t, d.page_id, d.slug, d.title, json_array(d.monitor_ids), at}});
            },
            [&](const status_page_updated& d) {
              out.push_back({with_param("UPDATE status_pages SET slug = $3, title = $4, monitor_ids = " +
                                            std::string(text_array_of_json) +
                                            ", updated_at = $6 WHERE tenant_id = $1 AND page_id = $2",
                                        "$5"),
                             {t, d.page_id, d.slug, d.title, json_array(d.monitor_ids), at}});
            },
            [&](const status_page_deleted& d) {
              out.push_back({"DELETE FROM status_pages WHERE tenant_id = $1 AND page_id = $2",
                             {t, d.page_id}});
            },
            [&](const maintenance_scheduled& d) {
              out.push_back({with_param("INSERT INTO maintenance_windows (tenant_id, window_id, title, "
                                        "monitor_ids, starts_at, ends_at) VALUES ($1, $2, $3, " +
                                            std::string(text_array_of_json) + ", $5, $6)",
                                        "$4"),
                             {t, d.window_id, d.title, json_array(d.monitor_ids), sql_time(d.starts_at),
                              sql_time(d.ends_at)}});
            },
            [&](const maintenance_cancelled& d) {
              out.push_back({"UPDATE maintenance_windows SET cancelled_at = $3 "
                             "WHERE tenant_id = $1 AND window_id = $2",
                             {t, d.window_id, at}});
            },
            [&](const monitor_created& d) {
              const auto& c = d.config;
              out.push_back({"INSERT INTO monitor_list AS ml (tenant_id, monitor_id, listed, name, kind, target, "
                             "interval_s, tags, tags_json, active, status, status_since) "
                             "SELECT $1::text, $2::text, true, $3::text, $4::text, $5::text, $6::int, a.t, "
                             "to_json(a.t)::text, true, 'pending', kw_rfc3339($8::timestamptz) FROM " +
                                 std::string(list_tags) +
                                 " ON CONFLICT (tenant_id, monitor_id) DO UPDATE SET listed = true, "
                                 "name = excluded.name, kind = excluded.kind, target = excluded.target, "
                                 "interval_s = excluded.interval_s, tags = excluded.tags, "
                                 "tags_json = excluded.tags_json, active = true, status = 'pending', "
                                 "status_since = excluded.status_since",
                             {t, d.monitor_id, c.name, to_string(c.kind), target_of(c),
                              std::to_string(c.interval_s), json_array(c.tags), at}});
              out.push_back({with_param("INSERT INTO monitors (tenant_id, monitor_id, name, kind, target, "
                                        "interval_s, tags, config, active, status, status_since, "
                                        "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, " +
                                            std::string(text_array_of_json) +
                                            ", $8::jsonb, true, 'pending', $9, $9, $9)",
                                        "$7"),
                             {t, d.monitor_id, c.name, to_string(c.kind), target_of(c),
                              std::to_string(c.interval_s), json_array(c.tags), config_json(c), at}});
            },
            [&](const monitor_updated& d) {
              const auto& c = d.config;
              out.push_back({"UPDATE monitor_list SET name = $3, kind = $4, target = $5, interval_s = $6::int, "
                             "tags = a.t, tags_json = to_json(a.t)::text FROM " +
                                 std::string(list_tags) + " WHERE tenant_id = $1 AND monitor_id = $2 AND listed",
                             {t, monitor_of(e.meta), c.name, to_string(c.kind), target_of(c),
                              std::to_string(c.interval_s), json_array(c.tags)}});
              out.push_back({with_param("UPDATE monitors SET name = $3, kind = $4, target = $5, "
                                        "interval_s = $6, tags = " +
                                            std::string(text_array_of_json) +
                                            ", config = $8::jsonb, updated_at = $9 "
                                            "WHERE tenant_id = $1 AND monitor_id = $2",
                                        "$7"),
                             {t, monitor_of(e.meta), c.name, to_string(c.kind), target_of(c),
                              std::to_string(c.interval_s), json_array(c.tags), config_json(c), at}});
            },
            [&](const monitor_paused&) {
              out.push_back({"UPDATE monitor_list SET active = false WHERE tenant_id = $1 AND monitor_id = $2 "
                             "AND listed",
                             {t, monitor_of(e.meta)}});
              out.push_back({"UPDATE monitors SET active = false, updated_at = $3 "
                             "WHERE tenant_id = $1 AND monitor_id = $2",
                             {t, monitor_of(e.meta), at}});
            },
            [&](const monitor_resumed&) {
              out.push_back({"UPDATE monitor_list SET active = true WHERE tenant_id = $1 AND monitor_id = $2 "
                             "AND listed",
                             {t, monitor_of(e.meta)}});
              out.push_back({"UPDATE monitors SET active = true, updated_at = $3 "
                             "WHERE tenant_id = $1 AND monitor_id = $2",
                             {t, monitor_of(e.meta), at}});
            },
            [&](const monitor_deleted& d) {
              // The row stays, unlisted, with its latest check (see 0008).
              out.push_back({"UPDATE monitor_list SET listed = false, name = DEFAULT, kind = DEFAULT, "
                             "target = DEFAULT, interval_s = DEFAULT, tags = DEFAULT, tags_json = DEFAULT, "
                             "active = DEFAULT, status = DEFAULT, status_since = DEFAULT "
                             "WHERE tenant_id = $1 AND monitor_id = $2",
                             {t, d.monitor_id}});
              out.push_back({"DELETE FROM monitors WHERE tenant_id = $1 AND monitor_id = $2",
                             {t, d.monitor_id}});
            },
            [&](const monitor_status_changed& d) {
              out.push_back({"UPDATE monitor_list SET status = $3, status_since = kw_rfc3339($4::timestamptz) "
                             "WHERE tenant_id = $1 AND monitor_id = $2 AND listed",
                             {t, monitor_of(e.meta), to_string(d.to), at}});
              out.push_back({"UPDATE monitors SET status = $3, status_since = $4, status_reason = $5, "
                             "updated_at = $4 WHERE tenant_id = $1 AND monitor_id = $2",
                             {t, monitor_of(e.meta), to_string(d.to), at, d.reason}});
            },
            [&](const incident_opened& d) {
              out.push_back({"INSERT INTO incidents (tenant_id, incident_id, monitor_id, cause, opened_at) "
                             "VALUES ($1, $2, $3, $4, $5)",
                             {t, d.incident_id, monitor_of(e.meta), d.cause, at}});
            },
            [&](const incident_closed& d) {
              out.push_back({"UPDATE incidents SET closed_at = $3, duration_ms = $4 "
                             "WHERE tenant_id = $1 AND incident_id = $2",
                             {t, d.incident_id, at, std::to_string(d.duration_ms)}});
            },
            [&](const notification_delivered&) {},
            [&](const notification_failed&) {},
            [&](const check_completed&) {},
            [&](const api_calls_recorded&) {},
            [&](const tree_head_signed&) {},  // audit only  // metering: the usage projection's
        },
        e.data);
  }
};

}  // namespace

std::unique_ptr<projection> make_dashboard_projection() { return std::make_unique<dashboard>(); }

}  // namespace kw::projections
