// Routes of the "public" group: what anyone may reach without credentials.
//
//  - GET /status/{slug}: the status page a tenant published. The slug is
//    resolved by status_page_by_slug() (the one SECURITY DEFINER function
//    that answers which tenant and page a slug names, and nothing else);
//    the page itself is then read under row-level security as that tenant,
//    so only the monitors that tenant chose, and only that tenant's rows,
//    can appear. The representation is JSON when the path ends in ".json"
//    (slugs are a-z, 0-9 and '-', so the suffix is never part of one) or the
//    Accept header names application/json; HTML otherwise. Answers are
//    public and cacheable (max-age 30 s, a strong ETag per representation,
//    If-None-Match gives 304), and each slug's rendered page is kept in
//    process for a few seconds (a missing one for one second), refreshed by
//    one request while the others keep serving the previous copy, so a hot
//    page costs PostgreSQL one read every few seconds whatever the traffic.
//  - POST (or GET, for cron and curl) /api/v1/push/{token}: a push
//    monitor's beat, through node::push_beat. The token is the credential.
//    Rate-limited per client IP (600 a minute) and per token (60 a minute),
//    token buckets both, so a leaked token or a token scan cannot flood the
//    log with check results.
#include <pqxx/pqxx>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "actors/host/node.hpp"
#include "gateway/api_context.hpp"
#include "gateway/openapi_parts.hpp"
#include "gateway/pg_pool.hpp"
#include "gateway/rate_limiter.hpp"
#include "gateway/tokens.hpp"

namespace kw::gateway {
namespace {

using steady = std::chrono::steady_clock;

constexpr auto page_ttl = std::chrono::seconds(5);
constexpr auto missing_ttl = std::chrono::seconds(1);
constexpr std::size_t max_cached_pages = 10000;
constexpr int push_per_ip_per_min = 600;
constexpr int push_per_token_per_min = 60;

// ---- status pages

// A status page rendered both ways, with the ETag of each.
struct rendered_page {
  bool found = false;
  std::string html, html_etag;
  std::string json, json_etag;
};

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string percent(const json& v) {
  if (!v.is_number()) return "&mdash;";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", std::floor(v.get<double>() * 10000.0) / 100.0);
  return buf;
}

std::string etag_of(const std::string& body, const char* kind) {
  return "\"" + sha256_of(body).substr(0, 32) + "-" + kind + "\"";
}

const char* page_style() {
  return "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}"
         "main{max-width:720px;margin:0 auto;padding:32px 16px}"
         "h1{font-size:1.6rem;margin:0 0 24px}"
         "ul{list-style:none;margin:0;padding:0;background:#fff;border:1px solid #dfe3ea;border-radius:8px}"
         "li{display:flex;flex-wrap:wrap;align-items:center;gap:12px;padding:14px 16px;border-top:1px solid #eef0f4}"
         "li:first-child{border-top:0}"
         ".name{flex:1 1 200px;font-weight:600;overflow-wrap:anywhere}"
         ".uptime{color:#5b6475;font-size:.9rem}"
         ".status{font-size:.8rem;font-weight:600;text-transform:uppercase;padding:3px 10px;border-radius:999px;"
         "background:#e4e7ed;color:#49515f}"
         ".status.up{background:#dcf5e3;color:#17693a}.status.down{background:#fde2e1;color:#a3231b}"
         ".status.maintenance{background:#e3ecfd;color:#244d9b}"
         ".empty{padding:14px 16px;color:#5b6475}"
         "footer{margin-top:16px;color:#5b6475;font-size:.85rem}";
}

std::string html_of(const json& page) {
  const std::string title = html_escape(page["title"].get<std::string>());
  std::string h;
  h.reserve(4096);
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>";
  h += title;
  h += "</title><style>";
  h += page_style();
  h += "</style></head><body><main><h1>";
  h += title;
  h += "</h1><ul>";
  if (page["monitors"].empty()) h += "<li class=\"empty\">No monitors on this page yet.</li>";
  for (const auto& m : page["monitors"]) {
    const std::string status = m["status"].get<std::string>();
    h += "<li><span class=\"name\">" + html_escape(m["name"].get<std::string>()) + "</span>";
    h += "<span class=\"uptime\">24h " + percent(m["uptime_24h"]) + " &middot; 30d " + percent(m["uptime_30d"]) +
         "</span>";
    h += "<span class=\"status " + html_escape(status) + "\">" + html_escape(status) + "</span></li>";
  }
  h += "</ul><footer>Last updated ";
  if (page["updated_at"].is_string()) {
    const std::string at = html_escape(page["updated_at"].get<std::string>());
    h += "<time datetime=\"" + at + "\">" + at.substr(0, 10) + " " + at.substr(11, 8) + " UTC</time>";
  } else {
    h += "&mdash;";
  }
  h += "</footer></main></body></html>\n";
  return h;
}

// Reads the page a slug names: the slug's tenant and page through the
// SECURITY DEFINER function, then, as that tenant under row-level security,
// the page and its live monitors in the order the page lists them.
result<rendered_page> load_page(const api_context& cx, const std::string& slug) {
  rendered_page out;
  json page;
  auto st = cx.pool.with_tenant("", [&](pqxx::transaction_base& w) {
    auto found = w.exec_params("SELECT tenant_id, page_id FROM status_page_by_slug($1)", slug);
    if (found.empty()) return;
    const std::string tenant = found[0][0].c_str();
    const std::string page_id = found[0][1].c_str();
    // From here on, this transaction sees that tenant's rows and no other's.
    w.exec_params("SELECT set_config('keepwatch.tenant_id', $1, true)", tenant);
    auto p = w.exec_params("SELECT p.title, " + rfc3339_sql("p.updated_at") +
                               " AS updated_s FROM status_pages p JOIN tenants t ON t.tenant_id = p.tenant_id "
                               "WHERE p.page_id = $1 AND t.status <> 'deleted'",
                           page_id);
    if (p.empty()) return;
    std::string updated = p[0]["updated_s"].c_str();
    json monitors = json::array();
    auto rows = w.exec_params(
        "SELECT m.name, m.status, m.active, m.uptime_24h, m.uptime_30d, " +
            rfc3339_sql("(greatest(m.status_since, m.last_check_at))") +
            " AS touched_s FROM status_pages p "
            "CROSS JOIN LATERAL unnest(p.monitor_ids) WITH ORDINALITY AS u(monitor_id, ord) "
            "JOIN monitor_overview m ON m.tenant_id = p.tenant_id AND m.monitor_id = u.monitor_id "
            "WHERE p.page_id = $1 ORDER BY u.ord",
        page_id);
    for (const auto& r : rows) {
      auto num = [](const pqxx::field& f) { return f.is_null() ? json() : json(f.as<double>()); };
      monitors.push_back({{"name", r["name"].c_str()},
                          {"status", r["active"].as<bool>() ? r["status"].c_str() : "paused"},
                          {"uptime_24h", num(r["uptime_24h"])},
                          {"uptime_30d", num(r["uptime_30d"])}});
      // One format throughout, so the later time is the greater string.
      if (!r["touched_s"].is_null() && updated < r["touched_s"].c_str()) updated = r["touched_s"].c_str();
    }
    page = {{"slug", slug}, {"title", p[0]["title"].c_str()}, {"monitors", monitors}, {"updated_at", updated}};
  });
  if (!st) return st.err();
  if (page.is_null()) return out;
  out.found = true;
  out.json = page.dump();
  out.json_etag = etag_of(out.json, "j");
  out.html = html_of(page);
  out.html_etag = etag_of(out.html, "h");
  return out;
}

// Rendered pages by slug. A fresh copy is served as is; the first request
// to find a copy stale reloads it while concurrent ones serve the stale copy.
class page_cache {
public:
  using loader = std::function<result<rendered_page>()>;

  result<std::shared_ptr<const rendered_page>> get(const std::string& slug, const loader& load) {
    const auto now = steady::now();
    std::shared_ptr<const rendered_page> stale;
    {
      std::lock_guard<std::mutex> lk(mu_);
      auto it = slots_.find(slug);
      if (it != slots_.end()) {
        auto& s = it->second;
        if (now < s.expires || s.refreshing) return s.page;
        s.refreshing = true;
        stale = s.page;
      }
    }
    result<rendered_page> fresh = make_error(errc::unavailable, "status page not loaded");
    try {
      fresh = load();
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu_);
      if (auto it = slots_.find(slug); it != slots_.end()) it->second.refreshing = false;
      throw;
    }
    std::lock_guard<std::mutex> lk(mu_);
    if (!fresh) {
      // PostgreSQL is away: the stale copy, if any, beats an error.
      auto it = slots_.find(slug);
      if (it != slots_.end()) it->second.refreshing = false;
      if (stale) return stale;
      return fresh.err();
    }
    if (slots_.size() >= max_cached_pages && !slots_.count(slug)) prune(now);
    auto page = std::make_shared<const rendered_page>(std::move(*fresh));
    slots_[slug] = slot{page, steady::now() + (page->found ? page_ttl : missing_ttl), false};
    return std::shared_ptr<const rendered_page>(page);
  }

private:
  struct slot {
    std::shared_ptr<const rendered_page> page;
    steady::time_point expires;
    bool refreshing = false;
  };

  void prune(steady::time_point now) {
    for (auto it = slots_.begin(); it != slots_.end();)
      it = (now >= it->second.expires && !it->second.refreshing) ? slots_.erase(it) : std::next(it);
    if (slots_.size() >= max_cached_pages) slots_.clear();
  }

  std::mutex mu_;
  std::unordered_map<std::string, slot> slots_;
};

bool valid_slug(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

bool wants_json(const http_request& req, std::string& slug) {
  static const std::string suffix = ".json";
  if (slug.size() > suffix.size() && slug.compare(slug.size() - suffix.size(), suffix.size(), suffix) == 0) {
    slug.resize(slug.size() - suffix.size());
    return true;
  }
  const auto accept = req.header("accept");
  return accept && lower(*accept).find("application/json") != std::string::npos;
}

http_response missing_page(const http_request& req, const std::string& slug, bool as_json) {
  http_response res;
  if (as_json) {
    res = http_response::error(404, "not_found", "no status page: " + slug, req.request_id);
  } else {
    res.status = 404;
    res.content_type = "text/html; charset=utf-8";
    res.body = std::string("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found</title>"
                           "<style>") +
               page_style() + "</style></head><body><main><h1>Status page not found</h1><p>No status page is "
                              "published at &ldquo;" +
               html_escape(slug) + "&rdquo;.</p></main></body></html>\n";
  }
  res.set_header("Cache-Control", "public, max-age=5");
  res.set_header("Vary", "Accept");
  return res;
}

http_response status_page(const api_context& cx, page_cache& cache, const http_request& req,
                          const path_params& p) {
  std::string slug = p.at("slug");
  const bool as_json = wants_json(req, slug);
  if (!valid_slug(slug)) return missing_page(req, slug, as_json);
  auto page = cache.get(slug, [&] { return load_page(cx, slug); });
  if (!page) return from_error(page.err(), req);
  const auto& pg = **page;
  if (!pg.found) return missing_page(req, slug, as_json);
  const std::string& etag = as_json ? pg.json_etag : pg.html_etag;
  http_response res;
  if (if_none_match(req, etag)) {
    res.status = 304;
    res.content_type.clear();
  } else {
    res.status = 200;
    res.content_type = as_json ? "application/json" : "text/html; charset=utf-8";
    res.body = as_json ? pg.json : pg.html;
  }
  res.set_header("ETag", etag);
  res.set_header("Cache-Control", "public, max-age=30");
  res.set_header("Vary", "Accept");
  if (!as_json) {
    // Tenant text is escaped; this keeps anything that slipped through inert.
    res.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
    res.set_header("X-Content-Type-Options", "nosniff");
  }
  return res;
}

// ---- push beats

struct push_limits {
  rate_limiter per_ip;
  rate_limiter per_token;
};

bool plausible_token(const std::string& t) {
  if (t.empty() || t.size() > 128) return false;
  for (char c : t)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

http_response too_many(const http_request& req, const rate_decision& d, const std::string& whom) {
  auto res = http_response::error(429, "rate_limited",
                                  "too many beats " + whom + "; retry after " + std::to_string(d.retry_after_s) + " s",
                                  req.request_id);
  res.set_header("Retry-After", std::to_string(d.retry_after_s));
  return res;
}

// The body is ignored (curl -d '' and cron jobs send what they send); an
// unknown query parameter is refused so that nobody believes, say,
// ?status=down reports a failure.
http_response push(const api_context& cx, push_limits& limits, const http_request& req, const path_params& p) {
  json details = json::array();
  cx.check_query(req, {}, details);
  if (!details.empty()) return http_response::error(422, "invalid", "bad query parameters", req.request_id, details);
  const std::string& token = p.at("token");
  const auto now = rate_limiter::clock::now();
  const auto ip = limits.per_ip.take(req.remote_ip, push_per_ip_per_min, now);
  if (!ip.allowed) return too_many(req, ip, "from this address");
  if (!plausible_token(token)) return not_found(req, "push monitor");
  const auto d = limits.per_token.take(token, push_per_token_per_min, now);
  auto res = [&] {
    if (!d.allowed) return too_many(req, d, "for this push monitor");
    auto reply = cx.n.push_beat(token);
    if (!reply) return from_error(reply.err(), req);
    auto out = write_reply(*reply);
    out["ok"] = true;
    return http_response::json(200, out);
  }();
  res.set_header("X-RateLimit-Limit", std::to_string(d.limit));
  res.set_header("X-RateLimit-Remaining", std::to_string(d.remaining));
  res.set_header("X-RateLimit-Reset", std::to_string(d.reset_s));
  res.set_header("Cache-Control", "no-store");
  return res;
}

}  // namespace

void add_public_routes(router& r, const api_context& cx) {
  const auto* c = &cx;
  auto cache = std::make_shared<page_cache>();
  auto limits = std::make_shared<push_limits>();
  r.add("GET", "/status/{slug}",
        [c, cache](const http_request& q, const path_params& p) { return status_page(*c, *cache, q, p); });
  r.add("POST", "/api/v1/push/{token}",
        [c, limits](const http_request& q, const path_params& p) { return push(*c, *limits, q, p); });
  r.add("GET", "/api/v1/push/{token}",
        [c, limits](const http_request& q, const path_params& p) { return push(*c, *limits, q, p); });
}

void describe_public_routes(json& paths, json& schemas) {
  using namespace oa;
  schemas["StatusPage"] = {
      {"type", "object"},
      {"properties",
       {{"slug", {{"type", "string"}}},
        {"title", {{"type", "string"}}},
        {"updated_at", {{"type", "string"}, {"format", "date-time"}}},
        {"monitors",
         {{"type", "array"},
          {"items",
           {{"type", "object"},
            {"properties",
             {{"name", {{"type", "string"}}},
              {"status", {{"type", "string"}, {"enum", {"pending", "up", "down", "maintenance", "paused"}}}},
              {"uptime_24h", {{"type", "number"}, {"nullable", true}}},
              {"uptime_30d", {{"type", "number"}, {"nullable", true}}}}}}}}}}}};
  schemas["PushReply"] = {{"allOf",
                           json::array({write_reply(), {{"type", "object"},
                                                        {"properties", {{"ok", {{"type", "boolean"}}}}}}})}};
  const json slug = json::array({path_param("slug")});
  const json token = json::array({path_param("token")});
  paths["/status/{slug}"]["get"] = {
      {"summary", "A published status page (no authentication)"},
      {"description",
       "JSON when the slug ends in \".json\" (GET /status/acme.json) or the Accept header names "
       "application/json; an HTML page otherwise. Public and cacheable: Cache-Control public, max-age=30, "
       "an ETag per representation, If-None-Match answers 304. Shows the page's monitors only, in its order."},
      {"parameters", slug},
      {"security", json::array()},
      {"responses",
       {{"200",
         {{"description", "the page"},
          {"content",
           {{"text/html", {{"schema", {{"type", "string"}}}}}, {"application/json", {{"schema", ref("StatusPage")}}}}}}},
        {"304", {{"description", "not modified (If-None-Match)"}}},
        {"404", error_response("no status page has this slug (an HTML page unless JSON was asked for)")}}}};
  const json push_op = {
      {"summary", "Record a push monitor's beat (no authentication: the token is the credential)"},
      {"description",
       "GET does the same as POST, for cron jobs and curl. The body is ignored. Rate-limited to 60 beats a "
       "minute per token and 600 a minute per client address (429 with Retry-After)."},
      {"parameters", token},
      {"security", json::array()},
      {"responses",
       {{"200", ok("the beat is recorded (ok, and the check result's offsets)", ref("PushReply"))},
        {"404", error_response("no push monitor has this token")},
        {"422", error_response("unknown query parameters")},
        {"429", error_response("too many beats (Retry-After)")}}}};
  paths["/api/v1/push/{token}"]["post"] = push_op;
  paths["/api/v1/push/{token}"]["get"] = push_op;
}

}  // namespace kw::gateway
