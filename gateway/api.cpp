// API v1 (api.hpp): authentication and monitors.
#include "gateway/api.hpp"

#include <chrono>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "actors/common/roles.hpp"
#include "actors/host/node.hpp"
#include "events/codec.hpp"
#include "gateway/pg_pool.hpp"
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

  impl(node& nd, api_options opts)
      : n(nd), o(std::move(opts)), signer(o.jwt_key), pool(o.database_url, o.pool_size) {}

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

  void load_revoked() {
    (void)pool.with_tenant("", [&](pqxx::transaction_base& w) {
      w.exec("DELETE FROM revoked_access_tokens WHERE expires_at < now()");
      for (const auto& row : w.exec("SELECT jti FROM revoked_access_tokens")) revoked.insert(row[0].c_str());
    });
  }
};

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
  r.add("POST", "/api/v1/auth/signup", [im](const http_request& q, const path_params&) { return im->signup(q); });
  r.add("POST", "/api/v1/auth/login", [im](const http_request& q, const path_params&) { return im->login(q); });
  r.add("POST", "/api/v1/auth/refresh", [im](const http_request& q, const path_params&) { return im->refresh(q); });
  r.add("POST", "/api/v1/auth/logout", [im](const http_request& q, const path_params&) { return im->logout(q); });
  r.add("GET", "/api/v1/me", [im](const http_request& q, const path_params&) { return im->me(q); });
}

api::~api() = default;

http_response api::handle(const http_request& req) const { return impl_->r.route(req); }

const router& api::routes() const { return impl_->r; }

}  // namespace kw::gateway
