// Monitors: create, list (cursor pages; filters by status, tag and name),
// get, update, pause, resume, delete. Writes are commands to the tenant's
// actor (create, delete) or the monitor's (update, pause, resume); reads come
// from the dashboard read model (monitor_list, and the stats tables for the
// uptime windows) under row-level security.
#include <pqxx/pqxx>

#include "actors/host/node.hpp"
#include "events/codec.hpp"
#include "events/hash_chain.hpp"
#include "gateway/api_context.hpp"
#include "gateway/openapi_parts.hpp"
#include "gateway/pg_pool.hpp"
#include "gateway/tokens.hpp"

namespace kw::gateway {
namespace {

// A monitor configuration from a request body: `base`, overlaid by the
// body's fields, then decoded strictly. Unknown fields and the push token
// (the server makes it) are refused by name. The details on failure.
std::optional<json> monitor_config_from(const json& b, monitor_config& cfg, const monitor_config& base) {
  json j;
  to_json(j, base);
  json details = json::array();
  for (auto& [k, v] : b.items()) {
    if (!j.contains(k) || k == "push_token_hash" || k == "push_token_sealed") {
      details.push_back({{"field", k}, {"message", "unknown field"}});
      continue;
    }
    j[k] = v;
  }
  if (!details.empty()) return details;
  auto st = from_json(j, cfg, "monitor");
  if (!st) {
    std::string msg = st.err().message;
    std::string field;
    if (msg.rfind("monitor.", 0) == 0) {
      const auto colon = msg.find(':');
      field = msg.substr(8, colon == std::string::npos ? std::string::npos : colon - 8);
      if (colon != std::string::npos) msg = msg.substr(colon + 2);
    }
    return json::array({{{"field", field}, {"message", msg}}});
  }
  return std::nullopt;
}

// A list row (list_sql(), in that order) as a JSON
// object, written straight into `out`: the list is the dashboard's hottest
// read, and a JSON tree per row (and lookups by column name) was most of the
// gateway's share of its cost in the profile. Keys in
// sorted order; uptimes are PostgreSQL's numeric text (six decimals), tags
// PostgreSQL's own JSON of the array.
enum col : int {
  c_monitor_id, c_name, c_kind, c_target, c_interval_s, c_tags_json, c_active, c_status, c_status_since,
  c_last_check_at, c_last_check_ok, c_last_latency_us, c_uptime_24h, c_uptime_7d, c_uptime_30d, c_avg_latency
};

void append_string(std::string& out, const char* s) {
  static const char hex[] = "0123456789abcdef";
  out += '"';
  for (; *s; ++s) {
    const auto c = static_cast<unsigned char>(*s);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_monitor(std::string& out, const pqxx::row& r) {
  auto key = [&](const char* k) {
    out += out.back() == '{' ? "\"" : ",\"";
    out += k;
    out += "\":";
  };
  auto raw_or_null = [&](const pqxx::field& f) { out += f.is_null() ? "null" : f.c_str(); };
  auto bool_of = [&](const pqxx::field& f) { out += f.is_null() ? "null" : (f.c_str()[0] == 't' ? "true" : "false"); };
  auto str_or_null = [&](const pqxx::field& f) {
    if (f.is_null()) out += "null";
    else append_string(out, f.c_str());
  };
  out += '{';
  key("active"), bool_of(r[c_active]);
  key("avg_latency_us_24h"), raw_or_null(r[c_avg_latency]);
  key("interval_s"), raw_or_null(r[c_interval_s]);
  key("kind"), append_string(out, r[c_kind].c_str());
  key("last_check_at"), str_or_null(r[c_last_check_at]);
  key("last_check_ok"), bool_of(r[c_last_check_ok]);
  key("last_latency_us"), raw_or_null(r[c_last_latency_us]);
  key("monitor_id"), append_string(out, r[c_monitor_id].c_str());
  key("name"), append_string(out, r[c_name].c_str());
  key("status"), append_string(out, r[c_status].c_str());
  key("status_since"), append_string(out, r[c_status_since].c_str());
  key("tags"), out += r[c_tags_json].c_str();
  key("target"), append_string(out, r[c_target].c_str());
  key("uptime_24h"), raw_or_null(r[c_uptime_24h]);
  key("uptime_30d"), raw_or_null(r[c_uptime_30d]);
  key("uptime_7d"), raw_or_null(r[c_uptime_7d]);
  out += '}';
}

// 200 with a body already serialized (see fresh_or_stale).
http_response json_text(std::string body, bool fresh) {
  http_response res;
  res.status = 200;
  res.body = std::move(body);
  if (!fresh) res.set_header("X-Keepwatch-Stale", "true");
  return res;
}

// The monitor rows chosen by `rows` (a query on monitor_list, the
// dashboard projection's read model, giving whole rows as `l`), in
// monitor_id order, as the columns of `enum col`. Everything but the uptime
// windows is read as stored; the windows move with now(), so they are
// summed from the stats tables for these rows only (after the page's LIMIT,
// never for the tenant's other monitors), exactly as monitor_overview sums
// them. A monitor that has no latest check has no stats rows either (a check
// batch writes both in one statement, and retention never removes a latest
// check), so its sums are NULL without reading them.
std::string list_sql(const std::string& rows) {
  return "SELECT l.monitor_id, l.name, l.kind, l.target, l.interval_s, l.tags_json, l.active, l.status, "
         "l.status_since, l.last_check_at, l.last_check_ok, l.last_latency_us, "
         "round(h24.up::numeric / nullif(h24.checks, 0), 6), round(d.up7::numeric / nullif(d.checks7, 0), 6), "
         "round(d.up30::numeric / nullif(d.checks30, 0), 6), (h24.latency_sum_us / nullif(h24.up, 0))::bigint "
         "FROM (" + rows + ") l "
         "LEFT JOIN LATERAL (SELECT sum(checks) AS checks, sum(up) AS up, sum(latency_sum_us) AS latency_sum_us "
         "FROM monitor_stats_hour s WHERE l.check_seq IS NOT NULL AND s.tenant_id = l.tenant_id "
         "AND s.monitor_id = l.monitor_id AND s.bucket > now() - interval '24 hours') h24 ON true "
         "LEFT JOIN LATERAL (SELECT sum(checks) FILTER (WHERE s.bucket > now() - interval '7 days') AS checks7, "
         "sum(up) FILTER (WHERE s.bucket > now() - interval '7 days') AS up7, "
         "sum(checks) AS checks30, sum(up) AS up30 "
         "FROM monitor_stats_day s WHERE l.check_seq IS NOT NULL AND s.tenant_id = l.tenant_id "
         "AND s.monitor_id = l.monitor_id AND s.bucket > now() - interval '30 days') d ON true "
         "ORDER BY l.monitor_id";
}

http_response create_monitor(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::manage_monitors), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    monitor_config cfg;
    if (auto details = monitor_config_from(b, cfg, monitor_config{})) return invalid(req, *details);
    std::string push_token;
    if (cfg.kind == monitor_kind::push) {
      // The token enters the log only hashed and sealed (monitor_config.hpp).
      push_token = random_hex(16);
      cfg.push_token_hash = sha256_hex("", push_token);
      cfg.push_token_sealed = cx.n.seal_secret(push_token);
    }
    const std::string id = cx.object_id("m_", req, c);
    auto reply = cx.n.execute(tenant::command{cx.meta_for(req, c), tenant::create_monitor{id, cfg}},
                              tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    auto out = write_reply(*reply);
    out["monitor_id"] = id;
    if (cfg.kind == monitor_kind::push) {
      // A retry: the push URL is the one the first attempt made (the token
      // is random, never derived from the client's key).
      if (reply->duplicate) {
        auto first = cx.n.monitor_state(tenant_id{c.tenant}, id);
        if (!first) return from_error(first.err(), req);
        auto token = cx.n.open_secret(first->config.push_token_sealed);
        if (!token) return from_error(token.err(), req);
        push_token = std::move(*token);
      }
      if (!push_token.empty()) out["push_url"] = "/api/v1/push/" + push_token;
    }
    auto res = http_response::json(201, out);
    res.set_header("Location", "/api/v1/monitors/" + id);
    return res;
  });
}

// PATCH: the body's fields over the monitor's current configuration.
http_response update_monitor(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::manage_monitors), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    auto current = cx.n.monitor_state(tenant_id{c.tenant}, p.at("id"));
    if (!current) return from_error(current.err(), req);
    if (!current->exists || current->deleted) return not_found(req, "monitor " + p.at("id"));
    if (b.contains("kind") && b["kind"] != json(std::string(to_string(current->config.kind))))
      return invalid(req, json::array({{{"field", "kind"}, {"message", "a monitor's kind cannot change"}}}));
    monitor_config cfg;
    if (auto details = monitor_config_from(b, cfg, current->config)) return invalid(req, *details);
    auto reply = cx.n.execute(monitor::command{cx.meta_for(req, c), {}, monitor::update_monitor{cfg}},
                              tenant_id{c.tenant}, p.at("id"));
    if (!reply) return from_error(reply.err(), req);
    return http_response::json(200, write_reply(*reply));
  });
}

template <class Cmd>
http_response monitor_command(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::manage_monitors), [&](const caller& c) {
    if (auto bad = no_fields(req)) return *bad;
    auto reply = cx.n.execute(monitor::command{cx.meta_for(req, c), {}, Cmd{}}, tenant_id{c.tenant}, p.at("id"));
    if (!reply) return from_error(reply.err(), req);
    return http_response::json(200, write_reply(*reply));
  });
}

http_response delete_monitor(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::manage_monitors), [&](const caller& c) {
    if (auto bad = no_fields(req)) return *bad;
    auto reply = cx.n.execute(tenant::command{cx.meta_for(req, c), tenant::delete_monitor{p.at("id")}},
                              tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    return http_response::json(200, write_reply(*reply));
  });
}

http_response list_monitors(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    const page pg = page_of(req, details);
    static const std::set<std::string> statuses{"pending", "up", "down", "maintenance"};
    auto status = req.query.count("status") ? req.query.at("status") : "";
    if (!status.empty() && !statuses.count(status))
      details.push_back({{"field", "status"}, {"message", "one of pending, up, down, maintenance"}});
    cx.check_query(req, {"limit", "cursor", "status", "tag", "name"}, details);
    if (!details.empty())
      return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    const std::string tag = req.query.count("tag") ? req.query.at("tag") : "";
    const std::string name = req.query.count("name") ? req.query.at("name") : "";
    std::string items;
    std::string last_id;
    bool more = false;
    // The dashboard's hottest read: one round trip, prepared once per
    // connection. Without filters it has a statement of its own, whose
    // generic plan is the primary key's range scan stopping at the limit
    // (with the filters' "$n = '' OR ..." in it, PostgreSQL's generic plan
    // read and sorted every monitor of the tenant for each page).
    static const std::string plain_sql =
        list_sql("SELECT * FROM monitor_list WHERE listed AND monitor_id > $1::text ORDER BY monitor_id LIMIT $2::int");
    static const std::string filtered_sql = list_sql(
        "SELECT * FROM monitor_list WHERE listed AND monitor_id > $1::text AND ($2::text = '' OR status = $2) "
        "AND ($3::text = '' OR $3 = ANY(tags)) AND ($4::text = '' OR name ILIKE '%' || $4 || '%') "
        "ORDER BY monitor_id LIMIT $5::int");
    const bool filtered = !status.empty() || !tag.empty() || !name.empty();
    const std::string limit = std::to_string(pg.limit + 1);
    auto st = cx.pool.read_as_tenant(c.tenant, filtered ? "kw_monitor_list_filtered_v2" : "kw_monitor_list_v2",
                                     filtered ? filtered_sql : plain_sql,
                                     filtered ? std::vector<std::optional<std::string>>{pg.after, status, tag, name, limit}
                                              : std::vector<std::optional<std::string>>{pg.after, limit},
                                     [&](const pqxx::result& rows) {
      items.reserve(rows.size() * 400);
      int n = 0;
      for (const auto& r : rows) {
        if (n == pg.limit) {
          more = true;
          break;
        }
        if (n++) items += ',';
        append_monitor(items, r);
        last_id = r[c_monitor_id].c_str();
      }
    });
    if (!st) return from_error(st.err(), req);
    std::string out = "{\"items\":[";
    out += items;
    out += "],\"next_cursor\":";
    if (more) append_string(out, to_cursor(last_id).c_str());
    else out += "null";
    out += '}';
    return json_text(std::move(out), fresh);
  });
}

http_response get_monitor(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    cx.check_query(req, {}, details);
    if (!details.empty())
      return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    std::string item;
    static const std::string sql = list_sql("SELECT * FROM monitor_list WHERE listed AND monitor_id = $1::text");
    auto st = cx.pool.read_as_tenant(c.tenant, "kw_monitor_get_v2", sql, {p.at("id")}, [&](const pqxx::result& rows) {
      if (!rows.empty()) append_monitor(item, rows[0]);
    });
    if (!st) return from_error(st.err(), req);
    if (item.empty()) return not_found(req, "monitor " + p.at("id"));
    return json_text(std::move(item), fresh);
  });
}

}  // namespace

void add_monitor_routes(router& r, const api_context& cx) {
  const auto* c = &cx;
  r.add("POST", "/api/v1/monitors", [c](const http_request& q, const path_params&) { return create_monitor(*c, q); });
  r.add("GET", "/api/v1/monitors", [c](const http_request& q, const path_params&) { return list_monitors(*c, q); });
  r.add("GET", "/api/v1/monitors/{id}",
        [c](const http_request& q, const path_params& p) { return get_monitor(*c, q, p); });
  r.add("PATCH", "/api/v1/monitors/{id}",
        [c](const http_request& q, const path_params& p) { return update_monitor(*c, q, p); });
  r.add("POST", "/api/v1/monitors/{id}/pause",
        [c](const http_request& q, const path_params& p) { return monitor_command<monitor::pause_monitor>(*c, q, p); });
  r.add("POST", "/api/v1/monitors/{id}/resume", [c](const http_request& q, const path_params& p) {
    return monitor_command<monitor::resume_monitor>(*c, q, p);
  });
  r.add("DELETE", "/api/v1/monitors/{id}",
        [c](const http_request& q, const path_params& p) { return delete_monitor(*c, q, p); });
}

void describe_monitor_routes(json& paths, json& schemas) {
  using namespace oa;
  json input = {
      {"type", "object"},
      {"additionalProperties", false},
      {"properties",
       {{"name", {{"type", "string"}}},
        {"kind", {{"type", "string"}, {"enum", {"http", "keyword", "tcp", "push"}}}},
        {"url", {{"type", "string"}}},
        {"host", {{"type", "string"}}},
        {"port", {{"type", "integer"}}},
        {"interval_s", {{"type", "integer"}}},
        {"timeout_ms", {{"type", "integer"}}},
        {"retries", {{"type", "integer"}}},
        {"accepted_status",
         {{"type", "array"},
          {"items",
           {{"type", "object"}, {"properties", {{"low", {{"type", "integer"}}}, {"high", {{"type", "integer"}}}}}}}}},
        {"keyword", {{"type", "string"}}},
        {"keyword_absent", {{"type", "boolean"}}},
        {"max_redirects", {{"type", "integer"}}},
        {"verify_tls", {{"type", "boolean"}}},
        {"grace_s", {{"type", "integer"}}},
        {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"channel_ids", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}};
  schemas["MonitorInput"] = input;
  schemas["Monitor"] = {
      {"type", "object"},
      {"properties",
       {{"monitor_id", {{"type", "string"}}},
        {"name", {{"type", "string"}}},
        {"kind", {{"type", "string"}}},
        {"target", {{"type", "string"}}},
        {"interval_s", {{"type", "integer"}}},
        {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"active", {{"type", "boolean"}}},
        {"status", {{"type", "string"}, {"enum", {"pending", "up", "down", "maintenance"}}}},
        {"status_since", {{"type", "string"}, {"format", "date-time"}}},
        {"last_check_at", {{"type", "string"}, {"format", "date-time"}, {"nullable", true}}},
        {"last_check_ok", {{"type", "boolean"}, {"nullable", true}}},
        {"last_latency_us", {{"type", "integer"}, {"nullable", true}}},
        {"uptime_24h", {{"type", "number"}, {"nullable", true}}},
        {"uptime_7d", {{"type", "number"}, {"nullable", true}}},
        {"uptime_30d", {{"type", "number"}, {"nullable", true}}},
        {"avg_latency_us_24h", {{"type", "integer"}, {"nullable", true}}}}}};
  json list_params = wait_params();
  for (auto& p : page_params()) list_params.push_back(p);
  list_params.push_back(query_param("status", {{"type", "string"}, {"enum", {"pending", "up", "down", "maintenance"}}}));
  list_params.push_back(query_param("tag", {{"type", "string"}}));
  list_params.push_back(query_param("name", {{"type", "string"}}, "part of the name, case-insensitive"));
  json get_params = wait_params();
  get_params.push_back(path_param("id"));
  const json id = json::array({path_param("id")});

  paths["/api/v1/monitors"]["post"] = secured(
      {{"summary", "Create a monitor"},
       {"requestBody", json_body(ref("MonitorInput"))},
       {"responses",
        {{"201", ok("the monitor's id (monitor_id, push_url for push monitors) and the events' offsets", write_reply())},
         {"409", error_response("plan quota exceeded")},
         {"422", error_response("invalid fields")}}}});
  paths["/api/v1/monitors"]["get"] = secured({{"summary", "List monitors with uptime and latency"},
                                              {"parameters", list_params},
                                              {"responses",
                                               {{"200", ok("a page", page_of(ref("Monitor")))},
                                                {"422", error_response("bad query parameters")}}}});
  paths["/api/v1/monitors/{id}"]["get"] = secured(
      {{"summary", "One monitor"},
       {"parameters", get_params},
       {"responses", {{"200", ok("the monitor", ref("Monitor"))}, {"404", error_response("no such monitor")}}}});
  paths["/api/v1/monitors/{id}"]["patch"] = secured(
      {{"summary", "Change a monitor: the fields given replace the current ones (kind cannot change)"},
       {"parameters", id},
       {"requestBody", json_body(ref("MonitorInput"))},
       {"responses",
        {{"200", ok("the events' offsets", write_reply())},
         {"404", error_response("no such monitor")},
         {"422", error_response("invalid fields")}}}});
  paths["/api/v1/monitors/{id}/pause"]["post"] =
      secured({{"summary", "Pause a monitor's checks"},
               {"parameters", id},
               {"responses",
                {{"200", ok("the events' offsets", write_reply())},
                 {"404", error_response("no such monitor")},
                 {"409", error_response("already paused")}}}});
  paths["/api/v1/monitors/{id}/resume"]["post"] =
      secured({{"summary", "Resume a paused monitor"},
               {"parameters", id},
               {"responses",
                {{"200", ok("the events' offsets", write_reply())},
                 {"404", error_response("no such monitor")},
                 {"409", error_response("not paused")}}}});
  paths["/api/v1/monitors/{id}"]["delete"] =
      secured({{"summary", "Delete a monitor"},
               {"parameters", id},
               {"responses", {{"200", ok("the events' offsets", write_reply())}, {"404", error_response("no such monitor")}}}});
}

}  // namespace kw::gateway
