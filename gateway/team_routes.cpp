// The team of a tenant: its members (logins with a role) and its API keys.
//
// A member is two things kept in step: a login (a `users` row, the gateway's
// own state, with the argon2id hash) and a membership in the tenant's
// aggregate (member_added), which alone grants a role. Adding claims the
// email first, then sends add_member, and takes the login back when the
// tenant refuses; removing sends remove_member, then drops the login so the
// email is free again. Roles are re-read from the tenant on every request,
// so a removed member's tokens stop working at once.
//
// An API key is shown once, when it is made: the tenant keeps only its
// SHA-256, and the list (from the `api_keys` read model) never shows it.
#include <pqxx/pqxx>

#include "actors/common/roles.hpp"
#include "actors/host/node.hpp"
#include "gateway/api_context.hpp"
#include "gateway/openapi_parts.hpp"
#include "gateway/passwords.hpp"
#include "gateway/pg_pool.hpp"
#include "gateway/tokens.hpp"

namespace kw::gateway {
namespace {

const char* const role_rule = "one of owner, admin, member, viewer, auditor";

// ---- members

http_response list_members(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::read), [&](const caller& c) {
    json details = json::array();
    const page pg = page_of(req, details);
    cx.check_query(req, {"limit", "cursor"}, details);
    if (!details.empty())
      return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json items = json::array();
    bool more = false;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params("SELECT user_id, email, role, " + rfc3339_sql("added_at") +
                                    " FROM members WHERE user_id > $1 ORDER BY user_id LIMIT $2",
                                pg.after, pg.limit + 1);
      for (const auto& r : rows) {
        if (int(items.size()) == pg.limit) {
          more = true;
          break;
        }
        items.push_back({{"user_id", r[0].c_str()},
                         {"email", r[1].c_str()},
                         {"role", r[2].c_str()},
                         {"added_at", r[3].c_str()}});
      }
    });
    if (!st) return from_error(st.err(), req);
    json out{{"items", items}, {"next_cursor", more ? json(to_cursor(items.back()["user_id"])) : json()}};
    return fresh_or_stale(out, fresh);
  });
}

http_response add_member(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::manage_members), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    json details = json::array();
    string_fields(b, {"email", "role", "password"}, {}, details);
    if (!details.empty()) return invalid(req, details);
    const std::string email = lower(b["email"].get<std::string>());
    const std::string role = b["role"];
    const std::string password = b["password"];
    // The sign-up rules (api.cpp), so every login is held to the same ones.
    login_rules(email, "email", password, "password", details);
    if (!parse_role(role)) details.push_back({{"field", "role"}, {"message", role_rule}});
    if (!details.empty()) return invalid(req, details);
    auto hash = hash_password(password, cx.o.cost);
    if (!hash) return from_error(hash.err(), req);
    // With an Idempotency-Key the id comes from it, so a retry finds the
    // login its first attempt made.
    const std::string user_id = cx.object_id("u_", req, c);
    // The email is claimed before the tenant hears of the member, so two
    // requests cannot both get it.
    bool taken = false;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto r = w.exec_params("INSERT INTO users (user_id, email, tenant_id, password_hash) VALUES ($1, $2, $3, $4) "
                             "ON CONFLICT (email) DO NOTHING",
                             user_id, email, c.tenant, *hash);
      taken = r.affected_rows() == 0;
      // A retry (after a timeout, a lost answer, a restart) of the request
      // that claimed it: it goes on to the tenant, which answers the first
      // outcome, or adds the member if the first attempt never reached it.
      if (taken && req.header("idempotency-key"))
        taken = w.exec_params("SELECT 1 FROM users WHERE email = $1 AND user_id = $2 AND tenant_id = $3", email,
                              user_id, c.tenant)
                    .empty();
    });
    if (!st) return from_error(st.err(), req);
    if (taken) return http_response::error(409, "conflict", "this email is already registered", req.request_id);
    auto reply = cx.n.execute(tenant::command{cx.meta_for(req, c), tenant::add_member{user_id, email, role}},
                              tenant_id{c.tenant});
    if (!reply) {
      // The tenant refused: the login it would have had goes again. Not on
      // an unknown outcome (the member may have been added): the login stays
      // for the retry.
      const auto code = reply.err().code;
      if (code != errc::unavailable && code != errc::timeout)
        (void)cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
          w.exec_params("DELETE FROM users WHERE user_id = $1", user_id);
        });
      return from_error(reply.err(), req);
    }
    auto out = write_reply(*reply);
    out["user_id"] = user_id;
    auto res = http_response::json(201, out);
    res.set_header("Location", "/api/v1/members/" + user_id);
    return res;
  });
}

http_response change_role(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::manage_members), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    json details = json::array();
    string_fields(b, {"role"}, {}, details);
    if (details.empty() && !parse_role(b["role"].get<std::string>()))
      details.push_back({{"field", "role"}, {"message", role_rule}});
    if (!details.empty()) return invalid(req, details);
    auto reply = cx.n.execute(
        tenant::command{cx.meta_for(req, c), tenant::change_role{p.at("user_id"), b["role"].get<std::string>()}},
        tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    return http_response::json(200, write_reply(*reply));
  });
}

http_response remove_member(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::manage_members), [&](const caller& c) {
    if (auto bad = no_fields(req)) return *bad;
    const std::string user_id = p.at("user_id");
    auto reply = cx.n.execute(tenant::command{cx.meta_for(req, c), tenant::remove_member{user_id}},
                              tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    // The login goes with the membership (its refresh tokens cascade); only
    // a login of this tenant, never a platform admin's.
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      w.exec_params("DELETE FROM users WHERE user_id = $1 AND tenant_id = $2 AND NOT platform_admin", user_id,
                    c.tenant);
    });
    if (!st) return from_error(st.err(), req);
    return http_response::json(200, write_reply(*reply));
  });
}

// ---- API keys

http_response list_api_keys(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::manage_api_keys), [&](const caller& c) {
    json details = json::array();
    const page pg = page_of(req, details);
    cx.check_query(req, {"limit", "cursor"}, details);
    if (!details.empty())
      return bad_query(req, details);
    const bool fresh = cx.wait_for(req);
    json items = json::array();
    bool more = false;
    auto st = cx.pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      // Never the hash: it is all an attacker would need to test guesses.
      auto rows = w.exec_params("SELECT key_id, name, scope, " + rfc3339_sql("created_at") + ", " +
                                    rfc3339_sql("revoked_at") +
                                    " FROM api_keys WHERE key_id > $1 ORDER BY key_id LIMIT $2",
                                pg.after, pg.limit + 1);
      for (const auto& r : rows) {
        if (int(items.size()) == pg.limit) {
          more = true;
          break;
        }
        items.push_back({{"key_id", r[0].c_str()},
                         {"name", r[1].c_str()},
                         {"scope", r[2].c_str()},
                         {"created_at", r[3].c_str()},
                         {"revoked_at", r[4].is_null() ? json() : json(r[4].c_str())}});
      }
    });
    if (!st) return from_error(st.err(), req);
    json out{{"items", items}, {"next_cursor", more ? json(to_cursor(items.back()["key_id"])) : json()}};
    return fresh_or_stale(out, fresh);
  });
}

http_response create_api_key(const api_context& cx, const http_request& req) {
  return refusal_or(cx.authorize(req, action::manage_api_keys), [&](const caller& c) {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    json details = json::array();
    string_fields(b, {"name", "scope"}, {}, details);
    if (!details.empty()) return invalid(req, details);
    const std::string name = b["name"];
    const std::string scope = b["scope"];
    if (name.find_first_not_of(" \t\r\n") == std::string::npos || name.size() > 200)
      details.push_back({{"field", "name"}, {"message", "must be 1 to 200 characters, not only blanks"}});
    if (scope != "read" && scope != "read_write")
      details.push_back({{"field", "scope"}, {"message", "one of read, read_write"}});
    if (!details.empty()) return invalid(req, details);
    // kw_<tenant>_<secret>: the gateway finds the tenant from the key itself
    // (tenant ids have no '_'); 32 random bytes make it unguessable.
    const std::string key = "kw_" + c.tenant + "_" + random_hex(32);
    const std::string key_id = cx.object_id("k_", req, c);
    auto reply = cx.n.execute(
        tenant::command{cx.meta_for(req, c), tenant::create_api_key{key_id, name, sha256_of(key), scope}},
        tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    auto out = write_reply(*reply);
    // A retry under the same Idempotency-Key: the tenant kept the first
    // request's key, which cannot be shown again (this one was never
    // stored); its id, derived from the Idempotency-Key, names it so it can
    // be revoked.
    out["key_id"] = key_id;
    if (reply->duplicate) return http_response::json(200, out);
    out["key"] = key;
    out["name"] = name;
    out["scope"] = scope;
    auto res = http_response::json(201, out);
    res.set_header("Cache-Control", "no-store");
    return res;
  });
}

http_response revoke_api_key(const api_context& cx, const http_request& req, const path_params& p) {
  return refusal_or(cx.authorize(req, action::manage_api_keys), [&](const caller& c) {
    if (auto bad = no_fields(req)) return *bad;
    auto reply = cx.n.execute(tenant::command{cx.meta_for(req, c), tenant::revoke_api_key{p.at("id")}},
                              tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    return http_response::json(200, write_reply(*reply));
  });
}

}  // namespace

void add_team_routes(router& r, const api_context& cx) {
  const auto* c = &cx;
  r.add("GET", "/api/v1/members", [c](const http_request& q, const path_params&) { return list_members(*c, q); });
  r.add("POST", "/api/v1/members", [c](const http_request& q, const path_params&) { return add_member(*c, q); });
  r.add("PATCH", "/api/v1/members/{user_id}",
        [c](const http_request& q, const path_params& p) { return change_role(*c, q, p); });
  r.add("DELETE", "/api/v1/members/{user_id}",
        [c](const http_request& q, const path_params& p) { return remove_member(*c, q, p); });
  r.add("GET", "/api/v1/api-keys", [c](const http_request& q, const path_params&) { return list_api_keys(*c, q); });
  r.add("POST", "/api/v1/api-keys", [c](const http_request& q, const path_params&) { return create_api_key(*c, q); });
  r.add("DELETE", "/api/v1/api-keys/{id}",
        [c](const http_request& q, const path_params& p) { return revoke_api_key(*c, q, p); });
}

void describe_team_routes(json& paths, json& schemas) {
  using namespace oa;
  const json role = {{"type", "string"}, {"enum", {"owner", "admin", "member", "viewer", "auditor"}}};
  const json scope = {{"type", "string"}, {"enum", {"read", "read_write"}}};
  schemas["Member"] = {{"type", "object"},
                       {"properties",
                        {{"user_id", {{"type", "string"}}},
                         {"email", {{"type", "string"}}},
                         {"role", role},
                         {"added_at", {{"type", "string"}, {"format", "date-time"}}}}}};
  schemas["MemberInput"] = {{"type", "object"},
                            {"additionalProperties", false},
                            {"required", {"email", "role", "password"}},
                            {"properties",
                             {{"email", {{"type", "string"}, {"maxLength", 254}}},
                              {"role", role},
                              {"password", {{"type", "string"}, {"minLength", 10}, {"maxLength", 256}}}}}};
  schemas["ApiKey"] = {{"type", "object"},
                       {"properties",
                        {{"key_id", {{"type", "string"}}},
                         {"name", {{"type", "string"}}},
                         {"scope", scope},
                         {"created_at", {{"type", "string"}, {"format", "date-time"}}},
                         {"revoked_at", {{"type", "string"}, {"format", "date-time"}, {"nullable", true}}}}}};
  schemas["ApiKeyInput"] = {{"type", "object"},
                            {"additionalProperties", false},
                            {"required", {"name", "scope"}},
                            {"properties", {{"name", {{"type", "string"}, {"maxLength", 200}}}, {"scope", scope}}}};
  json list_params = wait_params();
  for (auto& p : page_params()) list_params.push_back(p);
  const json user_id = json::array({path_param("user_id")});
  const json key_id = json::array({path_param("id")});

  paths["/api/v1/members"]["get"] = secured({{"summary", "List the tenant's members"},
                                             {"parameters", list_params},
                                             {"responses",
                                              {{"200", ok("a page", page_of(ref("Member")))},
                                               {"422", error_response("bad query parameters")}}}});
  paths["/api/v1/members"]["post"] = secured(
      {{"summary", "Add a member: a login with this email and password, and its role in the tenant"},
       {"requestBody", json_body(ref("MemberInput"))},
       {"responses",
        {{"201", ok("the member's user_id and the events' offsets", write_reply())},
         {"403", error_response("the role may not (only owners make owners); tenant suspended")},
         {"409", error_response("the email is already registered; the plan's user quota is reached")},
         {"422", error_response("invalid fields")}}}});
  paths["/api/v1/members/{user_id}"]["patch"] = secured(
      {{"summary", "Change a member's role"},
       {"parameters", user_id},
       {"requestBody",
        json_body({{"type", "object"},
                   {"additionalProperties", false},
                   {"required", {"role"}},
                   {"properties", {{"role", role}}}})},
       {"responses",
        {{"200", ok("the events' offsets", write_reply())},
         {"403", error_response("the role may not (only owners grant or take the owner role)")},
         {"404", error_response("no such member")},
         {"409", error_response("the member has this role already; the last owner")},
         {"422", error_response("invalid fields")}}}});
  paths["/api/v1/members/{user_id}"]["delete"] = secured(
      {{"summary", "Remove a member: the membership and the login"},
       {"parameters", user_id},
       {"responses",
        {{"200", ok("the events' offsets", write_reply())},
         {"403", error_response("the role may not (only owners remove owners)")},
         {"404", error_response("no such member")},
         {"409", error_response("the last owner")}}}});
  paths["/api/v1/api-keys"]["get"] = secured({{"summary", "List the tenant's API keys (never the keys themselves)"},
                                              {"parameters", list_params},
                                              {"responses",
                                               {{"200", ok("a page", page_of(ref("ApiKey")))},
                                                {"422", error_response("bad query parameters")}}}});
  paths["/api/v1/api-keys"]["post"] = secured(
      {{"summary", "Create an API key; the answer is the only time the key is shown"},
       {"requestBody", json_body(ref("ApiKeyInput"))},
       {"responses",
        {{"201", ok("key_id, key, name, scope and the events' offsets", write_reply())},
         {"200", ok("a retry under the same Idempotency-Key: duplicate, its key_id, and no key (it is shown once)",
                    write_reply())},
         {"422", error_response("invalid fields")}}}});
  paths["/api/v1/api-keys/{id}"]["delete"] =
      secured({{"summary", "Revoke an API key"},
               {"parameters", key_id},
               {"responses",
                {{"200", ok("the events' offsets", write_reply())},
                 {"404", error_response("no such API key")},
                 {"409", error_response("already revoked")}}}});
}

}  // namespace kw::gateway
