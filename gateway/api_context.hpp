// What every group of API v1 routes shares (internal to the gateway): who is
// calling and what they may do, the node and the PostgreSQL pool, and the
// helpers that keep every route's answers alike (one error shape, strict
// bodies, read-your-writes, cursors).
//
// A route group is a pair of functions in its own file:
//   void add_<group>_routes(router&, const api_context&);
//   void describe_<group>_routes(nlohmann::json& paths, nlohmann::json& schemas);
// api.cpp registers every group; openapi.cpp describes every group, and a
// test checks that the two agree.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "events/event.hpp"
#include "events/result.hpp"
#include "gateway/api.hpp"
#include "gateway/http_message.hpp"
#include "gateway/router.hpp"

namespace kw {
struct command_reply;
}

namespace kw::gateway {

using json = nlohmann::json;
class pg_pool;

// What a route does, as the role table in the README names it. Each route
// asks authorize() for exactly one.
enum class action {
  read,                 // the tenant's monitors, heartbeats, stats, incidents, channels,
                        // maintenance, status pages and members
  read_billing,         // usage and invoices (the only thing a suspended tenant may do)
  read_audit,           // the audit log
  manage_monitors,      // create, update, pause, resume, delete monitors
  manage_maintenance,   // schedule and cancel maintenance windows
  manage_status_pages,  // create, update, delete status pages
  manage_channels,      // create, update, delete notification channels
  manage_api_keys,      // list, create, revoke API keys
  manage_members,       // add members, change roles, remove members
  manage_tenant,        // the caller's own tenant: rename, change plan, delete
  platform,             // tenants across the platform: create, list, suspend, activate, delete
};

// The caller kinds of the role table's columns: a tenant role ("owner",
// "admin", "member", "viewer", "auditor"), an API key by scope ("key:read",
// "key:read_write"), or "platform_admin".
bool may(const std::string& who, action a) noexcept;
const char* to_string(action a) noexcept;

// Who is calling, as authorize() established it.
struct caller {
  std::string kind;    // "user" | "api_key" | "platform" (a platform admin)
  std::string id;      // the user id, or the API key id
  std::string tenant;  // the tenant acted on; empty only for a platform admin on a platform route
  std::string who;     // the role table's column (see may())
  std::string jti;     // access tokens only
  std::int64_t expires_at = 0;
};

class api_context {
public:
  api_context(node& n, pg_pool& pool, const api_options& o);
  virtual ~api_context() = default;

  node& n;
  pg_pool& pool;
  const api_options& o;

  // Authenticates the request (a bearer access token, or an API key
  // "kw_<tenant>_<random>" as the bearer) and checks that the caller may do
  // `a` on the tenant acted on. The tenant is the token's; a platform admin
  // names it with X-Tenant-ID. Refusals: 401 (no, bad, expired or revoked
  // credentials), 404 (X-Tenant-ID of another or unknown tenant), 400 (a
  // platform admin on a tenant route without X-Tenant-ID), 403 (the role
  // may not; a suspended tenant, except for read_billing), 429 (the
  // tenant's rate). Tenant callers are rate-limited and counted.
  virtual std::variant<caller, http_response> authorize(const http_request& req, action a) const = 0;

  // The metadata of a command sent for `c` (idempotency key from the
  // Idempotency-Key header, actor with the client's IP, correlation id =
  // request id).
  command_meta meta_for(const http_request& req, const caller& c) const;

  // The id of a new object (monitor, channel, window, page): `prefix` and 16
  // hex digits. With an Idempotency-Key it is derived from the key (and the
  // tenant), so a retried create names the object the first attempt made
  // (the tenant replays its reply); without one it is random.
  static std::string object_id(const std::string& prefix, const http_request& req, const caller& c);

  // Read-your-writes: `?wait_for=<partition>:<offset>` (as a write answered)
  // holds the read until the dashboard projection has applied that offset
  // (`wait_ms`, default 2000, at most 10000). False when it has not in time
  // (the route still answers, with X-Keepwatch-Stale: true). It waits on
  // the offsets this node's projections announce as they commit
  // (projections/offsets_reached.hpp), reading PostgreSQL at most at the
  // start and at the deadline. Routes call check_query first, which refuses
  // a malformed wait_for or wait_ms, or a partition the log does not have.
  bool wait_for(const http_request& req) const;

  // unknown_query (below), and a detail for a wait_for that is not
  // "<partition>:<offset>" with a partition of the log and an offset of 0 or
  // more, or a wait_ms that is not an integer from 0 to 10000.
  void check_query(const http_request& req, const std::set<std::string>& known, json& details) const;
};

// ---- answers

// The answer of a write: {"event_ids","offsets","partition","duplicate"}.
json write_reply(const command_reply& r);
// A rejected command or a failed read as its status (invalid 422,
// not_found 404, conflict and quota_exceeded 409, forbidden and suspended
// 403, unavailable and timeout 503, anything else a bare 500).
http_response from_error(const error& e, const http_request& req);
// 422 with field-level details: [{"field","message"}].
http_response invalid(const http_request& req, const json& details);
http_response not_found(const http_request& req, const std::string& what);
// 422 for bad query parameters, with their details.
http_response bad_query(const http_request& req, const json& details);
// 200 with `body`, marked X-Keepwatch-Stale: true when a read-your-writes
// wait ran out (`fresh` false).
http_response fresh_or_stale(const json& body, bool fresh);

// `f(caller)` when authorize() gave a caller, else its refusal:
//   return refusal_or(cx.authorize(req, action::read), [&](const caller& c) { ... });
template <class F>
http_response refusal_or(std::variant<caller, http_response>&& who, F&& f) {
  if (auto* r = std::get_if<http_response>(&who)) return *r;
  return f(std::get<caller>(who));
}

// True when If-None-Match lists `etag` (weak comparison, as for GET) or is "*".
bool if_none_match(const http_request& req, const std::string& etag);

// ---- request bodies and queries

// The body of a command that takes no arguments: none, or an object without
// fields; the refusal otherwise.
std::optional<http_response> no_fields(const http_request& req);
// The rules every login is held to (sign-up, members, a platform admin's new
// tenant): an email address and a password of 10 to 256 characters; field
// errors under the given names.
void login_rules(const std::string& email, const std::string& email_field, const std::string& password,
                 const std::string& password_field, json& details);

// The JSON object of a request body, or the response refusing it: another
// content type (415), bad UTF-8 or malformed JSON (400), not an object (422).
std::optional<http_response> body_object(const http_request& req, json& out);
// Exactly the allowed fields, the required ones present, each a string;
// appends field errors to `details`.
void string_fields(const json& body, const std::vector<std::string>& required,
                   const std::vector<std::string>& optional, json& details);
// Appends "unknown field" for each field of `body` not in `known`.
void unknown_fields(const json& body, const std::set<std::string>& known, json& details);
// Appends "unknown query parameter" for each parameter not in `known`
// (wait_for and wait_ms are always known), and a detail for each name or
// value that is not valid UTF-8 (it would reach SQL as a bad string).
void unknown_query(const http_request& req, const std::set<std::string>& known, json& details);

// A decimal integer that is all of `s` ('-' allowed, no '+', no spaces)
// and fits in 64 bits; nullopt otherwise.
std::optional<std::int64_t> parse_int(const std::string& s);

// A page of a list: `limit` (1..200, default 50) and an opaque `cursor`.
struct page {
  int limit = 50;
  std::string after;  // the last key of the previous page; empty for the first
};
// Reads limit and cursor, appending field errors to `details`.
page page_of(const http_request& req, json& details);
// Opaque cursors: a key, base64url. from_cursor gives "" for a bad one.
std::string to_cursor(const std::string& key);
std::string from_cursor(const std::string& cursor);

// A time from a query parameter: RFC 3339 ("2026-11-24T10:00:00Z",
// fractions and offsets allowed) or unix seconds. nullopt when absent;
// appends a field error when malformed.
std::optional<timestamp> time_param(const http_request& req, const std::string& name, json& details);
// RFC 3339 UTC with microseconds ("2026-11-24T10:00:00.000000Z").
std::string rfc3339(timestamp t);
// SQL to turn a timestamptz column into that format: rfc3339_sql("c").
std::string rfc3339_sql(const std::string& column);

std::string lower(std::string s);
timestamp now_us();
std::int64_t unix_now();

// ---- route groups (each in its own file)

void add_auth_routes(router& r, const api_context& c);
void add_monitor_routes(router& r, const api_context& c);
void add_team_routes(router& r, const api_context& c);      // members, API keys
void add_tenant_routes(router& r, const api_context& c);    // platform admins: tenants
void add_setup_routes(router& r, const api_context& c);     // channels, maintenance, status pages
void add_history_routes(router& r, const api_context& c);   // heartbeats, stats, incidents, usage, invoices, audit
void add_public_routes(router& r, const api_context& c);    // /status/<slug>, push URLs
void add_web_routes(router& r, const api_context& c);       // the dashboard app (gateway/web)
void add_audit_routes(router& r, const api_context& c);     // the audit API: the log itself, heads, proofs, state

void describe_auth_routes(json& paths, json& schemas);
void describe_monitor_routes(json& paths, json& schemas);
void describe_team_routes(json& paths, json& schemas);
void describe_tenant_routes(json& paths, json& schemas);
void describe_setup_routes(json& paths, json& schemas);
void describe_history_routes(json& paths, json& schemas);
void describe_public_routes(json& paths, json& schemas);
void describe_web_routes(json& paths, json& schemas);
void describe_audit_routes(json& paths, json& schemas);

}  // namespace kw::gateway
