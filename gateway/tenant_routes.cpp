// Tenants: the caller's own (read, rename, change plan, delete) and, for
// platform admins, every tenant (create with its owner, list, read, suspend,
// activate, delete).
//
// Writes are commands to the tenant's actor, which decides them (suspend and
// activate are the platform's alone). Reads come from the `tenants` read
// model: the caller's own under row-level security; the platform's list
// through platform_tenants() (0005), the one way across tenants, which the
// gateway calls only after authorize() granted the platform action.
//
// A tenant made here is made as sign-up makes one (api.cpp): its owner's
// login is claimed first, then create_tenant is sent, and the login is taken
// back if the tenant is refused. A deleted tenant's logins go too, so their
// emails are free again; nobody can log in to a deleted tenant anyway.
#include <pqxx/pqxx>

#include "actors/common/validation.hpp"
#include "actors/host/node.hpp"
#include "gateway/api_context.hpp"
#include "gateway/openapi_parts.hpp"
#include "gateway/passwords.hpp"
#include "gateway/pg_pool.hpp"
#include "gateway/tokens.hpp"

namespace kw::gateway {
namespace {

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// A new tenant's id: the name's letters and digits, runs of anything else
// as one '-', cut to 24 characters, then '-' and six random hex digits so
// that names may repeat. Never a '_' (API keys are kw_<tenant>_<secret>).
std::string new_tenant_id(const std::string& name) {
  std::string id;
  bool gap = false;
  for (char ch : lower(name)) {
    if (id.size() >= 24) break;
    const bool keep = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
    if (!keep) {
      gap = !id.empty();
      continue;
    }
    if (gap) id += '-';
    gap = false;
    id += ch;
  }
  if (id.size() > 24) id.resize(24);
  while (!id.empty() && id.back() == '-') id.pop_back();
  if (id.empty()) id = "tenant";
  return id + "-" + random_hex(3);
}

const std::string& tenant_columns() {
  static const std::string cols = "tenant_id, name, plan, status, " + rfc3339_sql("created_at") + " AS created_s, " +
                                  rfc3339_sql("updated_at") + " AS updated_s";
  return cols;
}

json tenant_json(const pqxx::row& r) {
  return {{"tenant_id", r["tenant_id"].c_str()}, {"name", r["name"].c_str()},
          {"plan", r["plan"].c_str()},           {"status", r["status"].c_str()},
          {"created_at", r["created_s"].c_str()}, {"updated_at", r["updated_s"].c_str()}};
}

// One tenant from the read model, null when it has none (yet).
result<json> read_tenant(const api_context& cx, const std::string& id) {
  json item;
  auto st = cx.pool.with_tenant(id, [&](pqxx::transaction_base& w) {
    auto rows = w.exec_params("SELECT " + tenant_columns() + " FROM tenants WHERE tenant_id = $1", id);
    if (!rows.empty()) item = tenant_json(rows[0]);
  });
  if (!st) return st.err();
  return item;
}

http_response answer_read(const api_context& cx, const http_request& req, const std::string& id) {
  json details = json::array();
  cx.check_query(req, {}, details);
  if (!details.empty()) return bad_query(req, details);
  const bool fresh = cx.wait_for(req);
  auto item = read_tenant(cx, id);
  if (!item) return from_error(item.err(), req);
  if (item->is_null()) return not_found(req, "tenant " + id);
  return fresh_or_stale(*item, fresh);
}

// Drops every login of a tenant that is gone (refresh tokens cascade).
status drop_logins(const api_context& cx, const std::string& tenant) {
  return cx.pool.with_tenant(tenant, [&](pqxx::transaction_base& w) {
    w.exec_params("DELETE FROM users WHERE tenant_id = $1 AND NOT platform_admin", tenant);
  });
}

http_response delete_and_drop_logins(const api_context& cx, const http_request& req, const caller& c,
                                     const std::string& tenant) {
  if (auto bad = no_fields(req)) return *bad;
  auto reply = cx.n.execute(tenant::command{cx.meta_for(req, c), tenant::delete_tenant{}}, tenant_id{tenant});
  if (!reply) return from_error(reply.err(), req);
  if (auto st = drop_logins(cx, tenant); !st) return from_error(st.err(), req);
  return http_response::json(200, write_reply(*reply));
}

// ---- the caller's own tenant

http_response get_own_tenant(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) { return answer_read(cx, req, c.tenant); });
}

// PATCH: name, plan or both, in one command: what differs changes, both or
// neither (a plan the tenant outgrew refuses the rename with it); nothing
// that differs is a 409.
http_response update_own_tenant(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::manage_tenant), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    json details = json::array();
    string_fields(b, {}, {"name", "plan"}, details);
    if (!details.empty()) return invalid(req, details);
    if (!b.contains("name") && !b.contains("plan"))
      return invalid(req, json::array({{{"field", ""}, {"message", "give name, plan or both"}}}));
    if (b.contains("name")) {
      const std::string name = b["name"];
      if (blank(name) || name.size() > validation::max_name_len)
        details.push_back({{"field", "name"}, {"message", "must be 1 to 200 characters, not only blanks"}});
    }
    if (b.contains("plan") && !cx.o.plans.find(b["plan"].get<std::string>()))
      details.push_back({{"field", "plan"}, {"message", "no such plan"}});
    if (!details.empty()) return invalid(req, details);
    tenant::update_tenant u;
    if (b.contains("name")) u.name = b["name"].get<std::string>();
    if (b.contains("plan")) u.plan = b["plan"].get<std::string>();
    auto reply = cx.n.execute(tenant::command{cx.meta_for(req, c), u}, tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    return http_response::json(200, write_reply(*reply));
  });
}

http_response delete_own_tenant(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::manage_tenant),
                    [&](const caller& c) { return delete_and_drop_logins(cx, req, c, c.tenant); });
}

// ---- platform admins

// Ids in paths are checked before any actor is asked about them: an id no
// tenant can have is simply unknown.
bool plausible_id(const std::string& id) { return validation::id("id", id).ok(); }

http_response list_tenants(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::platform), [&](const caller&) {
    json details = json::array();
    const page pg = page_of(req, details);
    const std::string status = req.query.count("status") ? req.query.at("status") : "";
    if (!status.empty() && status != "active" && status != "suspended" && status != "deleted")
      details.push_back({{"field", "status"}, {"message", "one of active, suspended, deleted"}});
    cx.check_query(req, {"limit", "cursor", "status"}, details);
    if (!details.empty())
      return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json items = json::array();
    bool more = false;
    auto st = cx.pool.with_tenant("", [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params("SELECT " + tenant_columns() + " FROM platform_tenants($1, $2, $3)", pg.after, status,
                                pg.limit + 1);
      for (const auto& r : rows) {
        if (int(items.size()) == pg.limit) {
          more = true;
          break;
        }
        items.push_back(tenant_json(r));
      }
    });
    if (!st) return from_error(st.err(), req);
    json out{{"items", items}, {"next_cursor", more ? json(to_cursor(items.back()["tenant_id"])) : json()}};
    return fresh_or_stale(out, fresh);
  });
}

http_response create_tenant(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::platform), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    json details = json::array();
    string_fields(b, {"name", "owner_email", "owner_password"}, {"plan"}, details);
    if (!details.empty()) return invalid(req, details);
    const std::string name = b["name"];
    const std::string plan = b.value("plan", cx.o.default_plan);
    const std::string email = lower(b["owner_email"].get<std::string>());
    const std::string password = b["owner_password"];
    if (blank(name) || name.size() > validation::max_name_len)
      details.push_back({{"field", "name"}, {"message", "must be 1 to 200 characters, not only blanks"}});
    if (!cx.o.plans.find(plan)) details.push_back({{"field", "plan"}, {"message", "no such plan"}});
    login_rules(email, "owner_email", password, "owner_password", details);
    if (!details.empty()) return invalid(req, details);
    auto hash = hash_password(password, cx.o.cost);
    if (!hash) return from_error(hash.err(), req);
    const std::string owner_id = "u_" + random_hex(8);
    const std::string tenant = new_tenant_id(name);
    bool taken = false;
    auto st = cx.pool.with_tenant(tenant, [&](pqxx::transaction_base& w) {
      auto r = w.exec_params("INSERT INTO users (user_id, email, tenant_id, password_hash) VALUES ($1, $2, $3, $4) "
                             "ON CONFLICT (email) DO NOTHING",
                             owner_id, email, tenant, *hash);
      taken = r.affected_rows() == 0;
    });
    if (!st) return from_error(st.err(), req);
    if (taken) return http_response::error(409, "conflict", "this email is already registered", req.request_id);
    // The platform admin is the command's actor: the audit log says who made it.
    auto reply = cx.n.execute(tenant::command{cx.meta_for(req, c), tenant::create_tenant{name, plan, owner_id, email}},
                              tenant_id{tenant});
    if (!reply) {
      (void)cx.pool.with_tenant(tenant, [&](pqxx::transaction_base& w) {
        w.exec_params("DELETE FROM users WHERE user_id = $1", owner_id);
      });
      return from_error(reply.err(), req);
    }
    auto out = write_reply(*reply);
    out["tenant_id"] = tenant;
    out["owner_user_id"] = owner_id;
    auto res = http_response::json(201, out);
    res.set_header("Location", "/api/v1/tenants/" + tenant);
    return res;
  });
}

http_response get_tenant(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::platform), [&](const caller&) {
    if (!plausible_id(p.at("id"))) return not_found(req, "tenant " + p.at("id"));
    return answer_read(cx, req, p.at("id"));
  });
}

http_response suspend_tenant(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::platform), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    json details = json::array();
    string_fields(b, {"reason"}, {}, details);
    if (details.empty() && b["reason"].get<std::string>().size() > validation::max_reason_len)
      details.push_back({{"field", "reason"}, {"message", "at most 500 bytes"}});
    if (!details.empty()) return invalid(req, details);
    if (!plausible_id(p.at("id"))) return not_found(req, "tenant " + p.at("id"));
    auto reply = cx.n.execute(tenant::command{cx.meta_for(req, c), tenant::suspend_tenant{b["reason"]}},
                              tenant_id{p.at("id")});
    if (!reply) return from_error(reply.err(), req);
    return http_response::json(200, write_reply(*reply));
  });
}

http_response activate_tenant(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::platform), [&](const caller& c) {
    if (auto bad = no_fields(req)) return *bad;
    if (!plausible_id(p.at("id"))) return not_found(req, "tenant " + p.at("id"));
    auto reply = cx.n.execute(tenant::command{cx.meta_for(req, c), tenant::activate_tenant{}}, tenant_id{p.at("id")});
    if (!reply) return from_error(reply.err(), req);
    return http_response::json(200, write_reply(*reply));
  });
}

http_response delete_tenant(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::platform), [&](const caller& c) {
    if (!plausible_id(p.at("id"))) {
      if (auto bad = no_fields(req)) return *bad;
      return not_found(req, "tenant " + p.at("id"));
    }
    return delete_and_drop_logins(cx, req, c, p.at("id"));
  });
}

}  // namespace

void add_tenant_routes(router& r, const api_context& cx) {
  const auto* c = &cx;
  r.add("GET", "/api/v1/tenant", [c](const http_request& q, const path_params&) { return get_own_tenant(*c, q); });
  r.add("PATCH", "/api/v1/tenant",
        [c](const http_request& q, const path_params&) { return update_own_tenant(*c, q); });
  r.add("DELETE", "/api/v1/tenant",
        [c](const http_request& q, const path_params&) { return delete_own_tenant(*c, q); });
  r.add("GET", "/api/v1/tenants", [c](const http_request& q, const path_params&) { return list_tenants(*c, q); });
  r.add("POST", "/api/v1/tenants", [c](const http_request& q, const path_params&) { return create_tenant(*c, q); });
  r.add("GET", "/api/v1/tenants/{id}",
        [c](const http_request& q, const path_params& p) { return get_tenant(*c, q, p); });
  r.add("POST", "/api/v1/tenants/{id}/suspend",
        [c](const http_request& q, const path_params& p) { return suspend_tenant(*c, q, p); });
  r.add("POST", "/api/v1/tenants/{id}/activate",
        [c](const http_request& q, const path_params& p) { return activate_tenant(*c, q, p); });
  r.add("DELETE", "/api/v1/tenants/{id}",
        [c](const http_request& q, const path_params& p) { return delete_tenant(*c, q, p); });
}

void describe_tenant_routes(json& paths, json& schemas) {
  using namespace oa;
  const json status = {{"type", "string"}, {"enum", {"active", "suspended", "deleted"}}};
  schemas["Tenant"] = {{"type", "object"},
                       {"properties",
                        {{"tenant_id", {{"type", "string"}}},
                         {"name", {{"type", "string"}}},
                         {"plan", {{"type", "string"}}},
                         {"status", status},
                         {"created_at", {{"type", "string"}, {"format", "date-time"}}},
                         {"updated_at", {{"type", "string"}, {"format", "date-time"}}}}}};
  schemas["TenantInput"] = {
      {"type", "object"},
      {"additionalProperties", false},
      {"required", {"name", "owner_email", "owner_password"}},
      {"properties",
       {{"name", {{"type", "string"}, {"maxLength", 200}}},
        {"plan", {{"type", "string"}, {"description", "a plan's name; the default plan when absent"}}},
        {"owner_email", {{"type", "string"}, {"maxLength", 254}}},
        {"owner_password", {{"type", "string"}, {"minLength", 10}, {"maxLength", 256}}}}}};
  json list_params = wait_params();
  for (auto& p : page_params()) list_params.push_back(p);
  list_params.push_back(query_param("status", status));
  json get_params = wait_params();
  get_params.push_back(path_param("id"));
  const json id = json::array({path_param("id")});
  const json platform_only = error_response("only platform admins");

  paths["/api/v1/tenant"]["get"] =
      secured({{"summary", "The caller's tenant"},
               {"parameters", wait_params()},
               {"responses",
                {{"200", ok("the tenant", ref("Tenant"))}, {"404", error_response("not in the read model yet")}}}});
  paths["/api/v1/tenant"]["patch"] =
      secured({{"summary", "Rename the caller's tenant or change its plan (owners)"},
               {"description", "Name and plan given together change together or not at all."},
               {"requestBody",
                json_body({{"type", "object"},
                           {"additionalProperties", false},
                           {"properties",
                            {{"name", {{"type", "string"}, {"maxLength", 200}}}, {"plan", {{"type", "string"}}}}}})},
               {"responses",
                {{"200", ok("the events' offsets", write_reply())},
                 {"409", error_response("nothing changes; the new plan's quotas are exceeded")},
                 {"422", error_response("invalid fields")}}}});
  paths["/api/v1/tenant"]["delete"] =
      secured({{"summary", "Delete the caller's tenant, its monitors and its logins (owners)"},
               {"responses", {{"200", ok("the events' offsets", write_reply())}}}});
  paths["/api/v1/tenants"]["get"] = secured({{"summary", "List every tenant (platform admins)"},
                                             {"parameters", list_params},
                                             {"responses",
                                              {{"200", ok("a page", page_of(ref("Tenant")))},
                                               {"403", platform_only},
                                               {"422", error_response("bad query parameters")}}}});
  paths["/api/v1/tenants"]["post"] = secured(
      {{"summary", "Create a tenant and its owner's login (platform admins)"},
       {"requestBody", json_body(ref("TenantInput"))},
       {"responses",
        {{"201", ok("tenant_id, owner_user_id and the events' offsets", write_reply())},
         {"403", platform_only},
         {"409", error_response("the owner's email is already registered")},
         {"422", error_response("invalid fields")}}}});
  paths["/api/v1/tenants/{id}"]["get"] = secured({{"summary", "One tenant (platform admins)"},
                                                  {"parameters", get_params},
                                                  {"responses",
                                                   {{"200", ok("the tenant", ref("Tenant"))},
                                                    {"403", platform_only},
                                                    {"404", error_response("no such tenant")}}}});
  paths["/api/v1/tenants/{id}/suspend"]["post"] = secured(
      {{"summary", "Suspend a tenant: its callers may only read usage and invoices (platform admins)"},
       {"parameters", id},
       {"requestBody",
        json_body({{"type", "object"},
                   {"additionalProperties", false},
                   {"required", {"reason"}},
                   {"properties", {{"reason", {{"type", "string"}, {"maxLength", 500}}}}}})},
       {"responses",
        {{"200", ok("the events' offsets", write_reply())},
         {"403", error_response("only platform admins; the tenant is suspended already (code suspended)")},
         {"404", error_response("no such tenant")},
         {"422", error_response("invalid fields")}}}});
  paths["/api/v1/tenants/{id}/activate"]["post"] =
      secured({{"summary", "Activate a suspended tenant (platform admins)"},
               {"parameters", id},
               {"responses",
                {{"200", ok("the events' offsets", write_reply())},
                 {"403", platform_only},
                 {"404", error_response("no such tenant")},
                 {"409", error_response("already active")}}}});
  paths["/api/v1/tenants/{id}"]["delete"] =
      secured({{"summary", "Delete a tenant, its monitors and its logins (platform admins)"},
               {"parameters", id},
               {"responses",
                {{"200", ok("the events' offsets", write_reply())},
                 {"403", platform_only},
                 {"404", error_response("no such tenant")}}}});
}

}  // namespace kw::gateway
