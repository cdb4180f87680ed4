// API v1 (api.hpp): authentication, the caller's rights, and the table of
// routes (each group of routes lives in its own file; api_context.hpp).
#include "gateway/api.hpp"

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <set>
#include <thread>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>
#include <sodium.h>

#include "actors/common/roles.hpp"
#include "actors/host/node.hpp"
#include "events/codec.hpp"
#include "storage/event_log.hpp"
#include "storage/partitioner.hpp"
#include "projections/offsets_reached.hpp"
#include "gateway/api_context.hpp"
#include "gateway/metrics.hpp"
#include "gateway/openapi.hpp"
#include "gateway/pg_pool.hpp"
#include "gateway/rate_limiter.hpp"
#include "gateway/server.hpp"
#include "gateway/tokens.hpp"

namespace kw::gateway {
namespace {

// A refresh token is "kwr_" and 64 hex digits; anything much longer is
// refused before it is looked up (and before logout revokes anything).
void refresh_token_rule(const json& b, json& details) {
  if (b.contains("refresh_token") && b["refresh_token"].is_string() && b["refresh_token"].get<std::string>().size() > 512)
    details.push_back({{"field", "refresh_token"}, {"message", "not a refresh token"}});
}

// A tenant id from a name: lowercase letters and digits joined by '-', plus a
// suffix (random, or derived from an Idempotency-Key) so names may repeat.
std::string tenant_id_from(const std::string& name, const std::string& suffix) {
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
  return slug + "-" + suffix;
}

// The rate-limit decision of the request this thread is handling, set by
// authorize() and turned into headers by api::handle (handlers run on the
// thread that called handle).
thread_local std::optional<rate_decision> current_rate;

void rate_headers(http_response& r, const rate_decision& d) {
  r.set_header("X-RateLimit-Limit", std::to_string(d.limit));
  r.set_header("X-RateLimit-Remaining", std::to_string(d.remaining));
  r.set_header("X-RateLimit-Reset", std::to_string(d.reset_s));
  if (!d.allowed) r.set_header("Retry-After", std::to_string(d.retry_after_s));
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

struct api::impl final : api_context {
  api_options opts;
  token_signer signer;
  mutable pg_pool pool_;
  router r;
  mutable std::mutex revoked_mu;
  mutable std::set<std::string> revoked;  // jtis revoked by logout (also in PostgreSQL)
  mutable rate_limiter limiter;
  mutable rate_limiter auth_limiter;  // sign-up, login, refresh: per address and per account
  // What an unknown email's password is checked against: a hash of the
  // configured cost, made once, so that an unknown email costs what a known
  // one does and the answer's timing tells nothing.
  std::string decoy_hash;
  gateway::metrics stats;

  // Live-stream tickets (POST /api/v1/stream/ticket): single-use, valid
  // for stream_ticket_ttl, standing for the credential (and X-Tenant-ID)
  // of the request that made them, so the stream is re-checked against it.
  struct stream_ticket {
    std::string authorization, x_tenant;
    std::chrono::steady_clock::time_point expires;
  };
  static constexpr std::chrono::seconds stream_ticket_ttl{30};
  static constexpr std::size_t stream_ticket_limit = 100000;  // outstanding
  mutable std::mutex tickets_mu;
  mutable std::map<std::string, stream_ticket> tickets;  // by SHA-256 of the ticket

  // API calls per (tenant, UTC day), sent to the tenants as record_api_calls
  // every api_calls_flush_s and at stop; the usage read model adds them up.
  // A batch that could not be sent keeps its command id and is retried with
  // it, so a send of unknown outcome is not counted twice.
  struct call_batch {
    std::string tenant, day, command_id;
    std::int64_t calls = 0;
  };
  mutable std::mutex calls_mu;
  mutable std::map<std::pair<std::string, std::string>, std::int64_t> calls;  // counting now
  std::vector<call_batch> unsent;                                             // flusher only
  std::condition_variable calls_cv;
  bool stopping = false;
  std::thread flusher;

  void count_call(const std::string& tenant) const {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char day[16];
    std::strftime(day, sizeof day, "%Y-%m-%d", &tm);
    std::lock_guard<std::mutex> lk(calls_mu);
    ++calls[{tenant, day}];
  }

  void flush_calls() {
    {
      std::lock_guard<std::mutex> lk(calls_mu);
      for (auto& [k, v] : calls) unsent.push_back({k.first, k.second, new_id(), v});
      calls.clear();
    }
    std::vector<call_batch> keep;
    for (auto& b : unsent) {
      command_meta m;
      m.command_id = b.command_id;
      m.actor = system_actor();
      m.time = now_us();
      auto r = n.execute(tenant::command{m, tenant::record_api_calls{b.day, b.calls}}, tenant_id{b.tenant},
                         std::chrono::seconds(10));
      if (!r && (r.err().code == errc::unavailable || r.err().code == errc::timeout)) {
        keep.push_back(b);  // retried with the same command id
      } else if (!r) {
        spdlog::warn("{} API calls of {} on {} not recorded: {}", b.calls, b.tenant, b.day, r.err().message);
      }
    }
    unsent = std::move(keep);
  }

  void start_flusher() {
    flusher = std::thread([this] {
      std::unique_lock<std::mutex> lk(calls_mu);
      while (!stopping) {
        calls_cv.wait_for(lk, std::chrono::seconds(o.api_calls_flush_s), [this] { return stopping; });
        lk.unlock();
        flush_calls();
        lk.lock();
      }
    });
  }

  ~impl() override {
    {
      std::lock_guard<std::mutex> lk(calls_mu);
      stopping = true;
    }
    calls_cv.notify_all();
    if (flusher.joinable()) flusher.join();
  }

  impl(node& nd, api_options o)
      : api_context(nd, pool_, opts),
        opts(std::move(o)),
        signer(opts.jwt_key),
        pool_(opts.app_database_url.empty() ? app_url_from(opts.database_url) : opts.app_database_url,
              opts.pool_size),
        stats(sources()) {
    auto decoy = hash_password(random_hex(16), opts.cost);
    if (!decoy) throw std::runtime_error("password hashing: " + decoy.err().message);
    decoy_hash = std::move(*decoy);
  }

  // What /metrics reads from the node and the read models at each scrape.
  metrics_sources sources() {
    metrics_sources s;
    s.appended = [this] {
      metrics_sources::labelled out;
      for (auto t : {storage::topic::events, storage::topic::checks}) {
        std::int64_t sum = 0;
        for (int p = 0; p < n.partitions(); ++p)
          if (auto e = n.log().end_offset(t, partition_id{p})) sum += e->get();
        out.emplace_back(t == storage::topic::events ? "events" : "checks", sum);
      }
      return out;
    };
    s.projection_lag = [this] {
      std::map<std::string, std::int64_t> ends;  // "<topic name>/<partition>" -> end
      for (auto t : {storage::topic::events, storage::topic::checks})
        for (int p = 0; p < n.partitions(); ++p)
          if (auto e = n.log().end_offset(t, partition_id{p}))
            ends[std::string(storage::topic_name(t)) + "/" + std::to_string(p)] = e->get();
      metrics_sources::labelled out;
      auto st = pool.with_tenant("", [&](pqxx::transaction_base& w) {
        std::map<std::string, std::int64_t> lag;
        for (const auto& row : w.exec("SELECT projection, topic, log_partition, next_offset FROM projection_offsets")) {
          auto it = ends.find(std::string(row[1].c_str()) + "/" + row[2].c_str());
          auto& l = lag[row[0].c_str()];
          if (it != ends.end()) l += std::max<std::int64_t>(0, it->second - row[3].as<std::int64_t>());
        }
        for (auto& [k, v] : lag) out.emplace_back(k, v);
      });
      if (!st) spdlog::warn("metrics: projection lag: {}", st.err().message);
      return out;
    };
    s.active_monitors = [this] { return n.monitor_count(); };
    return s;
  }

  // /metrics: for a scraper with the metrics token (api_options) and for
  // platform admins. Where the request comes from grants nothing: the
  // node's monitors run on this machine and could be pointed at it.
  http_response scrape(const http_request& req) const {
    const auto h = req.header("authorization");
    const bool scraper = !o.metrics_token.empty() && h && h->rfind("Bearer ", 0) == 0 &&
                         same_secret(h->substr(7), o.metrics_token);
    if (!scraper) {
      auto who = identify(req);
      if (auto* r = std::get_if<http_response>(&who)) return *r;
      if (std::get<caller>(who).kind != "platform")
        return http_response::error(403, "forbidden", "metrics are for platform admins", req.request_id);
    }
    http_response r;
    r.status = 200;
    r.content_type = metrics::content_type();
    r.body = stats.scrape();
    return r;
  }

  // ---- authentication

  static http_response unauthenticated(const http_request& req, const std::string& why) {
    auto r = http_response::error(401, "unauthenticated", why, req.request_id);
    r.set_header("WWW-Authenticate", "Bearer");
    return r;
  }

  // Who the credentials are (no tenant chosen, no rights checked): a user
  // of a tenant with its role now, an API key with its scope, or a platform
  // admin (tenant empty). For a tenant's user or key, `access` (if given)
  // receives the tenant's access state it read, so authorize() need not ask
  // the tenant's actor again.
  std::variant<caller, http_response> identify(const http_request& req, tenant::state* access = nullptr) const {
    auto h = req.header("authorization");
    if (!h || h->rfind("Bearer ", 0) != 0)
      return unauthenticated(req, "send Authorization: Bearer <access token or API key>");
    const std::string cred = h->substr(7);
    caller c;
    if (cred.rfind("kw_", 0) == 0) {
      // kw_<tenant>_<random>: tenant ids have no '_'.
      const auto us = cred.rfind('_');
      if (us <= 3) return unauthenticated(req, "invalid API key");
      c.kind = "api_key";
      c.tenant = cred.substr(3, us - 3);
      // The cheap refusals first, so that a made-up key never wakes (and
      // replays) a passivated tenant: the key's form, then the read
      // model's hashes of the tenant's keys. Only a key the read model
      // knows, or one it cannot yet tell, is asked of the tenant's actor,
      // which has the last word (a key revoked a moment ago).
      if (!api_key_form(cred, us)) return unauthenticated(req, "invalid API key");
      const std::string hash = sha256_of(cred);
      if (auto known = key_in_read_model(c.tenant, hash); known && !*known)
        return unauthenticated(req, "invalid API key");
      auto t = n.tenant_access(tenant_id{c.tenant});
      if (!t || !t->exists || t->status == tenant::tenant_status::deleted)
        return unauthenticated(req, "invalid API key");
      for (const auto& [id, k] : t->api_keys)
        if (!k.revoked && same_secret(k.hash, hash)) {
          c.id = id;
          c.who = "key:" + k.scope;
        }
      if (c.id.empty()) return unauthenticated(req, "invalid API key");
      if (access) *access = std::move(*t);
      return c;
    }
    auto claims = signer.verify(cred, unix_now());
    if (!claims) return unauthenticated(req, "invalid token");
    {
      std::lock_guard<std::mutex> lk(revoked_mu);
      if (revoked.count(claims->jti)) return unauthenticated(req, "invalid token");
    }
    c.kind = "user";
    c.id = claims->user_id;
    c.tenant = claims->tenant;
    c.jti = claims->jti;
    c.expires_at = claims->expires_at;
    if (claims->role == "platform_admin") {
      // Still a platform admin (the flag is read at each request).
      bool still = false;
      auto st = pool.with_tenant("", [&](pqxx::transaction_base& w) {
        auto r = w.exec_params("SELECT platform_admin FROM auth_user_by_id($1)", c.id);
        still = !r.empty() && r[0][0].as<bool>();
      });
      if (!st) return from_error(st.err(), req);
      if (!still) return unauthenticated(req, "invalid token");
      c.kind = "platform";
      c.tenant.clear();
      c.who = "platform_admin";
      return c;
    }
    // The role as the tenant holds it now.
    auto t = n.tenant_access(tenant_id{c.tenant});
    if (!t || !t->exists || t->status == tenant::tenant_status::deleted) return unauthenticated(req, "invalid token");
    auto m = t->members.find(c.id);
    if (m == t->members.end()) return unauthenticated(req, "invalid token");
    c.who = std::string(to_string(m->second.role));
    if (access) *access = std::move(*t);
    return c;
  }

  // "kw_<tenant>_<64 hex digits>", as team_routes makes them; `us` is the
  // position of the last '_'.
  static bool api_key_form(const std::string& cred, std::size_t us) {
    const std::string tenant = cred.substr(3, us - 3);
    const std::string secret = cred.substr(us + 1);
    return !tenant.empty() && tenant.size() <= 64 && secret.size() == 64 &&
           tenant.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos &&
           secret.find_first_not_of("0123456789abcdef") == std::string::npos;
  }

  // Whether the dashboard read model holds an unrevoked key of `tenant` with
  // this hash, once it has applied everything the tenant's partition held
  // when the request came (a key created just before is then there). An
  // error when that cannot be told in time: the tenant's actor decides.
  result<bool> key_in_read_model(const std::string& tenant, const std::string& hash) const {
    const auto p = storage::partition_for(tenant_id{tenant}, n.partitions());
    auto end = n.log().end_offset(storage::topic::events, p);
    if (!end) return end.err();
    bool found = false;
    std::int64_t applied = 0;
    auto look = [&] {
      // The offset first: each statement sees what was committed when it
      // began, so keys read after it include everything up to it.
      return pool.with_tenant(tenant, [&](pqxx::transaction_base& w) {
        auto r = w.exec_params("SELECT next_offset FROM projection_offsets WHERE projection = 'dashboard' "
                               "AND topic = $1 AND log_partition = $2",
                               std::string(storage::topic_name(storage::topic::events)), p.get());
        applied = r.empty() ? 0 : r[0][0].as<std::int64_t>();
        found = !w.exec_params("SELECT 1 FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", hash).empty();
      });
    };
    if (auto st = look(); !st) return st.err();
    if (found) return true;
    if (applied >= end->get()) return false;
    // Behind the log: wait a moment for this node's projection to apply
    // what the log held, then look once more.
    projections::offsets_reached::of(o.database_url)
        .wait_past("dashboard", storage::topic::events, p, end->get() - 1,
                   std::chrono::steady_clock::now() + std::chrono::seconds(1));
    if (auto st = look(); !st) return st.err();
    if (found) return true;
    if (applied >= end->get()) return false;
    return error{errc::unavailable, "the read model is behind the log"};
  }

  // The limits of sign-up, login and refresh (api_options): the 429 when
  // the client's address, or the account (an email; empty: none), has used
  // its attempts.
  std::optional<http_response> auth_limited(const http_request& req, const std::string& account) const {
    const auto now = rate_limiter::clock::now();
    auto d = auth_limiter.take("ip:" + req.remote_ip, o.auth_rate_per_ip_per_min, now);
    if (d.allowed && !account.empty())
      d = auth_limiter.take("account:" + account, o.auth_rate_per_account_per_min, now);
    if (d.allowed) return std::nullopt;
    auto r = http_response::error(429, "rate_limited",
                                  "too many attempts; retry after " + std::to_string(d.retry_after_s) + " s",
                                  req.request_id);
    r.set_header("Retry-After", std::to_string(d.retry_after_s));
    return r;
  }

  std::variant<caller, http_response> authorize(const http_request& req, action a) const override {
    return admit(req, a, true);
  }

  // authorize(), and with `metered` false the same decision without taking
  // a rate-limit token or counting an API call (a live stream's re-check).
  std::variant<caller, http_response> admit(const http_request& req, action a, bool metered) const {
    tenant::state t;
    auto who = identify(req, &t);
    if (auto* r = std::get_if<http_response>(&who)) return *r;
    auto c = std::get<caller>(std::move(who));
    const auto x_tenant = req.header("x-tenant-id");
    if (c.kind == "platform") {
      if (a == action::platform) return c;
      if (!x_tenant || x_tenant->empty())
        return http_response::error(400, "bad_request", "a platform admin names the tenant with X-Tenant-ID",
                                    req.request_id);
      auto named = n.tenant_access(tenant_id{*x_tenant});
      if (!named) return from_error(named.err(), req);
      if (!named->exists) return not_found(req, "tenant " + *x_tenant);
      c.tenant = *x_tenant;
      return c;
    }
    // Another tenant's id, named in the header, does not exist for this caller.
    if (x_tenant && *x_tenant != c.tenant) return not_found(req, "tenant " + *x_tenant);
    // identify() has checked that the tenant exists and is not deleted.
    if (t.status == tenant::tenant_status::suspended && a != action::read_billing)
      return http_response::error(403, "suspended",
                                  "this tenant is suspended: only usage and invoices can be read", req.request_id);
    if (!may(c.who, a))
      return http_response::error(403, "forbidden",
                                  "the role '" + c.who + "' may not " + std::string(to_string(a)), req.request_id);
    if (!metered) return c;
    const auto* p = o.plans.find(t.plan);
    current_rate = limiter.take(c.tenant, p ? p->api_rate_per_min : 60, rate_limiter::clock::now());
    if (!current_rate->allowed)
      return http_response::error(429, "rate_limited",
                                  "too many requests for this tenant's plan; retry after " +
                                      std::to_string(current_rate->retry_after_s) + " s",
                                  req.request_id);
    count_call(c.tenant);
    return c;
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
    login_rules(email, "email", password, "password", details);
    if (name.empty() || name.size() > 200)
      details.push_back({{"field", "tenant_name"}, {"message", "must be 1 to 200 characters"}});
    if (!details.empty()) return invalid(req, details);
    if (auto limited = auth_limited(req, email)) return *limited;
    // With an Idempotency-Key the user and tenant ids derive from it (and
    // the email), so a retry after an unknown outcome finds what the first
    // attempt made; the key also becomes the create command's id, so the
    // tenant answers the retry as it answered the first attempt.
    const auto key = req.header("idempotency-key");
    const std::string seed = key ? sha256_of("signup\n" + email + "\n" + *key) : std::string();
    const std::string user_id = "u_" + (key ? seed.substr(0, 16) : random_hex(8));
    std::string tenant = tenant_id_from(name, key ? seed.substr(16, 6) : random_hex(3));
    auto hash = hash_password(password, o.cost);
    if (!hash) return from_error(hash.err(), req);
    // The email is claimed first, so two sign-ups cannot both get it.
    bool taken = false;
    auto st = pool.with_tenant(tenant, [&](pqxx::transaction_base& w) {
      auto r = w.exec_params("INSERT INTO users (user_id, email, tenant_id, password_hash) VALUES ($1, $2, $3, $4) "
                             "ON CONFLICT (email) DO NOTHING",
                             user_id, email, tenant, *hash);
      taken = r.affected_rows() == 0;
    });
    if (!st) return from_error(st.err(), req);
    if (taken) {
      // A retry of this very sign-up (same key, same email, same password)
      // goes on with what the first attempt claimed; anyone else is refused.
      std::string first_user, first_tenant, first_hash;
      if (key) {
        auto found = pool.with_tenant("", [&](pqxx::transaction_base& w) {
          auto r = w.exec_params("SELECT user_id, coalesce(tenant_id, ''), password_hash FROM auth_user_by_email($1)",
                                 email);
          if (r.empty()) return;
          first_user = r[0][0].c_str();
          first_tenant = r[0][1].c_str();
          first_hash = r[0][2].c_str();
        });
        if (!found) return from_error(found.err(), req);
      }
      if (!key || first_user != user_id || !verify_password(first_hash, password))
        return http_response::error(409, "conflict", "this email is already registered", req.request_id);
      tenant = first_tenant;
    }
    tenant::command cmd{meta_for(req, caller{"user", user_id, tenant, "owner", "", 0}),
                        tenant::create_tenant{name, o.default_plan, user_id, email}};
    auto reply = n.execute(std::move(cmd), tenant_id{tenant});
    if (!reply) {
      // Refused: nothing was made, and the login goes again. Of unknown
      // outcome (unavailable, timeout): the tenant may exist, so the login
      // stays; a retry with the same Idempotency-Key, or a login, finds it.
      const bool unknown = reply.err().code == errc::unavailable || reply.err().code == errc::timeout;
      if (!unknown)
        (void)pool.with_tenant(tenant, [&](pqxx::transaction_base& w) {
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
    if (details.empty()) {
      // No login has a longer one (login_rules), so no hash is computed for it.
      if (b["email"].get<std::string>().size() > 254)
        details.push_back({{"field", "email"}, {"message", "at most 254 characters"}});
      if (b["password"].get<std::string>().size() > 256)
        details.push_back({{"field", "password"}, {"message", "at most 256 characters"}});
    }
    if (!details.empty()) return invalid(req, details);
    const std::string email = lower(b["email"].get<std::string>());
    if (auto limited = auth_limited(req, email)) return *limited;
    std::string user_id, tenant, hash;
    bool platform = false;
    auto st = pool.with_tenant("", [&](pqxx::transaction_base& w) {
      auto r = w.exec_params(
          "SELECT user_id, coalesce(tenant_id, ''), password_hash, platform_admin FROM auth_user_by_email($1)", email);
      if (r.empty()) return;
      user_id = r[0][0].c_str();
      tenant = r[0][1].c_str();
      hash = r[0][2].c_str();
      platform = r[0][3].as<bool>();
    });
    if (!st) return from_error(st.err(), req);
    auto refuse = [&] {
      return http_response::error(401, "unauthenticated", "wrong email or password", req.request_id);
    };
    // Verify even for an unknown email, at the same cost, so timing does
    // not tell which exist.
    const bool ok = verify_password(hash.empty() ? decoy_hash : hash, b["password"].get<std::string>());
    if (hash.empty() || !ok) return refuse();
    auto role = member_role(user_id, tenant, platform);
    if (!role) return from_error(role.err(), req);  // the tenant could not be asked: try again
    if (!*role) return refuse();
    auto tokens = issue_tokens(user_id, tenant, **role, "");
    if (!tokens) return from_error(tokens.err(), req);
    return http_response::json(200, *tokens);
  }

  // The user's role in a tenant that is not deleted, or "platform_admin";
  // none when they have no role there. An error (unavailable) when the
  // tenant's actor could not be asked: that says nothing of the password.
  result<std::optional<std::string>> member_role(const std::string& user_id, const std::string& tenant,
                                                 bool platform) const {
    using role = std::optional<std::string>;
    if (platform) return role("platform_admin");
    auto t = n.tenant_access(tenant_id{tenant});
    if (!t) {
      if (t.err().code == errc::not_found) return role();
      return error{errc::unavailable, "the tenant could not be reached; try again"};
    }
    if (!t->exists || t->status == tenant::tenant_status::deleted) return role();
    auto m = t->members.find(user_id);
    if (m == t->members.end()) return role();
    return role(std::string(to_string(m->second.role)));
  }

  http_response refresh(const http_request& req) const {
    json b;
    if (auto bad = body_object(req, b)) return *bad;
    json details = json::array();
    string_fields(b, {"refresh_token"}, {}, details);
    refresh_token_rule(b, details);
    if (!details.empty()) return invalid(req, details);
    if (auto limited = auth_limited(req, "")) return *limited;
    const std::string h = sha256_of(b["refresh_token"].get<std::string>());
    std::string user_id, tenant, family;
    bool replayed = false, platform = false;
    auto st = pool.with_tenant("", [&](pqxx::transaction_base& w) {
      auto r = w.exec_params(
          "SELECT t.user_id, coalesce(u.tenant_id, ''), t.family, t.used_at IS NOT NULL, "
          "t.revoked_at IS NULL AND t.expires_at > now(), u.platform_admin "
          "FROM refresh_tokens t, auth_user_by_id(t.user_id) u "
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
      platform = r[0][5].as<bool>();
    });
    if (!st) return from_error(st.err(), req);
    if (replayed || user_id.empty())
      return http_response::error(401, "unauthenticated", "invalid refresh token", req.request_id);
    auto role = member_role(user_id, tenant, platform);
    if (!role) {
      // Not the client's fault: the token stays usable for the retry.
      (void)pool.with_tenant("", [&](pqxx::transaction_base& w) {
        w.exec_params("UPDATE refresh_tokens SET used_at = NULL WHERE token_hash = $1", h);
      });
      return from_error(role.err(), req);
    }
    if (!*role) return http_response::error(401, "unauthenticated", "invalid refresh token", req.request_id);
    auto tokens = issue_tokens(user_id, tenant, **role, family);
    if (!tokens) return from_error(tokens.err(), req);
    return http_response::json(200, *tokens);
  }

  http_response logout(const http_request& req) const {
    auto who = identify(req);
    if (auto* r = std::get_if<http_response>(&who)) return *r;
    auto& c = std::get<caller>(who);
    if (c.kind == "api_key")
      return http_response::error(400, "bad_request", "an API key is revoked with DELETE /api/v1/api-keys/{id}",
                                  req.request_id);
    std::string refresh;
    if (!req.body.empty()) {
      json b;
      if (auto bad = body_object(req, b)) return *bad;
      json details = json::array();
      string_fields(b, {}, {"refresh_token"}, details);
      refresh_token_rule(b, details);
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
                      sha256_of(refresh), c.id);
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
    auto who = identify(req);
    if (auto* r = std::get_if<http_response>(&who)) return *r;
    auto& c = std::get<caller>(who);
    json out{{"kind", c.kind}, {"tenant_id", c.tenant}, {"role", c.who}};
    out[c.kind == "api_key" ? "key_id" : "user_id"] = c.id;
    return http_response::json(200, out);
  }

  void load_revoked() {
    (void)pool.with_tenant("", [&](pqxx::transaction_base& w) {
      w.exec("DELETE FROM revoked_access_tokens WHERE expires_at < now()");
      for (const auto& row : w.exec("SELECT jti FROM revoked_access_tokens")) revoked.insert(row[0].c_str());
    });
  }

  // The first platform admin, from the options, when there is none yet.
  status bootstrap_admin() {
    if (o.admin_email.empty() || o.admin_password.empty()) return ok_status();
    bool any = false;
    auto st = pool.with_tenant("", [&](pqxx::transaction_base& w) {
      any = w.exec("SELECT auth_any_platform_admin()")[0][0].as<bool>();
    });
    if (!st || any) return st;
    auto hash = hash_password(o.admin_password, o.cost);
    if (!hash) return hash.err();
    return pool.with_tenant("", [&](pqxx::transaction_base& w) {
      w.exec_params("SELECT auth_add_first_platform_admin($1, $2, $3)", "u_" + random_hex(8), lower(o.admin_email),
                    *hash);
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
  impl_->start_flusher();
  if (auto st = impl_->bootstrap_admin(); !st) throw std::runtime_error("platform admin: " + st.err().message);
  auto* im = impl_.get();
  auto& r = im->r;
  r.add("GET", "/healthz", [](const http_request&, const path_params&) {
    return http_response::json(200, {{"status", "ok"}});
  });
  r.add("GET", "/readyz", [im](const http_request&, const path_params&) {
    const bool db = im->pool.reachable();
    std::vector<std::string> problems;
    if (im->opts.problems) problems = im->opts.problems();
    const bool ready = db && problems.empty();
    auto body = json{{"status", ready ? "ready" : "not ready"}, {"database", db}};
    if (!problems.empty()) body["problems"] = problems;
    return http_response::json(ready ? 200 : 503, body);
  });
  r.add("GET", "/api/v1/openapi.json", [](const http_request&, const path_params&) {
    auto res = http_response::json(200, openapi_document());
    res.set_header("Cache-Control", "public, max-age=300");
    return res;
  });
  // The live stream is served by the server as a WebSocket (server.hpp);
  // a plain GET of it lands here.
  r.add("GET", "/api/v1/stream", [](const http_request& q, const path_params&) {
    return http_response::error(426, "upgrade_required", "open /api/v1/stream as a WebSocket", q.request_id);
  });
  r.add("POST", "/api/v1/stream/ticket", [im](const http_request& q, const path_params&) {
    return refusal_or(im->authorize(q, action::read), [&](const caller&) {
      if (auto refused = no_fields(q)) return *refused;
      const std::string ticket = "kwt_" + random_hex(24);
      const auto now = std::chrono::steady_clock::now();
      std::lock_guard<std::mutex> lk(im->tickets_mu);
      for (auto it = im->tickets.begin(); it != im->tickets.end();)
        it = it->second.expires <= now ? im->tickets.erase(it) : std::next(it);
      if (im->tickets.size() >= impl::stream_ticket_limit) {
        auto res = http_response::error(503, "unavailable", "too many stream tickets outstanding", q.request_id);
        res.set_header("Retry-After", "5");
        return res;
      }
      im->tickets[sha256_of(ticket)] = {q.header("authorization").value_or(""), q.header("x-tenant-id").value_or(""),
                                        now + impl::stream_ticket_ttl};
      auto res = http_response::json(
          201, {{"ticket", ticket}, {"expires_in", impl::stream_ticket_ttl.count()}});
      res.set_header("Cache-Control", "no-store");
      return res;
    });
  });
  r.add("GET", "/metrics", [im](const http_request& q, const path_params&) { return im->scrape(q); });
  r.add("POST", "/api/v1/auth/signup", [im](const http_request& q, const path_params&) { return im->signup(q); });
  r.add("POST", "/api/v1/auth/login", [im](const http_request& q, const path_params&) { return im->login(q); });
  r.add("POST", "/api/v1/auth/refresh", [im](const http_request& q, const path_params&) { return im->refresh(q); });
  r.add("POST", "/api/v1/auth/logout", [im](const http_request& q, const path_params&) { return im->logout(q); });
  r.add("GET", "/api/v1/me", [im](const http_request& q, const path_params&) { return im->me(q); });
  add_monitor_routes(r, *im);
  add_team_routes(r, *im);
  add_tenant_routes(r, *im);
  add_setup_routes(r, *im);
  add_history_routes(r, *im);
  add_audit_routes(r, *im);
  add_public_routes(r, *im);
  add_web_routes(r, *im);
}

api::~api() = default;

http_response api::handle(const http_request& req) const {
  const auto t0 = std::chrono::steady_clock::now();
  current_rate.reset();
  std::string route;
  auto res = impl_->r.route(req, &route);
  if (current_rate) rate_headers(res, *current_rate);
  current_rate.reset();
  impl_->stats.observe_request(route, req.method, res.status,
                               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  // Writes, as commands by route and outcome.
  if (req.method == "POST" || req.method == "PATCH" || req.method == "PUT" || req.method == "DELETE") {
    std::string outcome = "ok";
    if (res.status >= 300) {
      auto j = json::parse(res.body, nullptr, false);
      outcome = j.is_object() && j.contains("error") ? j["error"].value("code", "error") : "error";
    }
    impl_->stats.count_command(req.method + " " + route, outcome);
  }
  return res;
}

std::variant<stream_grant, http_response> api::stream_tenant(const http_request& req) const {
  current_rate.reset();
  // The credential: a single-use ticket (?ticket=), or as for any request,
  // or — a browser cannot set headers on a WebSocket — the token as
  // ?access_token= and the tenant a platform admin follows as ?tenant= (as
  // X-Tenant-ID would name it, with the same rules).
  http_request with = req;
  if (auto tk = req.query.find("ticket"); tk != req.query.end()) {
    std::optional<impl::stream_ticket> found;
    {
      std::lock_guard<std::mutex> lk(impl_->tickets_mu);
      auto it = impl_->tickets.find(sha256_of(tk->second));
      if (it != impl_->tickets.end()) {
        if (it->second.expires > std::chrono::steady_clock::now()) found = it->second;
        impl_->tickets.erase(it);
      }
    }
    if (!found) return impl::unauthenticated(req, "invalid or expired stream ticket");
    with.headers.clear();
    with.headers.emplace_back("authorization", found->authorization);
    if (!found->x_tenant.empty()) with.headers.emplace_back("x-tenant-id", found->x_tenant);
  } else {
    auto t = req.query.find("access_token");
    auto named = req.query.find("tenant");
    if (!req.header("authorization") && t != req.query.end())
      with.headers.emplace_back("authorization", "Bearer " + t->second);
    if (!req.header("x-tenant-id") && named != req.query.end()) with.headers.emplace_back("x-tenant-id", named->second);
  }
  auto who = impl_->admit(with, action::read, true);
  std::variant<stream_grant, http_response> out;
  if (auto* r = std::get_if<http_response>(&who)) {
    if (current_rate) rate_headers(*r, *current_rate);
    out = *r;
  } else {
    // Re-checked with the same rules (unmetered), so the stream ends once
    // the key is revoked, the token expires or is logged out, the member is
    // removed or may no longer read, or the tenant is suspended or deleted.
    const impl* im = impl_.get();
    const std::string tenant = std::get<caller>(who).tenant;
    with.body.clear();
    out = stream_grant{tenant, [im, with, tenant]() -> std::optional<std::string> {
                         auto again = im->admit(with, action::read, false);
                         if (auto* r = std::get_if<http_response>(&again)) {
                           auto j = json::parse(r->body, nullptr, false);
                           std::string why = j.is_object() && j.contains("error") && j["error"].contains("message")
                                                 ? j["error"]["message"].get<std::string>()
                                                 : "access revoked";
                           return "no longer allowed: " + why;
                         }
                         if (std::get<caller>(again).tenant != tenant) return std::string("no longer allowed");
                         return std::nullopt;
                       }};
  }
  current_rate.reset();
  return out;
}

const router& api::routes() const { return impl_->r; }

}  // namespace kw::gateway
