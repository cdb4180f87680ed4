// The tenant's setup: notification channels (webhooks), maintenance windows
// and status pages. Every write is a command to the tenant's actor, which
// decides it again (roles, rules, quotas); every read comes from the
// dashboard read model (channels, maintenance_windows, status_pages) under
// row-level security, and takes ?wait_for= for read-your-writes.
//
// Guarantees:
//  - A channel's signing secret enters the log only sealed by the node and is
//    never part of any answer; the read model does not even hold it.
//  - A request the gateway can tell is bad (body shape, field rules, a
//    monitor id the tenant does not have, a slug another tenant's page holds)
//    is refused with field details before any command is sent, so it appends
//    nothing. The decider re-checks what can race (same-tenant slugs, unknown
//    monitors) and refuses those with its own error.
//  - Another tenant's channel, window or page id answers 404: reads see only
//    the caller's rows, and writes go to the caller's own tenant actor.
#include <pqxx/pqxx>

#include "actors/common/validation.hpp"
#include "actors/host/node.hpp"
#include "gateway/api_context.hpp"
#include "gateway/openapi_parts.hpp"
#include "gateway/pg_pool.hpp"
#include "gateway/tokens.hpp"

namespace kw::gateway {
namespace {

namespace v = kw::validation;

// The longest webhook signing secret accepted (its sealed form must fit the
// decider's 4096-byte bound with room to spare).
constexpr std::size_t max_secret_len = 1024;
// The most monitors one window or page may name.
constexpr std::size_t max_monitor_ids = 1000;

http_response created(const json& body, const std::string& location) {
  auto res = http_response::json(201, body);
  res.set_header("Location", location);
  return res;
}

// A validation rule's refusal as a field detail.
void check(json& details, const std::string& field, const status& st) {
  if (!st) details.push_back({{"field", field}, {"message", st.err().message}});
}

// The string at `field` when present and a string; a detail when it is
// present and not a string.
std::optional<std::string> string_at(const json& b, const std::string& field, json& details) {
  auto it = b.find(field);
  if (it == b.end()) return std::nullopt;
  if (!it->is_string()) {
    details.push_back({{"field", field}, {"message", "expected a string"}});
    return std::nullopt;
  }
  return it->get<std::string>();
}

void require(const json& b, const std::vector<std::string>& fields, json& details) {
  for (const auto& f : fields)
    if (!b.contains(f)) details.push_back({{"field", f}, {"message", "required"}});
}

// monitor_ids: an array of distinct monitor ids. nullopt (and details) when
// it is not one.
std::optional<std::vector<std::string>> monitor_ids_at(const json& b, const std::string& field, json& details) {
  auto it = b.find(field);
  if (it == b.end()) return std::nullopt;
  if (!it->is_array()) {
    details.push_back({{"field", field}, {"message", "expected an array of monitor ids"}});
    return std::nullopt;
  }
  if (it->size() > max_monitor_ids) {
    details.push_back({{"field", field}, {"message", "at most " + std::to_string(max_monitor_ids) + " monitors"}});
    return std::nullopt;
  }
  std::vector<std::string> ids;
  std::set<std::string> seen;
  const std::size_t before = details.size();
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& e = (*it)[i];
    const std::string at = field + "[" + std::to_string(i) + "]";
    if (!e.is_string()) {
      details.push_back({{"field", at}, {"message", "expected a monitor id (a string)"}});
      continue;
    }
    const auto id = e.get<std::string>();
    if (auto st = v::id(at, id); !st) {
      check(details, at, st);
      continue;
    }
    if (!seen.insert(id).second) details.push_back({{"field", at}, {"message", "monitor '" + id + "' is listed twice"}});
    ids.push_back(id);
  }
  if (details.size() != before) return std::nullopt;
  return ids;
}

// Each id must be a live monitor of the tenant: another tenant's monitor is,
// to this tenant, no monitor at all.
void known_monitors(const tenant::state& s, const std::vector<std::string>& ids, const std::string& field,
                    json& details) {
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (!s.monitors.count(ids[i]))
      details.push_back({{"field", field + "[" + std::to_string(i) + "]"},
                         {"message", "no monitor '" + ids[i] + "' in this tenant"}});
}

// An RFC 3339 time from a body field (the same grammar as time parameters,
// without their unix-seconds form).
std::optional<timestamp> time_at(const json& b, const std::string& field, json& details) {
  auto s = string_at(b, field, details);
  if (!s) return std::nullopt;
  json mine = json::array();
  std::optional<timestamp> t;
  if (!s->empty() && s->find_first_not_of("0123456789") != std::string::npos) {
    http_request as_query;
    as_query.query[field] = *s;
    t = time_param(as_query, field, mine);
  }
  if (!t) details.push_back({{"field", field}, {"message", "expected an RFC 3339 time, e.g. 2026-11-24T10:00:00Z"}});
  return t;
}

// The caller's tenant as its actor holds it (for PATCH bases and monitor
// checks).
result<tenant::state> tenant_now(const api_context& cx, const caller& c) {
  return cx.n.tenant_state(tenant_id{c.tenant});
}

// One row of a list query, keyed, into `items`; true when there is more.
template <class ToJson>
bool take_page(const pqxx::result& rows, int limit, json& items, ToJson&& to_json) {
  for (const auto& r : rows) {
    if (int(items.size()) == limit) return true;
    items.push_back(to_json(r));
  }
  return false;
}

// ---------------------------------------------------------------- channels

json channel_json(const pqxx::row& r) {
  return {{"channel_id", r["channel_id"].c_str()}, {"name", r["name"].c_str()},
          {"kind", r["kind"].c_str()},             {"url", r["url"].c_str()},
          {"created_at", r["created_s"].c_str()},  {"updated_at", r["updated_s"].c_str()}};
}

const std::string& channel_columns() {
  static const std::string cols = "channel_id, name, kind, url, " + rfc3339_sql("created_at") + " AS created_s, " +
                                  rfc3339_sql("updated_at") + " AS updated_s";
  return cols;
}

// The channel's name, url and secret from a body over `base` (all required
// when `creating`); details for what is wrong. A secret given in plain is
// sealed here and nowhere else.
void channel_fields(const api_context& cx, const json& b, bool creating, tenant::channel& out, json& details) {
  unknown_fields(b, {"name", "url", "secret"}, details);
  if (creating) require(b, {"name", "url"}, details);
  if (auto name = string_at(b, "name", details)) {
    check(details, "name", v::name("name", *name));
    out.name = *name;
  }
  if (auto url = string_at(b, "url", details)) {
    check(details, "url", v::http_url("url", *url));
    out.url = *url;
  }
  if (auto it = b.find("secret"); it != b.end()) {
    if (it->is_null() && !creating) {
      out.secret_enc.clear();  // PATCH "secret": null removes the signing secret
    } else if (!it->is_string()) {
      details.push_back({{"field", "secret"}, {"message", creating ? "expected a string" : "expected a string or null"}});
    } else {
      const auto plain = it->get<std::string>();
      if (plain.empty() || plain.size() > max_secret_len)
        details.push_back({{"field", "secret"},
                           {"message", "must be 1 to " + std::to_string(max_secret_len) + " bytes; leave it out for none"}});
      else
        out.secret_enc = cx.n.seal_secret(plain);
    }
  }
}

http_response create_channel(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::manage_channels), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    json details = json::array();
    tenant::channel ch;
    channel_fields(cx, b, true, ch, details);
    if (!details.empty()) return invalid(req, details);
    const std::string id = cx.object_id("c_", req, c);
    auto reply = cx.n.execute(
        tenant::command{cx.meta_for(req, c), tenant::create_channel{id, ch.name, ch.url, ch.secret_enc}},
        tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    auto out = write_reply(*reply);
    out["channel_id"] = id;
    return created(out, "/api/v1/channels/" + id);
  });
}

// PATCH: the body's fields over the channel's current ones.
http_response update_channel(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::manage_channels), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    auto s = tenant_now(cx, c);
    if (!s) return from_error(s.err(), req);
    auto found = s->channels.find(p.at("id"));
    if (found == s->channels.end()) return not_found(req, "channel " + p.at("id"));
    tenant::channel ch = found->second;
    json details = json::array();
    channel_fields(cx, b, false, ch, details);
    if (details.empty() && b.empty())
      details.push_back({{"field", ""}, {"message", "give at least one of name, url, secret"}});
    if (!details.empty()) return invalid(req, details);
    auto reply = cx.n.execute(
        tenant::command{cx.meta_for(req, c), tenant::update_channel{p.at("id"), ch.name, ch.url, ch.secret_enc}},
        tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    auto out = write_reply(*reply);
    out["channel_id"] = p.at("id");
    return http_response::json(200, out);
  });
}

http_response delete_channel(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::manage_channels), [&](const caller& c) {
    if (auto bad = no_fields(req)) return *bad;
    auto reply =
        cx.n.execute(tenant::command{cx.meta_for(req, c), tenant::delete_channel{p.at("id")}}, tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    auto out = write_reply(*reply);
    out["channel_id"] = p.at("id");
    return http_response::json(200, out);
  });
}

http_response list_channels(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    const page pg = page_of(req, details);
    cx.check_query(req, {"limit", "cursor"}, details);
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json items = json::array();
    bool more = false;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params(
          "SELECT " + channel_columns() + " FROM channels WHERE channel_id > $1 ORDER BY channel_id LIMIT $2",
          pg.after, pg.limit + 1);
      more = take_page(rows, pg.limit, items, channel_json);
    });
    if (!st) return from_error(st.err(), req);
    return fresh_or_stale(
        {{"items", items}, {"next_cursor", more ? json(to_cursor(items.back()["channel_id"])) : json()}}, fresh);
  });
}

http_response get_channel(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    cx.check_query(req, {}, details);
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json item;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows =
          w.exec_params("SELECT " + channel_columns() + " FROM channels WHERE channel_id = $1", p.at("id"));
      if (!rows.empty()) item = channel_json(rows[0]);
    });
    if (!st) return from_error(st.err(), req);
    if (item.is_null()) return not_found(req, "channel " + p.at("id"));
    return fresh_or_stale(item, fresh);
  });
}

// ---------------------------------------------------------------- maintenance

json window_json(const pqxx::row& r) {
  return {{"window_id", r["window_id"].c_str()},
          {"title", r["title"].c_str()},
          {"monitor_ids", json::parse(r["monitor_ids_json"].c_str())},
          {"starts_at", r["starts_s"].c_str()},
          {"ends_at", r["ends_s"].c_str()},
          {"cancelled_at", r["cancelled_s"].is_null() ? json() : json(r["cancelled_s"].c_str())},
          {"status", r["status"].c_str()}};
}

// A window is "scheduled" before it starts, "active" while it runs (checks
// of its monitors count as maintenance), "ended" after, or "cancelled".
const std::string& window_columns() {
  static const std::string cols =
      "window_id, title, to_json(monitor_ids)::text AS monitor_ids_json, " + rfc3339_sql("starts_at") +
      " AS starts_s, " + rfc3339_sql("ends_at") + " AS ends_s, " + rfc3339_sql("cancelled_at") +
      " AS cancelled_s, CASE WHEN cancelled_at IS NOT NULL THEN 'cancelled' WHEN now() < starts_at THEN "
      "'scheduled' WHEN now() < ends_at THEN 'active' ELSE 'ended' END AS status";
  return cols;
}

http_response schedule_maintenance(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::manage_maintenance), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    const auto meta = cx.meta_for(req, c);
    json details = json::array();
    unknown_fields(b, {"title", "monitor_ids", "starts_at", "ends_at"}, details);
    require(b, {"title", "starts_at", "ends_at"}, details);
    auto title = string_at(b, "title", details);
    if (title) check(details, "title", v::name("title", *title));
    auto ids = monitor_ids_at(b, "monitor_ids", details);
    auto starts = time_at(b, "starts_at", details);
    auto ends = time_at(b, "ends_at", details);
    if (starts && ends && *ends <= *starts)
      details.push_back({{"field", "ends_at"}, {"message", "must be after starts_at"}});
    else if (ends && *ends <= meta.time)
      details.push_back({{"field", "ends_at"}, {"message", "the window would already have ended"}});
    if (!details.empty()) return invalid(req, details);
    const std::vector<std::string> monitors = ids.value_or(std::vector<std::string>{});
    if (!monitors.empty()) {
      auto s = tenant_now(cx, c);
      if (!s) return from_error(s.err(), req);
      known_monitors(*s, monitors, "monitor_ids", details);
      if (!details.empty()) return invalid(req, details);
    }
    const std::string id = cx.object_id("w_", req, c);
    auto reply = cx.n.execute(
        tenant::command{meta, tenant::schedule_maintenance{id, *title, monitors, *starts, *ends}}, tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    auto out = write_reply(*reply);
    out["window_id"] = id;
    return created(out, "/api/v1/maintenance/" + id);
  });
}

http_response cancel_maintenance(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::manage_maintenance), [&](const caller& c) {
    if (auto bad = no_fields(req)) return *bad;
    auto reply = cx.n.execute(tenant::command{cx.meta_for(req, c), tenant::cancel_maintenance{p.at("id")}},
                              tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    auto out = write_reply(*reply);
    out["window_id"] = p.at("id");
    return http_response::json(200, out);
  });
}

http_response list_maintenance(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    const page pg = page_of(req, details);
    const std::string active = req.query.count("active") ? req.query.at("active") : "";
    if (!active.empty() && active != "true" && active != "false")
      details.push_back({{"field", "active"}, {"message", "true or false"}});
    cx.check_query(req, {"limit", "cursor", "active"}, details);
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json items = json::array();
    bool more = false;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      const std::string in_effect = "(cancelled_at IS NULL AND starts_at <= now() AND now() < ends_at)";
      const std::string filter = active == "true" ? " AND " + in_effect : active == "false" ? " AND NOT " + in_effect : "";
      auto rows = w.exec_params("SELECT " + window_columns() + " FROM maintenance_windows WHERE window_id > $1" +
                                    filter + " ORDER BY window_id LIMIT $2",
                                pg.after, pg.limit + 1);
      more = take_page(rows, pg.limit, items, window_json);
    });
    if (!st) return from_error(st.err(), req);
    return fresh_or_stale(
        {{"items", items}, {"next_cursor", more ? json(to_cursor(items.back()["window_id"])) : json()}}, fresh);
  });
}

http_response get_maintenance(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    cx.check_query(req, {}, details);
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json item;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params("SELECT " + window_columns() + " FROM maintenance_windows WHERE window_id = $1",
                                p.at("id"));
      if (!rows.empty()) item = window_json(rows[0]);
    });
    if (!st) return from_error(st.err(), req);
    if (item.is_null()) return not_found(req, "maintenance window " + p.at("id"));
    return fresh_or_stale(item, fresh);
  });
}

// ---------------------------------------------------------------- status pages

std::string public_url(const std::string& slug) { return "/status/" + slug; }

json page_json(const pqxx::row& r) {
  return {{"page_id", r["page_id"].c_str()},
          {"slug", r["slug"].c_str()},
          {"title", r["title"].c_str()},
          {"monitor_ids", json::parse(r["monitor_ids_json"].c_str())},
          {"public_url", public_url(r["slug"].c_str())},
          {"created_at", r["created_s"].c_str()},
          {"updated_at", r["updated_s"].c_str()}};
}

const std::string& page_columns() {
  static const std::string cols = "page_id, slug, title, to_json(monitor_ids)::text AS monitor_ids_json, " +
                                  rfc3339_sql("created_at") + " AS created_s, " + rfc3339_sql("updated_at") +
                                  " AS updated_s";
  return cols;
}

// The page's slug, title and monitor ids from a body over `base` (all
// required when `creating`); details for what is wrong.
void page_fields(const json& b, bool creating, tenant::status_page& out, json& details) {
  unknown_fields(b, {"slug", "title", "monitor_ids"}, details);
  if (creating) require(b, {"slug", "title", "monitor_ids"}, details);
  if (auto slug = string_at(b, "slug", details)) {
    check(details, "slug", v::slug(*slug));
    out.slug = *slug;
  }
  if (auto title = string_at(b, "title", details)) {
    check(details, "title", v::name("title", *title));
    out.title = *title;
  }
  if (auto ids = monitor_ids_at(b, "monitor_ids", details)) out.monitor_ids = *ids;
}

// Public URLs are by slug alone, so a slug another tenant's page already
// holds is refused. This reads the read model, so it sees pages once the
// dashboard projection has them: two tenants claiming one slug at the same
// moment can both succeed (the public route then serves the older page).
std::optional<http_response> slug_taken_elsewhere(const api_context& cx, const http_request& req, const caller& c,
                                                  const std::string& slug) {
  std::string owner;
  auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
    auto rows = w.exec_params("SELECT tenant_id FROM status_page_by_slug($1)", slug);
    if (!rows.empty()) owner = rows[0][0].c_str();
  });
  if (!st) return from_error(st.err(), req);
  if (!owner.empty() && owner != c.tenant)
    return http_response::error(409, "conflict", "the slug '" + slug + "' is taken", req.request_id,
                                json::array({{{"field", "slug"}, {"message", "already used by another status page"}}}));
  return std::nullopt;
}

http_response create_status_page(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::manage_status_pages), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    json details = json::array();
    tenant::status_page pg;
    page_fields(b, true, pg, details);
    if (!details.empty()) return invalid(req, details);
    if (!pg.monitor_ids.empty()) {
      auto s = tenant_now(cx, c);
      if (!s) return from_error(s.err(), req);
      known_monitors(*s, pg.monitor_ids, "monitor_ids", details);
      if (!details.empty()) return invalid(req, details);
    }
    if (auto taken = slug_taken_elsewhere(cx, req, c, pg.slug)) return *taken;
    const std::string id = cx.object_id("p_", req, c);
    auto reply = cx.n.execute(
        tenant::command{cx.meta_for(req, c), tenant::create_status_page{id, pg.slug, pg.title, pg.monitor_ids}},
        tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    auto out = write_reply(*reply);
    out["page_id"] = id;
    out["public_url"] = public_url(pg.slug);
    return created(out, "/api/v1/status-pages/" + id);
  });
}

// PATCH: the body's fields over the page's current ones.
http_response update_status_page(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::manage_status_pages), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    auto s = tenant_now(cx, c);
    if (!s) return from_error(s.err(), req);
    auto found = s->status_pages.find(p.at("id"));
    if (found == s->status_pages.end()) return not_found(req, "status page " + p.at("id"));
    tenant::status_page pg = found->second;
    json details = json::array();
    page_fields(b, false, pg, details);
    if (details.empty() && b.empty())
      details.push_back({{"field", ""}, {"message", "give at least one of slug, title, monitor_ids"}});
    if (details.empty() && b.contains("monitor_ids")) known_monitors(*s, pg.monitor_ids, "monitor_ids", details);
    if (!details.empty()) return invalid(req, details);
    if (pg.slug != found->second.slug)
      if (auto taken = slug_taken_elsewhere(cx, req, c, pg.slug)) return *taken;
    auto reply = cx.n.execute(
        tenant::command{cx.meta_for(req, c), tenant::update_status_page{p.at("id"), pg.slug, pg.title, pg.monitor_ids}},
        tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    auto out = write_reply(*reply);
    out["page_id"] = p.at("id");
    out["public_url"] = public_url(pg.slug);
    return http_response::json(200, out);
  });
}

http_response delete_status_page(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::manage_status_pages), [&](const caller& c) {
    if (auto bad = no_fields(req)) return *bad;
    auto reply = cx.n.execute(tenant::command{cx.meta_for(req, c), tenant::delete_status_page{p.at("id")}},
                              tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    auto out = write_reply(*reply);
    out["page_id"] = p.at("id");
    return http_response::json(200, out);
  });
}

http_response list_status_pages(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    const page pg = page_of(req, details);
    cx.check_query(req, {"limit", "cursor"}, details);
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json items = json::array();
    bool more = false;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params(
          "SELECT " + page_columns() + " FROM status_pages WHERE page_id > $1 ORDER BY page_id LIMIT $2", pg.after,
          pg.limit + 1);
      more = take_page(rows, pg.limit, items, page_json);
    });
    if (!st) return from_error(st.err(), req);
    return fresh_or_stale(
        {{"items", items}, {"next_cursor", more ? json(to_cursor(items.back()["page_id"])) : json()}}, fresh);
  });
}

http_response get_status_page(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    cx.check_query(req, {}, details);
    if (!details.empty()) return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json item;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params("SELECT " + page_columns() + " FROM status_pages WHERE page_id = $1", p.at("id"));
      if (!rows.empty()) item = page_json(rows[0]);
    });
    if (!st) return from_error(st.err(), req);
    if (item.is_null()) return not_found(req, "status page " + p.at("id"));
    return fresh_or_stale(item, fresh);
  });
}

}  // namespace

void add_setup_routes(router& r, const api_context& cx) {
  const auto* c = &cx;
  using P = const path_params&;
  using Q = const http_request&;
  r.add("GET", "/api/v1/channels", [c](Q q, P) { return list_channels(*c, q); });
  r.add("POST", "/api/v1/channels", [c](Q q, P) { return create_channel(*c, q); });
  r.add("GET", "/api/v1/channels/{id}", [c](Q q, P p) { return get_channel(*c, q, p); });
  r.add("PATCH", "/api/v1/channels/{id}", [c](Q q, P p) { return update_channel(*c, q, p); });
  r.add("DELETE", "/api/v1/channels/{id}", [c](Q q, P p) { return delete_channel(*c, q, p); });

  r.add("GET", "/api/v1/maintenance", [c](Q q, P) { return list_maintenance(*c, q); });
  r.add("POST", "/api/v1/maintenance", [c](Q q, P) { return schedule_maintenance(*c, q); });
  r.add("GET", "/api/v1/maintenance/{id}", [c](Q q, P p) { return get_maintenance(*c, q, p); });
  r.add("DELETE", "/api/v1/maintenance/{id}", [c](Q q, P p) { return cancel_maintenance(*c, q, p); });

  r.add("GET", "/api/v1/status-pages", [c](Q q, P) { return list_status_pages(*c, q); });
  r.add("POST", "/api/v1/status-pages", [c](Q q, P) { return create_status_page(*c, q); });
  r.add("GET", "/api/v1/status-pages/{id}", [c](Q q, P p) { return get_status_page(*c, q, p); });
  r.add("PATCH", "/api/v1/status-pages/{id}", [c](Q q, P p) { return update_status_page(*c, q, p); });
  r.add("DELETE", "/api/v1/status-pages/{id}", [c](Q q, P p) { return delete_status_page(*c, q, p); });
}

void describe_setup_routes(json& paths, json& schemas) {
  using namespace oa;
  const json str = {{"type", "string"}};
  const json when = {{"type", "string"}, {"format", "date-time"}};
  const json ids = {{"type", "array"}, {"items", str}};

  schemas["ChannelInput"] = {{"type", "object"},
                             {"additionalProperties", false},
                             {"required", {"name", "url"}},
                             {"properties",
                              {{"name", str},
                               {"url", {{"type", "string"}, {"description", "http:// or https://"}}},
                               {"secret", {{"type", "string"},
                                           {"description", "webhook signing secret; stored sealed, never shown"}}}}}};
  schemas["ChannelPatch"] = {{"type", "object"},
                             {"additionalProperties", false},
                             {"properties",
                              {{"name", str},
                               {"url", str},
                               {"secret", {{"type", "string"}, {"nullable", true},
                                           {"description", "a new signing secret; null removes it"}}}}}};
  schemas["Channel"] = {{"type", "object"},
                        {"properties",
                         {{"channel_id", str},
                          {"name", str},
                          {"kind", {{"type", "string"}, {"enum", {"webhook"}}}},
                          {"url", str},
                          {"created_at", when},
                          {"updated_at", when}}}};
  schemas["MaintenanceInput"] = {
      {"type", "object"},
      {"additionalProperties", false},
      {"required", {"title", "starts_at", "ends_at"}},
      {"properties",
       {{"title", str},
        {"monitor_ids", {{"type", "array"}, {"items", str}, {"description", "empty or absent: every monitor"}}},
        {"starts_at", when},
        {"ends_at", {{"type", "string"}, {"format", "date-time"}, {"description", "after starts_at and after now"}}}}}};
  schemas["MaintenanceWindow"] = {
      {"type", "object"},
      {"properties",
       {{"window_id", str},
        {"title", str},
        {"monitor_ids", ids},
        {"starts_at", when},
        {"ends_at", when},
        {"cancelled_at", {{"type", "string"}, {"format", "date-time"}, {"nullable", true}}},
        {"status", {{"type", "string"}, {"enum", {"scheduled", "active", "ended", "cancelled"}}}}}}};
  const json slug = {{"type", "string"}, {"pattern", "^[a-z0-9-]{1,63}$"}};
  schemas["StatusPageInput"] = {{"type", "object"},
                                {"additionalProperties", false},
                                {"required", {"slug", "title", "monitor_ids"}},
                                {"properties", {{"slug", slug}, {"title", str}, {"monitor_ids", ids}}}};
  schemas["StatusPagePatch"] = {{"type", "object"},
                                {"additionalProperties", false},
                                {"properties", {{"slug", slug}, {"title", str}, {"monitor_ids", ids}}}};
  schemas["StatusPage"] = {{"type", "object"},
                           {"properties",
                            {{"page_id", str},
                             {"slug", str},
                             {"title", str},
                             {"monitor_ids", ids},
                             {"public_url", {{"type", "string"}, {"description", "/status/<slug>"}}},
                             {"created_at", when},
                             {"updated_at", when}}}};

  json list_params = wait_params();
  for (auto& p : page_params()) list_params.push_back(p);
  json window_list_params = list_params;
  window_list_params.push_back(
      query_param("active", {{"type", "boolean"}}, "true: only windows in effect now; false: all others"));
  json get_params = wait_params();
  get_params.push_back(path_param("id"));
  const json id = json::array({path_param("id")});

  auto list_op = [&](const std::string& summary, const json& params, const std::string& item) {
    return secured({{"summary", summary},
                    {"parameters", params},
                    {"responses",
                     {{"200", ok("a page (X-Keepwatch-Stale: true when the read model had not caught up)",
                                 oa::page_of(ref(item)))},
                      {"422", error_response("bad query parameters")}}}});
  };
  auto get_op = [&](const std::string& summary, const std::string& item, const std::string& what) {
    return secured({{"summary", summary},
                    {"parameters", get_params},
                    {"responses", {{"200", ok("the " + what, ref(item))}, {"404", error_response("no such " + what)}}}});
  };
  auto write_op = [&](const std::string& summary, const std::string& body_schema, const std::string& what,
                      const std::string& success, const json& conflicts) {
    json responses = {{success, ok("the " + what + "'s id and the events' offsets", write_reply())},
                      {"400", error_response("malformed JSON or bad UTF-8")},
                      {"415", error_response("not application/json")},
                      {"422", error_response("invalid fields (details name them)")}};
    if (success == "200") responses["404"] = error_response("no such " + what);
    for (auto& [code, why] : conflicts.items()) responses[code] = error_response(why.get<std::string>());
    json op = {{"summary", summary}, {"requestBody", json_body(ref(body_schema))}, {"responses", responses}};
    if (success == "200") op["parameters"] = id;
    return secured(op);
  };
  auto delete_op = [&](const std::string& summary, const std::string& what) {
    return secured({{"summary", summary},
                    {"parameters", id},
                    {"responses",
                     {{"200", ok("the events' offsets", write_reply())}, {"404", error_response("no such " + what)}}}});
  };

  paths["/api/v1/channels"]["get"] = list_op("List notification channels (never their secrets)", list_params, "Channel");
  paths["/api/v1/channels"]["post"] =
      write_op("Create a webhook channel (needs owner or admin)", "ChannelInput", "channel", "201", json::object());
  paths["/api/v1/channels/{id}"]["get"] = get_op("One notification channel", "Channel", "channel");
  paths["/api/v1/channels/{id}"]["patch"] = write_op(
      "Change a channel: the fields given replace the current ones", "ChannelPatch", "channel", "200", json::object());
  paths["/api/v1/channels/{id}"]["delete"] = delete_op("Delete a notification channel", "channel");

  paths["/api/v1/maintenance"]["get"] = list_op("List maintenance windows", window_list_params, "MaintenanceWindow");
  paths["/api/v1/maintenance"]["post"] = write_op("Schedule a maintenance window", "MaintenanceInput",
                                                  "maintenance window", "201", json::object());
  paths["/api/v1/maintenance/{id}"]["get"] = get_op("One maintenance window", "MaintenanceWindow", "maintenance window");
  paths["/api/v1/maintenance/{id}"]["delete"] = delete_op("Cancel a maintenance window", "maintenance window");

  paths["/api/v1/status-pages"]["get"] = list_op("List status pages", list_params, "StatusPage");
  paths["/api/v1/status-pages"]["post"] =
      write_op("Create a status page, public at /status/<slug>", "StatusPageInput", "status page", "201",
               {{"409", "the slug is taken, or the plan's status pages are used up"}});
  paths["/api/v1/status-pages/{id}"]["get"] = get_op("One status page", "StatusPage", "status page");
  paths["/api/v1/status-pages/{id}"]["patch"] =
      write_op("Change a status page: the fields given replace the current ones", "StatusPagePatch", "status page",
               "200", {{"409", "the slug is taken"}});
  paths["/api/v1/status-pages/{id}"]["delete"] = delete_op("Delete a status page", "status page");
}

}  // namespace kw::gateway
