// Monitors: create, list (cursor pages; filters by status, tag and name),
// get, update, pause, resume, delete. Writes are commands to the tenant's
// actor (create, delete) or the monitor's (update, pause, resume); reads come
// from the dashboard read model (monitor_overview) under row-level security.
#include <pqxx/pqxx>

#include "actors/host/node.hpp"
#include "events/codec.hpp"
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
    if (!j.contains(k) || k == "push_token") {
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

json monitor_json(const pqxx::row& r) {
  auto num = [](const pqxx::field& f) { return f.is_null() ? json() : json(f.as<double>()); };
  auto str = [](const pqxx::field& f) { return f.is_null() ? json() : json(f.c_str()); };
  auto i64 = [](const pqxx::field& f) { return f.is_null() ? json() : json(f.as<long long>()); };
  return {{"monitor_id", r["monitor_id"].c_str()},
          {"name", r["name"].c_str()},
          {"kind", r["kind"].c_str()},
          {"target", r["target"].c_str()},
          {"interval_s", r["interval_s"].as<int>()},
          {"tags", json::parse(r["tags_json"].c_str())},
          {"active", r["active"].as<bool>()},
          {"status", r["status"].c_str()},
          {"status_since", r["status_since_s"].c_str()},
          {"last_check_at", str(r["last_check_at_s"])},
          {"last_check_ok", r["last_check_ok"].is_null() ? json() : json(r["last_check_ok"].as<bool>())},
          {"last_latency_us", i64(r["last_latency_us"])},
          {"uptime_24h", num(r["uptime_24h"])},
          {"uptime_7d", num(r["uptime_7d"])},
          {"uptime_30d", num(r["uptime_30d"])},
          {"avg_latency_us_24h", i64(r["avg_latency_us_24h"])}};
}

const std::string& overview_columns() {
  static const std::string cols =
      "monitor_id, name, kind, target, interval_s, to_json(tags)::text AS tags_json, active, status, " +
      rfc3339_sql("status_since") + " AS status_since_s, " + rfc3339_sql("last_check_at") +
      " AS last_check_at_s, last_check_ok, last_latency_us, uptime_24h, uptime_7d, uptime_30d, avg_latency_us_24h";
  return cols;
}

http_response create_monitor(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::manage_monitors), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    monitor_config cfg;
    if (auto details = monitor_config_from(b, cfg, monitor_config{})) return invalid(req, *details);
    if (cfg.kind == monitor_kind::push) cfg.push_token = random_hex(16);
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
        cfg.push_token = first->config.push_token;
      }
      if (!cfg.push_token.empty()) out["push_url"] = "/api/v1/push/" + cfg.push_token;
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
    unknown_query(req, {"limit", "cursor", "status", "tag", "name"}, details);
    if (!details.empty())
      return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    const std::string tag = req.query.count("tag") ? req.query.at("tag") : "";
    const std::string name = req.query.count("name") ? req.query.at("name") : "";
    json items = json::array();
    bool more = false;
    // The dashboard's hottest read: one round trip, prepared once per
    // connection (the view is costly to plan).
    static const std::string sql =
        "SELECT " + overview_columns() +
        " FROM monitor_overview WHERE monitor_id > $1::text AND ($2::text = '' OR status = $2) "
        "AND ($3::text = '' OR $3 = ANY(tags)) AND ($4::text = '' OR name ILIKE '%' || $4 || '%') "
        "ORDER BY monitor_id LIMIT $5::int";
    auto st = cx.pool.read_as_tenant(c.tenant, "kw_monitor_list_v1", sql,
                                     {pg.after, status, tag, name, std::to_string(pg.limit + 1)},
                                     [&](const pqxx::result& rows) {
      for (const auto& r : rows) {
        if (int(items.size()) == pg.limit) {
          more = true;
          break;
        }
        items.push_back(monitor_json(r));
      }
    });
    if (!st) return from_error(st.err(), req);
    json out = json::object();
    out["next_cursor"] = more ? json(to_cursor(items.back()["monitor_id"])) : json();
    out["items"] = std::move(items);
    return fresh_or_stale(out, fresh);
  });
}

http_response get_monitor(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    unknown_query(req, {}, details);
    if (!details.empty())
      return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json item;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      w.conn().prepare("kw_monitor_get", "SELECT " + overview_columns() + " FROM monitor_overview WHERE monitor_id = $1");
      auto rows = w.exec_prepared("kw_monitor_get", p.at("id"));
      if (!rows.empty()) item = monitor_json(rows[0]);
    });
    if (!st) return from_error(st.err(), req);
    if (item.is_null()) return not_found(req, "monitor " + p.at("id"));
    return fresh_or_stale(item, fresh);
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
