// API v1 (api.hpp): authentication and monitors.
#include "gateway/api.hpp"

#include <chrono>
#include <mutex>
#include <cstring>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <sodium.h>

#include "actors/common/roles.hpp"
#include "actors/host/node.hpp"
#include "events/codec.hpp"
#include "gateway/openapi.hpp"
#include "gateway/pg_pool.hpp"
#include "gateway/rate_limiter.hpp"
#include "gateway/server.hpp"
#include "gateway/tokens.hpp"

namespace kw::gateway {
namespace {

using json = nlohmann::json;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

timestamp now_us() {
  return timestamp{std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count()};
}

int status_of(errc c) {
  switch (c) {
    case errc::invalid: return 422;
    case errc::not_found: return 404;
    case errc::conflict: return 409;
    case errc::quota_exceeded: return 409;
    case errc::forbidden: return 403;
    case errc::suspended: return 403;
    case errc::unavailable:
    case errc::timeout: return 503;
    default: return 500;
  }
}

http_response from_error(const error& e, const http_request& req) {
  const int st = status_of(e.code);
  std::string code(to_string(e.code));
  if (st >= 500 && e.code != errc::unavailable && e.code != errc::timeout)
    return http_response::error(500, "internal", "internal error", req.request_id);
  return http_response::error(st, code, e.message, req.request_id);
}

// A field-level validation failure: 422 with {"details":[{"field","message"}]}.
http_response invalid(const http_request& req, const json& details) {
  return http_response::error(422, "invalid", "the request body is not valid", req.request_id, details);
}

// The JSON object of a request body, or the response that refuses it.
// Refuses: another content type (415), bad UTF-8 or malformed JSON (400), a
// non-object (422).
std::optional<http_response> body_object(const http_request& req, json& out) {
  auto ct = req.header("content-type").value_or("");
  if (ct.rfind("application/json", 0) != 0)
    return http_response::error(415, "unsupported_media_type", "send the body as application/json",
                                req.request_id);
  if (!valid_utf8(req.body))
    return http_response::error(400, "bad_request", "the body is not valid UTF-8", req.request_id);
  out = json::parse(req.body, nullptr, false);
  if (out.is_discarded())
    return http_response::error(400, "bad_request", "the body is not valid JSON", req.request_id);
  if (!out.is_object()) return invalid(req, json::array({{{"field", ""}, {"message", "expected an object"}}}));
  return std::nullopt;
}

// Checks that `body` has exactly the allowed fields, the required ones
// present, each a string; collects field errors.
void string_fields(const json& body, const std::vector<std::string>& required,
                   const std::vector<std::string>& optional, json& details) {
  for (auto& [k, v] : body.items()) {
    const bool known = std::find(required.begin(), required.end(), k) != required.end() ||
                       std::find(optional.begin(), optional.end(), k) != optional.end();
    if (!known) {
      details.push_back({{"field", k}, {"message", "unknown field"}});
    } else if (!v.is_string()) {
      details.push_back({{"field", k}, {"message", "expected a string"}});
    }
  }
  for (auto& r : required)
    if (!body.contains(r)) details.push_back({{"field", r}, {"message", "required"}});
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A tenant id from a name: lowercase letters and digits joined by '-', plus a
// random suffix so names may repeat.
std::string tenant_id_from(const std::string& name) {
  std::string slug;
  for (char c : lower(name)) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      slug += c;
    } else if (!slug.empty() && slug.back() != '-') {
      slug += '-';
    }
    if (slug.size() >= 24) break;
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  if (slug.empty()) slug = "t";
  return slug + "-" + random_hex(3);
}

// The rate-limit decision of the request this thread is handling, set by
// authenticate() and turned into headers by api::handle (handlers run on the
// thread that called handle).
thread_local std::optional<rate_decision> current_rate;

void rate_headers(http_response& r, const rate_decision& d) {
  r.set_header("X-RateLimit-Limit", std::to_string(d.limit));
  r.set_header("X-RateLimit-Remaining", std::to_string(d.remaining));
  r.set_header("X-RateLimit-Reset", std::to_string(d.reset_s));
  if (!d.allowed) r.set_header("Retry-After", std::to_string(d.retry_after_s));
}

}  // namespace

// Who is calling, as established by authenticate().
struct caller {
  std::string user_id;
  std::string tenant;
  std::string role;
  std::string jti;
  std::int64_t expires_at = 0;
};

struct api::impl {
  node& n;
  api_options o;
  token_signer signer;
  mutable pg_pool pool;
  router r;
  mutable std::mutex revoked_mu;
  mutable std::set<std::string> revoked;  // jtis revoked by logout (also in PostgreSQL)
  mutable rate_limiter limiter;

  impl(node& nd, api_options opts)
      : n(nd),
        o(std::move(opts)),
        signer(o.jwt_key),
        pool(o.app_database_url.empty() ? app_url_from(o.database_url) : o.app_database_url, o.pool_size) {}

  // ---- authentication

  // The caller of a request, or the 401/403 that refuses it.
  std::variant<caller, http_response> authenticate(const http_request& req) const {
    auto h = req.header("authorization");
    auto unauth = [&](const std::string& why) {
      auto r = http_response::error(401, "unauthenticated", why, req.request_id);
      r.set_header("WWW-Authenticate", "Bearer");
      return r;
    };
    if (!h || h->rfind("Bearer ", 0) != 0) return unauth("send Authorization: Bearer <token>");
    auto claims = signer.verify(h->substr(7), unix_now());
    if (!claims) return unauth("invalid token");
    {
      std::lock_guard<std::mutex> lk(revoked_mu);
      if (revoked.count(claims->jti)) return unauth("invalid token");
    }
    caller c{claims->user_id, claims->tenant, claims->role, claims->jti, claims->expires_at};
    // The role as the tenant holds it now.
    auto t = n.tenant_state(tenant_id{c.tenant});
    if (!t || !t->exists || t->status == tenant::tenant_status::deleted) return unauth("invalid token");
    auto m = t->members.find(c.user_id);
    if (m == t->members.end()) return unauth("invalid token");
    c.role = std::string(to_string(m->second.role));
    const auto* p = o.plans.find(t->plan);
    current_rate = limiter.take(c.tenant, p ? p->api_rate_per_min : 60, rate_limiter::clock::now());
    if (!current_rate->allowed)
      return http_response::error(429, "rate_limited",
                                  "too many requests for this tenant's plan; retry after " +
                                      std::to_string(current_rate->retry_after_s) + " s",
                                  req.request_id);
    return c;
  }

  command_meta meta_for(const http_request& req, const std::string& user_id) const {
    command_meta m;
    m.command_id = req.header("idempotency-key").value_or(new_id());
    m.actor = actor_ref{"user", user_id, req.remote_ip};
    m.time = now_us();
    m.correlation_id = req.request_id;
    return m;
  }

  // Issues an access token and a refresh token (of `family`, new if empty).
  result<json> issue_tokens(const std::string& user_id, const std::string& tenant, const std::string& role,
                            std::string family) const {
    const auto now = unix_now();
    access_claims c{user_id, tenant, role, now, now + o.access_ttl_s, random_hex(16)};
    const std::string refresh = "kwr_" + random_hex(32);
    if (family.empty()) family = random_hex(16);
    auto st = pool.with_tenant("", [&](pqxx::transaction_base& w) {
      w.exec_params("INSERT INTO refresh_tokens (token_hash, user_id, family, expires_at) "
                    "VALUES ($1, $2, $3, to_timestamp($4))",
                    sha256_of(refresh), user_id, family, now + o.refresh_ttl_s);
    });
    if (!st) return st.err();
    return json{{"access_token", signer.issue(c)},
                {"token_type", "Bearer"},
                {"expires_in", o.access_ttl_s},
                {"refresh_token", refresh},
                {"tenant_id", tenant},
                {"user_id", user_id},
                {"role", role}};
  }

  http_response signup(const http_request& req) const {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    json details = json::array();
    string_fields(b, {"email", "password", "tenant_name"}, {}, details);
    if (!details.empty()) return invalid(req, details);
    const std::string email = lower(b["email"].get<std::string>());
    const std::string password = b["password"];
    const std::string name = b["tenant_name"];
    if (email.size() > 254 || email.find('@') == std::string::npos || email.front() == '@' ||
        email.back() == '@')
      details.push_back({{"field", "email"}, {"message", "not an email address"}});
    if (password.size() < 10 || password.size() > 256)
      details.push_back({{"field", "password"}, {"message", "must be 10 to 256 characters"}});
    if (name.empty() || name.size() > 200)
      details.push_back({{"field", "tenant_name"}, {"message", "must be 1 to 200 characters"}});
    if (!details.empty()) return invalid(req, details);
    auto hash = hash_password(password, o.cost);
    if (!hash) return from_error(hash.err(), req);
    const std::string user_id = "u_" + random_hex(8);
    const std::string tenant = tenant_id_from(name);
    // The email is claimed first, so two sign-ups cannot both get it.
    bool taken = false;
    auto st = pool.with_tenant("", [&](pqxx::transaction_base& w) {
      auto r = w.exec_params("INSERT INTO users (user_id, email, tenant_id, password_hash) VALUES ($1, $2, $3, $4) "
                             "ON CONFLICT (email) DO NOTHING",
                             user_id, email, tenant, *hash);
      taken = r.affected_rows() == 0;
    });
    if (!st) return from_error(st.err(), req);
    if (taken) return http_response::error(409, "conflict", "this email is already registered", req.request_id);
    tenant::command cmd{meta_for(req, user_id), tenant::create_tenant{name, o.default_plan, user_id, email}};
    auto reply = n.execute(std::move(cmd), tenant_id{tenant});
    if (!reply) {
      (void)pool.with_tenant("", [&](pqxx::transaction_base& w) {
        w.exec_params("DELETE FROM users WHERE user_id = $1", user_id);
      });
      return from_error(reply.err(), req);
    }
    auto tokens = issue_tokens(user_id, tenant, "owner", "");
    if (!tokens) return from_error(tokens.err(), req);
    (*tokens)["event_ids"] = reply->event_ids;
    return http_response::json(201, *tokens);
  }

  http_response login(const http_request& req) const {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    json details = json::array();
    string_fields(b, {"email", "password"}, {}, details);
    if (!details.empty()) return invalid(req, details);
    const std::string email = lower(b["email"].get<std::string>());
    std::string user_id, tenant, hash;
    auto st = pool.with_tenant("", [&](pqxx::transaction_base& w) {
      auto r = w.exec_params("SELECT user_id, coalesce(tenant_id, ''), password_hash FROM users WHERE email = $1",
                             email);
      if (r.empty()) return;
      user_id = r[0][0].c_str();
      tenant = r[0][1].c_str();
      hash = r[0][2].c_str();
    });
    if (!st) return from_error(st.err(), req);
    auto refuse = [&] {
      return http_response::error(401, "unauthenticated", "wrong email or password", req.request_id);
    };
    // Verify even for an unknown email, so timing does not tell which exist.
    static const std::string decoy = *hash_password("decoy-password", password_cost::fast);
    const bool ok = verify_password(hash.empty() ? decoy : hash, b["password"].get<std::string>());
    if (hash.empty() || !ok) return refuse();
    auto role = member_role(user_id, tenant);
    if (!role) return refuse();
    auto tokens = issue_tokens(user_id, tenant, *role, "");
    if (!tokens) return from_error(tokens.err(), req);
    return http_response::json(200, *tokens);
  }

  // The user's role in a tenant that is not deleted.
  std::optional<std::string> member_role(const std::string& user_id, const std::string& tenant) const {
    auto t = n.tenant_state(tenant_id{tenant});
    if (!t || !t->exists || t->status == tenant::tenant_status::deleted) return std::nullopt;
    auto m = t->members.find(user_id);
    if (m == t->members.end()) return std::nullopt;
    return std::string(to_string(m->second.role));
  }

  http_response refresh(const http_request& req) const {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    json details = json::array();
    string_fields(b, {"refresh_token"}, {}, details);
    if (!details.empty()) return invalid(req, details);
    const std::string h = sha256_of(b["refresh_token"].get<std::string>());
    std::string user_id, tenant, family;
    bool replayed = false;
    auto st = pool.with_tenant("", [&](pqxx::transaction_base& w) {
      auto r = w.exec_params(
          "SELECT t.user_id, coalesce(u.tenant_id, ''), t.family, t.used_at IS NOT NULL, "
          "t.revoked_at IS NULL AND t.expires_at > now() FROM refresh_tokens t JOIN users u USING (user_id) "
          "WHERE t.token_hash = $1 FOR UPDATE OF t",
          h);
      if (r.empty()) return;
      if (r[0][3].as<bool>()) {
        // A rotated token used again: someone holds a copy. End the family.
        replayed = true;
        w.exec_params("UPDATE refresh_tokens SET revoked_at = now() WHERE family = $1 AND revoked_at IS NULL",
                      r[0][2].c_str());
        return;
      }
      if (!r[0][4].as<bool>()) return;
      w.exec_params("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1", h);
      user_id = r[0][0].c_str();
      tenant = r[0][1].c_str();
      family = r[0][2].c_str();
    });
    if (!st) return from_error(st.err(), req);
    if (replayed || user_id.empty())
      return http_response::error(401, "unauthenticated", "invalid refresh token", req.request_id);
    auto role = member_role(user_id, tenant);
    if (!role) return http_response::error(401, "unauthenticated", "invalid refresh token", req.request_id);
    auto tokens = issue_tokens(user_id, tenant, *role, family);
    if (!tokens) return from_error(tokens.err(), req);
    return http_response::json(200, *tokens);
  }

  http_response logout(const http_request& req) const {
    auto who = authenticate(req);
    if (auto* r = std::get_if<http_response>(&who)) return *r;
    auto& c = std::get<caller>(who);
    std::string refresh;
    if (!req.body.empty()) {
      json b;
      if (auto bad = body_object(req, b)) return *bad;
      json details = json::array();
      string_fields(b, {}, {"refresh_token"}, details);
      if (!details.empty()) return invalid(req, details);
      refresh = b.value("refresh_token", "");
    }
    auto st = pool.with_tenant("", [&](pqxx::transaction_base& w) {
      w.exec_params("INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, to_timestamp($2)) "
                    "ON CONFLICT DO NOTHING",
                    c.jti, c.expires_at);
      if (!refresh.empty())
        w.exec_params("UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND family = "
                      "(SELECT family FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2)",
                      sha256_of(refresh), c.user_id);
    });
    if (!st) return from_error(st.err(), req);
    {
      std::lock_guard<std::mutex> lk(revoked_mu);
      revoked.insert(c.jti);
    }
    http_response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }

  http_response me(const http_request& req) const {
    auto who = authenticate(req);
    if (auto* r = std::get_if<http_response>(&who)) return *r;
    auto& c = std::get<caller>(who);
    return http_response::json(200, {{"user_id", c.user_id}, {"tenant_id", c.tenant}, {"role", c.role}});
  }

  // ---- monitors

  // The caller, or the response refusing it; tenant-scoped routes only.
  // Platform-level callers are not tenants' members: handled in a later step.
  static std::optional<http_response> refused(std::variant<caller, http_response>& who) {
    if (auto* r = std::get_if<http_response>(&who)) return *r;
    return std::nullopt;
  }

  // A monitor configuration from a request body: the defaults, overlaid by
  // the body's fields, then decoded strictly. Unknown fields and the push
  // token (the server makes it) are refused by name.
  static std::optional<json> monitor_config_from(const json& b, monitor_config& cfg, const monitor_config& base) {
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

  json write_reply(const command_reply& r) const {
    return {{"event_ids", r.event_ids}, {"offsets", r.offsets}, {"partition", r.partition},
            {"duplicate", r.duplicate}};
  }

  http_response create_monitor(const http_request& req) const {
    auto who = authenticate(req);
    if (auto r = refused(who)) return *r;
    auto& c = std::get<caller>(who);
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    monitor_config cfg;
    if (auto details = monitor_config_from(b, cfg, monitor_config{})) return invalid(req, *details);
    if (cfg.kind == monitor_kind::push) cfg.push_token = random_hex(16);
    const std::string id = "m_" + random_hex(8);
    auto reply = n.execute(tenant::command{meta_for(req, c.user_id), tenant::create_monitor{id, cfg}},
                           tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    auto out = write_reply(*reply);
    out["monitor_id"] = id;
    if (cfg.kind == monitor_kind::push) out["push_url"] = "/api/v1/push/" + cfg.push_token;
    auto res = http_response::json(201, out);
    res.set_header("Location", "/api/v1/monitors/" + id);
    return res;
  }

  http_response delete_monitor(const http_request& req, const path_params& p) const {
    auto who = authenticate(req);
    if (auto r = refused(who)) return *r;
    auto& c = std::get<caller>(who);
    auto reply = n.execute(tenant::command{meta_for(req, c.user_id), tenant::delete_monitor{p.at("id")}},
                           tenant_id{c.tenant});
    if (!reply) return from_error(reply.err(), req);
    return http_response::json(200, write_reply(*reply));
  }

  // Read-your-writes: `?wait_for=<partition>:<offset>` holds the read until
  // the dashboard projection has applied that offset of the events topic
  // (at most `wait_ms`, default 2000, max 10000); then it reads anyway and
  // says so in X-Keepwatch-Stale.
  bool wait_for(const http_request& req) const {
    auto it = req.query.find("wait_for");
    if (it == req.query.end()) return true;
    const auto colon = it->second.find(':');
    if (colon == std::string::npos) return false;
    int partition = 0;
    long long offset = 0;
    try {
      partition = std::stoi(it->second.substr(0, colon));
      offset = std::stoll(it->second.substr(colon + 1));
    } catch (...) {
      return false;
    }
    long wait_ms = 2000;
    if (auto w = req.query.find("wait_ms"); w != req.query.end()) {
      try {
        wait_ms = std::min(10000L, std::max(0L, std::stol(w->second)));
      } catch (...) {
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    for (;;) {
      bool passed = false;
      (void)pool.with_tenant("", [&](pqxx::transaction_base& w) {
        auto r = w.exec_params("SELECT next_offset > $1 FROM projection_offsets WHERE projection = 'dashboard' "
                               "AND topic = 'keepwatch.events.v1' AND log_partition = $2",
                               offset, partition);
        passed = !r.empty() && r[0][0].as<bool>();
      });
      if (passed) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  static json monitor_json(const pqxx::row& r) {
    auto num = [](const pqxx::field& f) { return f.is_null() ? json() : json(f.as<double>()); };
    auto str = [](const pqxx::field& f) { return f.is_null() ? json() : json(f.c_str()); };
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
            {"last_latency_us", r["last_latency_us"].is_null() ? json() : json(r["last_latency_us"].as<long long>())},
            {"uptime_24h", num(r["uptime_24h"])},
            {"uptime_7d", num(r["uptime_7d"])},
            {"uptime_30d", num(r["uptime_30d"])},
            {"avg_latency_us_24h",
             r["avg_latency_us_24h"].is_null() ? json() : json(r["avg_latency_us_24h"].as<long long>())}};
  }

  static constexpr const char* overview_columns =
      "monitor_id, name, kind, target, interval_s, to_json(tags)::text AS tags_json, active, status, "
      "to_char(status_since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS status_since_s, "
      "to_char(last_check_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS last_check_at_s, "
      "last_check_ok, last_latency_us, uptime_24h, uptime_7d, uptime_30d, avg_latency_us_24h";

  http_response list_monitors(const http_request& req) const {
    auto who = authenticate(req);
    if (auto r = refused(who)) return *r;
    auto& c = std::get<caller>(who);
    json details = json::array();
    int limit = 50;
    if (auto l = req.query.find("limit"); l != req.query.end()) {
      try {
        limit = std::stoi(l->second);
      } catch (...) {
        limit = -1;
      }
      if (limit < 1 || limit > 200) details.push_back({{"field", "limit"}, {"message", "must be 1 to 200"}});
    }
    std::string after;
    if (auto cur = req.query.find("cursor"); cur != req.query.end()) {
      after = from_cursor(cur->second);
      if (after.empty()) details.push_back({{"field", "cursor"}, {"message", "not a cursor of this list"}});
    }
    static const std::set<std::string> statuses{"pending", "up", "down", "maintenance"};
    auto status = req.query.count("status") ? req.query.at("status") : "";
    if (!status.empty() && !statuses.count(status))
      details.push_back({{"field", "status"}, {"message", "one of pending, up, down, maintenance"}});
    for (auto& [k, v] : req.query)
      if (k != "limit" && k != "cursor" && k != "status" && k != "tag" && k != "name" && k != "wait_for" &&
          k != "wait_ms")
        details.push_back({{"field", k}, {"message", "unknown query parameter"}});
    if (!details.empty()) return http_response::error(422, "invalid", "bad query parameters", req.request_id, details);
    const bool fresh = wait_for(req);
    const std::string tag = req.query.count("tag") ? req.query.at("tag") : "";
    const std::string name = req.query.count("name") ? req.query.at("name") : "";
    json items = json::array();
    bool more = false;
    auto st = pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params(
          std::string("SELECT ") + overview_columns +
              " FROM monitor_overview WHERE monitor_id > $1 AND ($2 = '' OR status = $2) "
              "AND ($3 = '' OR $3 = ANY(tags)) AND ($4 = '' OR name ILIKE '%' || $4 || '%') "
              "ORDER BY monitor_id LIMIT $5",
          after, status, tag, name, limit + 1);
      for (const auto& r : rows) {
        if (int(items.size()) == limit) {
          more = true;
          break;
        }
        items.push_back(monitor_json(r));
      }
    });
    if (!st) return from_error(st.err(), req);
    json out{{"items", items}, {"next_cursor", more ? json(to_cursor(items.back()["monitor_id"])) : json()}};
    auto res = http_response::json(200, out);
    if (!fresh) res.set_header("X-Keepwatch-Stale", "true");
    return res;
  }

  http_response get_monitor(const http_request& req, const path_params& p) const {
    auto who = authenticate(req);
    if (auto r = refused(who)) return *r;
    auto& c = std::get<caller>(who);
    const bool fresh = wait_for(req);
    json item;
    auto st = pool.with_tenant(c.tenant, [&](pqxx::transaction_base& w) {
      auto rows = w.exec_params(std::string("SELECT ") + overview_columns + " FROM monitor_overview WHERE monitor_id = $1",
                                p.at("id"));
      if (!rows.empty()) item = monitor_json(rows[0]);
    });
    if (!st) return from_error(st.err(), req);
    if (item.is_null())
      return http_response::error(404, "not_found", "no monitor " + p.at("id"), req.request_id);
    auto res = http_response::json(200, item);
    if (!fresh) res.set_header("X-Keepwatch-Stale", "true");
    return res;
  }

  // Opaque cursors: the last id of a page, base64url.
  static std::string to_cursor(const std::string& id) {
    std::string out(sodium_base64_encoded_len(id.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(id.data()), id.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(std::strlen(out.c_str()));
    return out;
  }
  static std::string from_cursor(const std::string& c) {
    std::string out(c.size(), '\0');
    std::size_t len = 0;
    if (c.empty() || sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), c.data(), c.size(),
                                       nullptr, &len, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
      return {};
    out.resize(len);
    return valid_utf8(out) ? out : std::string();
  }

  void load_revoked() {
    (void)pool.with_tenant("", [&](pqxx::transaction_base& w) {
      w.exec("DELETE FROM revoked_access_tokens WHERE expires_at < now()");
      for (const auto& row : w.exec("SELECT jti FROM revoked_access_tokens")) revoked.insert(row[0].c_str());
    });
  }
};

std::string app_url_from(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url + " user=keepwatch_app password=''";
  const auto rest = scheme + 3;
  const auto slash = url.find_first_of("/?", rest);
  const auto at = url.rfind('@', slash == std::string::npos ? std::string::npos : slash);
  const auto host = (at == std::string::npos || at < rest) ? rest : at + 1;
  return url.substr(0, rest) + "keepwatch_app@" + url.substr(host);
}

api::api(node& n, api_options o) : impl_(std::make_unique<impl>(n, std::move(o))) {
  impl_->load_revoked();
  auto* im = impl_.get();
  auto& r = im->r;
  r.add("GET", "/healthz", [](const http_request&, const path_params&) {
    return http_response::json(200, {{"status", "ok"}});
  });
  r.add("GET", "/readyz", [im](const http_request& req, const path_params&) {
    const bool db = im->pool.reachable();
    const int st = db ? 200 : 503;
    return http_response::json(st, {{"status", db ? "ready" : "not ready"}, {"database", db}});
  });
  r.add("GET", "/api/v1/openapi.json", [](const http_request&, const path_params&) {
    auto res = http_response::json(200, openapi_document());
    res.set_header("Cache-Control", "public, max-age=300");
    return res;
  });
  r.add("POST", "/api/v1/auth/signup", [im](const http_request& q, const path_params&) { return im->signup(q); });
  r.add("POST", "/api/v1/auth/login", [im](const http_request& q, const path_params&) { return im->login(q); });
  r.add("POST", "/api/v1/auth/refresh", [im](const http_request& q, const path_params&) { return im->refresh(q); });
  r.add("POST", "/api/v1/auth/logout", [im](const http_request& q, const path_params&) { return im->logout(q); });
  r.add("GET", "/api/v1/me", [im](const http_request& q, const path_params&) { return im->me(q); });
  r.add("POST", "/api/v1/monitors",
        [im](const http_request& q, const path_params&) { return im->create_monitor(q); });
  r.add("GET", "/api/v1/monitors", [im](const http_request& q, const path_params&) { return im->list_monitors(q); });
  r.add("GET", "/api/v1/monitors/{id}",
        [im](const http_request& q, const path_params& p) { return im->get_monitor(q, p); });
  r.add("DELETE", "/api/v1/monitors/{id}",
        [im](const http_request& q, const path_params& p) { return im->delete_monitor(q, p); });
}

api::~api() = default;

http_response api::handle(const http_request& req) const {
  current_rate.reset();
  auto res = impl_->r.route(req);
  if (current_rate) rate_headers(res, *current_rate);
  current_rate.reset();
  return res;
}

const router& api::routes() const { return impl_->r; }

}  // namespace kw::gateway
