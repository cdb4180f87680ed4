// Tenant isolation through the real HTTP API, route by route, on both logs.
//
// Two tenants, A and B, each with data of every kind (monitors, a push
// monitor, a channel, a status page, a maintenance window, an incident,
// members, API keys of both scopes, usage and audit rows). A's data is
// written with marker strings (names, emails, URLs, ids). Then, for every
// route of the gateway's own route table (api::routes(); a route without an
// entry in the matrix below fails the test, naming it), B tries:
//   - A's ids in the path, query and body, as B's owner, B's viewer, and B's
//     API keys of both scopes;
//   - `X-Tenant-ID: <A>` and `?tenant=<A>` as each of those;
//   - forged credentials: a JWT with `alg: none`, B's token with its payload
//     changed to A's tenant and owner (or platform admin) keeping B's
//     signature, a token signed with another key, an expired token, the
//     token of a removed member and of a logged-out session, and API keys
//     spliced from A's and B's (tenant part of one with the secret of the
//     other), truncated or with their case changed.
// Every answer must be a refusal or what B gets for its own tenant (never a
// 5xx), must contain none of A's markers that the request did not itself
// carry, A's id in a path must answer exactly as an id nobody has (no
// existence oracle), and A's state read through A's owner before and after
// must be the same (and A's logins and refresh token still work). The decision for a non-admin's X-Tenant-ID: naming another tenant is
// a 404 (as for a tenant that does not exist) on every route that acts on a
// tenant; it never switches tenants. Routes that act on no tenant (/me,
// sign-in, public pages) ignore it. A platform admin with X-Tenant-ID: <A>
// does see A (so a fix that refused everyone would be noticed). Finally, B's
// live stream never receives A's events, and cannot be pointed at A.
#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <sodium.h>

#include "gateway/api_context.hpp"
#include "gateway/api_fixture.hpp"
#include "gateway/tokens.hpp"
#include "storage/event_log.hpp"

namespace kw::test {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr const char* jwt_key = "test-key-test-key-test-key-test-key-0123";  // api_fixture.hpp's

// ---------------------------------------------------------------- the matrix

// How a route is reached: what B's callers meet there.
enum class reach {
  tenant,    // authorize(): acts on the caller's tenant
  platform,  // platform admins only
  identity,  // authenticates, acts on no tenant (/me, logout)
  sign_in,   // sign-up, login, refresh: the body is the credential
  open,      // no credential at all (health, public pages, assets, push)
};

struct route_entry {
  reach how;
  // The world key of A's object put in the path parameter ("" when the
  // route has none), an optional query with {placeholders} of A's world,
  // and a body naming A's things (for writes).
  std::string param;
  std::string query;
  std::string a_body;
  // A body that is valid for B's own tenant, sent with ?tenant=<A>: if the
  // query switched tenants, A would change (empty: not sent).
  std::string b_body;
  // The Idempotency-Key A used for its own create on this route, sent with
  // b_body: B's write must be B's own, never a replay of A's answer.
  std::string a_idem;
  // B's tokens are used up by the route (logout): each probe logs in anew.
  bool spends_token = false;
  // B's own object (the world key of B's object for the path parameter,
  // "" for none) with a body naming A's things (a channel, a monitor, a
  // public slug, a push token): refused.
  std::vector<std::pair<std::string, std::string>> own;
};

// Every route of the gateway. A route added to api.cpp or a route group
// without an entry here fails IsolationApiTest, naming it.
const std::map<std::string, route_entry>& matrix() {
  static const std::map<std::string, route_entry> m = {
      {"GET /healthz", {reach::open}},
      {"GET /readyz", {reach::open}},
      {"GET /api/v1/openapi.json", {reach::open}},
      {"GET /metrics", {reach::identity}},
      {"GET /", {reach::open}},
      {"GET /assets/{file}", {reach::open, "asset"}},
      {"GET /status/{slug}", {reach::open, "slug"}},
      {"POST /api/v1/push/{token}", {reach::open, "monitor"}},
      {"GET /api/v1/push/{token}", {reach::open, "monitor"}},
      // A plain GET of the stream is always 426 (the WebSocket is tested below).
      {"GET /api/v1/stream", {reach::open, "", "?tenant={tenant}"}},
      {"POST /api/v1/stream/ticket", {reach::tenant, "", "", R"({"tenant":"{tenant}"})"}},
      {"POST /api/v1/auth/signup",
       {reach::sign_in, "", "", R"({"email":"{owner_email}","password":"another password 1","tenant_name":"x"})"}},
      {"POST /api/v1/auth/login", {reach::sign_in, "", "", R"({"email":"{owner_email}","password":"wrong password 1"})"}},
      {"POST /api/v1/auth/refresh", {reach::sign_in, "", "", R"({"refresh_token":"{refresh_spliced}"})"}},
      {"POST /api/v1/auth/logout",
       {reach::identity, "", "", R"({"refresh_token":"{refresh}"})", "", "", true}},
      {"GET /api/v1/me", {reach::identity}},
      // monitors
      {"POST /api/v1/monitors",
       {reach::tenant, "", "", R"({"name":"b-made","url":"https://b-made.example/","channel_ids":["{channel}"]})",
        R"({"name":"b-made","url":"https://b-made.example/"})", "zqxa-idem-monitor", false,
        {{"", R"({"name":"b-push","kind":"push","push_token":"{push_token}"})"}}}},
      {"GET /api/v1/monitors", {reach::tenant, "", "?name=ZQXA"}},
      {"GET /api/v1/monitors/{id}", {reach::tenant, "monitor"}},
      {"PATCH /api/v1/monitors/{id}",
       {reach::tenant, "monitor", "", R"({"name":"b-renamed"})", "", "", false,
        {{"monitor", R"({"channel_ids":["{channel}"]})"}, {"push_monitor", R"({"push_token":"{push_token}"})"}}}},
      {"POST /api/v1/monitors/{id}/pause", {reach::tenant, "monitor"}},
      {"POST /api/v1/monitors/{id}/resume", {reach::tenant, "monitor"}},
      {"DELETE /api/v1/monitors/{id}", {reach::tenant, "monitor"}},
      {"GET /api/v1/monitors/{id}/heartbeats", {reach::tenant, "monitor"}},
      {"GET /api/v1/monitors/{id}/stats", {reach::tenant, "monitor"}},
      // history
      {"GET /api/v1/incidents", {reach::tenant, "", "?monitor_id={monitor}"}},
      {"GET /api/v1/incidents/{id}", {reach::tenant, "incident"}},
      {"GET /api/v1/usage", {reach::tenant}},
      {"GET /api/v1/invoices", {reach::tenant}},
      {"GET /api/v1/invoices/{id}", {reach::tenant, "month"}},
      {"GET /api/v1/audit", {reach::tenant, "", "?entity={monitor}"}},
      // the audit API (the log itself): A's monitor and seqs name nothing in B's history
      {"GET /api/v1/audit/events", {reach::tenant, "", "?from=2000-01-01T00:00:00Z"}},
      {"GET /api/v1/audit/heads", {reach::tenant, "", "?latest=true"}},
      {"GET /api/v1/audit/proofs/inclusion", {reach::tenant, "", "?seq=1&aggregate=monitor/{monitor}&tree_size=1"}},
      {"GET /api/v1/audit/proofs/consistency", {reach::tenant, "", "?first=1&second=1"}},
      {"GET /api/v1/audit/state", {reach::tenant, "", "?at=2100-01-01T00:00:00Z"}},
      // channels, maintenance, status pages
      {"GET /api/v1/channels", {reach::tenant}},
      {"POST /api/v1/channels",
       {reach::tenant, "", "", R"({"name":"b-hook","url":"https://b-hook.example/","tenant_id":"{tenant}"})",
        R"({"name":"b-hook","url":"https://b-hook.example/"})", "zqxa-idem-channel"}},
      {"GET /api/v1/channels/{id}", {reach::tenant, "channel"}},
      {"PATCH /api/v1/channels/{id}", {reach::tenant, "channel", "", R"({"name":"b-renamed"})"}},
      {"DELETE /api/v1/channels/{id}", {reach::tenant, "channel"}},
      {"GET /api/v1/maintenance", {reach::tenant}},
      {"POST /api/v1/maintenance",
       {reach::tenant, "", "",
        R"({"title":"b-window","monitor_ids":["{monitor}"],"starts_at":"2099-01-01T00:00:00Z","ends_at":"2099-01-02T00:00:00Z"})",
        R"({"title":"b-window","starts_at":"2099-01-01T00:00:00Z","ends_at":"2099-01-02T00:00:00Z"})",
        "zqxa-idem-window"}},
      {"GET /api/v1/maintenance/{id}", {reach::tenant, "window"}},
      {"DELETE /api/v1/maintenance/{id}", {reach::tenant, "window"}},
      {"GET /api/v1/status-pages", {reach::tenant}},
      {"POST /api/v1/status-pages",
       {reach::tenant, "", "", R"({"slug":"b-page-{n}","title":"b","monitor_ids":["{monitor}"]})",
        R"({"slug":"b-page-{n}","title":"b","monitor_ids":[]})", "zqxa-idem-page", false,
        {{"", R"({"slug":"{slug}","title":"b at a","monitor_ids":[]})"}}}},
      {"GET /api/v1/status-pages/{id}", {reach::tenant, "page"}},
      {"PATCH /api/v1/status-pages/{id}",
       {reach::tenant, "page", "", R"({"title":"b-renamed"})", "", "", false,
        {{"page", R"({"monitor_ids":["{monitor}"]})"}, {"page", R"({"slug":"{slug}"})"}}}},
      {"DELETE /api/v1/status-pages/{id}", {reach::tenant, "page"}},
      // members and keys
      {"GET /api/v1/members", {reach::tenant, "", "?cursor={member_cursor}"}},
      {"POST /api/v1/members",
       {reach::tenant, "", "", R"({"email":"{viewer_email}","role":"viewer","password":"another password 1"})"}},
      {"PATCH /api/v1/members/{user_id}", {reach::tenant, "viewer_user", "", R"({"role":"owner"})"}},
      {"DELETE /api/v1/members/{user_id}", {reach::tenant, "viewer_user"}},
      {"GET /api/v1/api-keys", {reach::tenant}},
      {"POST /api/v1/api-keys",
       {reach::tenant, "", "", R"({"name":"b-key","scope":"read_write","tenant_id":"{tenant}"})",
        R"({"name":"b-key","scope":"read"})", "zqxa-idem-key-r"}},
      {"DELETE /api/v1/api-keys/{id}", {reach::tenant, "key_rw_id"}},
      // tenants
      {"GET /api/v1/tenant", {reach::tenant}},
      {"PATCH /api/v1/tenant", {reach::tenant, "", "", R"({"name":"b-renamed","tenant_id":"{tenant}"})"}},
      {"DELETE /api/v1/tenant", {reach::tenant, "", "", R"({"tenant_id":"{tenant}"})"}},
      {"GET /api/v1/tenants", {reach::platform}},
      {"POST /api/v1/tenants",
       {reach::platform, "", "", R"({"name":"x","owner_email":"{owner_email}","owner_password":"another password 1"})"}},
      {"GET /api/v1/tenants/{id}", {reach::platform, "tenant"}},
      {"POST /api/v1/tenants/{id}/suspend", {reach::platform, "tenant", "", R"({"reason":"b says so"})"}},
      {"POST /api/v1/tenants/{id}/activate", {reach::platform, "tenant"}},
      {"DELETE /api/v1/tenants/{id}", {reach::platform, "tenant"}},
  };
  return m;
}

using world = std::map<std::string, std::string>;

// `t` with every {key} of `w` replaced by its value.
std::string fill(std::string t, const world& w) {
  for (const auto& [k, v] : w) {
    const std::string ph = "{" + k + "}";
    for (auto at = t.find(ph); at != std::string::npos; at = t.find(ph, at + v.size())) t.replace(at, ph.size(), v);
  }
  return t;
}

std::string b64url(const std::string& s) {
  std::string out(sodium_base64_encoded_len(s.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string unb64url(const std::string& s) {
  std::string out(s.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(), s.size(), nullptr, &len,
                        nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return {};
  out.resize(len);
  return out;
}

// A JWT's three parts.
struct jwt_parts {
  std::string header, payload, signature;  // header and payload decoded
};
jwt_parts split_jwt(const std::string& t) {
  const auto d1 = t.find('.'), d2 = t.find('.', d1 + 1);
  return {unb64url(t.substr(0, d1)), unb64url(t.substr(d1 + 1, d2 - d1 - 1)), t.substr(d2 + 1)};
}
std::string join_jwt(const std::string& header, const std::string& payload, const std::string& signature) {
  return b64url(header) + "." + b64url(payload) + "." + signature;
}

std::string upper(std::string s) {
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// ---------------------------------------------------------------- a WebSocket client

// The live stream as a client meets it: the handshake (its HTTP status is
// kept when refused), then a thread that reads every message until the
// server closes or close() is called.
class stream_client {
public:
  ~stream_client() { close(); }

  bool open(std::uint16_t port, const std::string& target,
            const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    beast::error_code ec;
    ws_.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    if (ec) return false;
    ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& r) {
      for (auto& [k, v] : headers) r.set(k, v);
    }));
    websocket::response_type res;
    ws_.async_handshake(res, "127.0.0.1", target, [&](beast::error_code e) { ec = e; });
    ioc_.run();
    ioc_.restart();
    status = int(res.result_int());
    body = res.body();
    if (ec) return false;
    read_next();
    thread_ = std::thread([this] { ioc_.run(); });
    return true;
  }

  void close() {
    if (!thread_.joinable()) return;
    net::post(ioc_, [this] {
      if (!ended_) ws_.async_close(websocket::close_code::normal, [](beast::error_code) {});
    });
    thread_.join();
  }

  std::string all() {
    std::lock_guard<std::mutex> lk(mu_);
    return got_;
  }

  int status = 0;
  std::string body;

private:
  void read_next() {
    ws_.async_read(buf_, [this](beast::error_code ec, std::size_t) {
      if (ec) {
        ended_ = true;
        return;
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        got_ += beast::buffers_to_string(buf_.data()) + "\n";
      }
      buf_.consume(buf_.size());
      read_next();
    });
  }

  net::io_context ioc_;
  websocket::stream<tcp::socket> ws_{ioc_};
  beast::flat_buffer buf_;
  std::thread thread_;
  std::mutex mu_;
  std::string got_;
  std::atomic<bool> ended_{false};
};

}  // namespace

// ---------------------------------------------------------------- the fixture

class IsolationApiTest : public api_test {
protected:
  using api_test::tweak;
  // No probes: the tenants' state changes only by what the test does.
  void tweak(node_options& o) override { o.run_checks = false; }
  // Thousands of requests from B in a few seconds: no plan limit.
  void tweak(gateway::api_options& o) override {
    for (auto& [name, p] : o.plans.plans) p.api_rate_per_min = 100000000;
  }

  // A tenant with data of every kind, its strings starting with `mark`:
  // the world of ids, names and credentials.
  world make_tenant(const std::string& mark) {
    world w;
    const std::string lo = gateway::lower(mark);
    auto owner = signup(lo + "-owner@" + lo + ".example", mark + " Tenant");
    w["tenant"] = owner["tenant_id"];
    w["tenant_name"] = mark + " Tenant";
    w["owner_user"] = owner["user_id"];
    w["owner_email"] = lo + "-owner@" + lo + ".example";
    w["owner_token"] = owner["access_token"];
    w["refresh"] = owner["refresh_token"];
    auto made = [&](const std::string& target, const json& body, const std::string& idem) {
      auto r = call("POST", target, owner, body.dump(), {{"Idempotency-Key", idem}});
      EXPECT_EQ(r.status, 201) << target << " " << r.body;
      return r.j();
    };
    auto m = made("/api/v1/monitors", {{"name", mark + " Monitor"}, {"url", "https://" + lo + "-site.example/"},
                                       {"interval_s", 60}},
                  lo + "-idem-monitor");
    w["monitor"] = m.value("monitor_id", "");
    w["monitor_name"] = mark + " Monitor";
    w["monitor_host"] = lo + "-site.example";
    auto push = made("/api/v1/monitors", {{"name", mark + " Push"}, {"kind", "push"}}, lo + "-idem-push");
    w["push_monitor"] = push.value("monitor_id", "");
    w["push_token"] = push.value("push_url", "").substr(std::string("/api/v1/push/").size());
    auto c = made("/api/v1/channels", {{"name", mark + " Channel"}, {"url", "https://" + lo + "-hook.example/h"},
                                       {"secret", mark + "-channel-secret"}},
                  lo + "-idem-channel");
    w["channel"] = c.value("channel_id", "");
    w["channel_name"] = mark + " Channel";
    w["channel_secret"] = mark + "-channel-secret";
    auto p = made("/api/v1/status-pages",
                  {{"slug", lo + "-page"}, {"title", mark + " Page Title"}, {"monitor_ids", {w["monitor"]}}},
                  lo + "-idem-page");
    w["page"] = p.value("page_id", "");
    w["slug"] = lo + "-page";
    w["page_title"] = mark + " Page Title";
    auto win = made("/api/v1/maintenance",
                    {{"title", mark + " Window"}, {"monitor_ids", {w["monitor"]}},
                     {"starts_at", "2099-03-01T00:00:00Z"}, {"ends_at", "2099-03-02T00:00:00Z"}},
                    lo + "-idem-window");
    w["window"] = win.value("window_id", "");
    w["window_title"] = mark + " Window";
    auto kr = made("/api/v1/api-keys", {{"name", mark + " Read Key"}, {"scope", "read"}}, lo + "-idem-key-r");
    auto kw = made("/api/v1/api-keys", {{"name", mark + " Write Key"}, {"scope", "read_write"}}, lo + "-idem-key-w");
    w["key_read"] = kr.value("key", "");
    w["key_read_id"] = kr.value("key_id", "");
    w["key_rw"] = kw.value("key", "");
    w["key_rw_id"] = kw.value("key_id", "");
    w["key_name"] = mark + " Read Key";
    auto viewer = add_member(owner, lo + "-viewer@" + lo + ".example", "viewer");
    w["viewer_token"] = viewer.value("access_token", "");
    w["viewer_user"] = viewer.value("user_id", "");
    w["viewer_email"] = lo + "-viewer@" + lo + ".example";
    // An incident: a failed check opens it, an ok one closes it (so
    // nothing about it changes with the clock).
    const std::int64_t t0 = kw::now().get() - 3600'000'000LL;
    for (int i = 0; i < 3; ++i) {
      command_meta cm;
      cm.command_id = new_id();
      cm.actor = system_actor();
      cm.time = timestamp{t0 + i * 60'000'000LL};
      const bool ok = i == 2;
      auto r = node_->execute(
          monitor::command{cm, {}, monitor::record_check{ok, 1000, ok ? 200 : 503, ok ? "" : "status 503",
                                                         std::nullopt, new_id()}},
          tenant_id{w["tenant"]}, w["monitor"]);
      EXPECT_TRUE(r.ok()) << r.err().message;
    }
    // Usage: API calls as the gateway records them.
    command_meta um;
    um.command_id = new_id();
    um.actor = system_actor();
    um.time = kw::now();
    EXPECT_TRUE(node_->execute(tenant::command{um, tenant::record_api_calls{"2026-11-30", 7}}, tenant_id{w["tenant"]})
                    .ok());
    w["month"] = "2026-11";
    w["asset"] = "app.js";
    return w;
  }

  // Until every projection has applied all of the log (so a read shows
  // every write made before).
  void settle() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      bool done = true;
      {
        pqxx::connection c(url_);
        pqxx::work w(c);
        for (auto t : {storage::topic::events, storage::topic::checks})
          for (int p = 0; p < node_->partitions(); ++p) {
            const auto end = node_->log().end_offset(t, partition_id{p})->get();
            if (end == 0) continue;
            auto r = w.exec_params("SELECT coalesce(min(next_offset), 0) FROM projection_offsets "
                                   "WHERE topic = $1 AND log_partition = $2",
                                   std::string(storage::topic_name(t)), p);
            if (r[0][0].as<std::int64_t>() < end) done = false;
          }
      }
      if (done || std::chrono::steady_clock::now() > deadline) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // What A's owner reads of A, every list.
  std::map<std::string, std::string> snapshot(const world& a) {
    settle();
    std::map<std::string, std::string> out;
    for (const std::string& t : std::vector<std::string>{"/api/v1/tenant", "/api/v1/monitors", "/api/v1/monitors/" + a.at("monitor"),
                                "/api/v1/monitors/" + a.at("monitor") + "/heartbeats", "/api/v1/channels",
                                "/api/v1/maintenance", "/api/v1/status-pages", "/api/v1/members", "/api/v1/api-keys",
                                "/api/v1/incidents", "/api/v1/usage", "/api/v1/audit?limit=200",
                                "/status/" + a.at("slug")}) {
      auto r = call("GET", t, a.at("owner_token"));
      EXPECT_EQ(r.status, 200) << t << " " << r.body;
      // Monitor hours grow with the clock, not with what anyone does.
      auto j = r.j();
      if (t == "/api/v1/usage" && j.is_object()) {
        for (auto& d : j["days"]) d.erase("monitor_hours");
        j["totals"].erase("monitor_hours");
      }
      out[t] = std::to_string(r.status) + " " + (t == "/api/v1/usage" ? j.dump() : r.body);
    }
    return out;
  }

  // A's strings that B must never read (unless B's own request carried it).
  std::vector<std::string> markers(const world& a) {
    std::vector<std::string> out;
    for (const char* k : {"tenant", "tenant_name", "owner_user", "owner_email", "owner_token", "refresh", "monitor",
                          "monitor_name", "monitor_host", "push_monitor", "push_token", "channel", "channel_name",
                          "channel_secret", "page", "slug", "page_title", "window", "window_title", "key_read",
                          "key_read_id", "key_rw", "key_rw_id", "key_name", "viewer_token", "viewer_user",
                          "viewer_email", "incident"})
      if (a.count(k) && !a.at(k).empty()) out.push_back(gateway::lower(a.at(k)));
    return out;
  }

  // The markers found in `r` that the request did not carry.
  std::vector<std::string> leaked(const std::vector<std::string>& marks, const std::string& request,
                                  const http_reply& r) {
    std::string seen = r.body;
    for (auto& [k, v] : r.headers) seen += "\n" + k + ": " + v;
    seen = gateway::lower(seen);
    const std::string asked = gateway::lower(request);
    std::vector<std::string> out;
    for (const auto& m : marks)
      if (asked.find(m) == std::string::npos && seen.find(m) != std::string::npos) out.push_back(m);
    return out;
  }
};

// ---------------------------------------------------------------- every route

TEST_P(IsolationApiTest, NoRouteLetsAnotherTenantsIdsHeadersOrTokensReachOrRevealATenant) {
  world a = make_tenant("ZQXA");
  world b = make_tenant("BQYB");
  // A member of B who is then removed: their token.
  auto gone = add_member(json{{"tenant_id", b["tenant"]}, {"user_id", b["owner_user"]}}, "bqyb-gone@bqyb.example",
                         "admin");
  {
    auto r = call("DELETE", "/api/v1/members/" + gone["user_id"].get<std::string>(), b["owner_token"]);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // A session of B's owner, logged out.
  auto out = login(b["owner_email"]);
  ASSERT_EQ(call("POST", "/api/v1/auth/logout", out).status, 204);

  // A's incident and the cursors of A's lists.
  settle();
  {
    auto r = call("GET", "/api/v1/incidents", a["owner_token"]);
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(r.j()["items"].size(), 1u) << r.body;
    a["incident"] = r.j()["items"][0]["incident_id"];
  }
  a["monitor_cursor"] = gateway::to_cursor(a["monitor"]);
  a["member_cursor"] = gateway::to_cursor(a["owner_user"]);
  a["refresh_spliced"] = a["refresh"].substr(0, 40) + b["refresh"].substr(40);

  const auto marks = markers(a);
  const auto a_before = snapshot(a);
  // The markers are real: A's owner reads them, and so does a platform
  // admin naming A (were the checks below refusing everyone, this fails).
  for (const std::string& m : {a["monitor_name"], a["page_title"]})
    ASSERT_NE(gateway::lower(a_before.at("/api/v1/monitors") + a_before.at("/status/" + a["slug"])).find(gateway::lower(m)),
              std::string::npos)
        << m;
  const auto admin = platform_admin();
  for (const std::string t : {"/api/v1/monitors", "/api/v1/members", "/api/v1/incidents", "/api/v1/channels"}) {
    auto r = call("GET", t, admin, "", {{"X-Tenant-ID", a["tenant"]}});
    EXPECT_EQ(r.status, 200) << t << " " << r.body;
    EXPECT_FALSE(leaked(marks, "", r).empty()) << "a platform admin naming A does not see A at " << t << ": " << r.body;
  }

  // B's callers, and forged credentials.
  const gateway::token_signer right(jwt_key), wrong("another-key-another-key-another-key-9876");
  const auto b_claims = json::parse(split_jwt(b["owner_token"]).payload);
  auto forge = [&](const std::string& tenant, const std::string& role, const std::string& sub) {
    auto p = b_claims;
    p["tenant"] = tenant;
    p["role"] = role;
    if (!sub.empty()) p["sub"] = sub;
    return p.dump();
  };
  const auto bt = split_jwt(b["owner_token"]);
  const std::int64_t now = gateway::unix_now();
  auto key_parts = [](const std::string& k) {  // kw_<tenant>_<secret>
    const auto us = k.rfind('_');
    return std::make_pair(k.substr(0, us), k.substr(us + 1));
  };
  const auto [a_key_head, a_key_secret] = key_parts(a["key_rw"]);
  const auto [b_key_head, b_key_secret] = key_parts(b["key_rw"]);
  const std::vector<std::pair<std::string, std::string>> forged = {
      {"alg none, A's owner",
       join_jwt(R"({"alg":"none","typ":"JWT"})", forge(a["tenant"], "owner", a["owner_user"]), "")},
      {"alg none, platform admin", join_jwt(R"({"alg":"none"})", forge("", "platform_admin", ""), "")},
      {"alg HS512 with B's signature", join_jwt(R"({"alg":"HS512","typ":"JWT"})", bt.payload, bt.signature)},
      {"B's payload made A's owner, B's signature",
       join_jwt(bt.header, forge(a["tenant"], "owner", a["owner_user"]), bt.signature)},
      {"B's payload made A's tenant, B's signature", join_jwt(bt.header, forge(a["tenant"], "owner", ""), bt.signature)},
      {"B's payload made platform admin, B's signature",
       join_jwt(bt.header, forge("", "platform_admin", ""), bt.signature)},
      {"A's owner signed with another key",
       wrong.issue({a["owner_user"], a["tenant"], "owner", now, now + 600, "jti-wrong-key"})},
      {"platform admin signed with another key",
       wrong.issue({admin["user_id"], "", "platform_admin", now, now + 600, "jti-wrong-key-2"})},
      {"A's owner, expired", right.issue({a["owner_user"], a["tenant"], "owner", now - 1200, now - 600, "jti-old"})},
      {"B's owner, expired", right.issue({b["owner_user"], b["tenant"], "owner", now - 1200, now - 1, "jti-old-2"})},
      {"B's owner token naming A's tenant (right key, another tenant)",
       right.issue({b["owner_user"], a["tenant"], "owner", now, now + 600, "jti-cross"})},
      {"removed member's token", gone["access_token"]},
      {"logged-out token", out["access_token"]},
      {"A's key id with B's secret", a_key_head + "_" + b_key_secret},
      {"B's key id with A's secret", b_key_head + "_" + a_key_secret},
      {"A's key truncated", a["key_rw"].substr(0, a["key_rw"].size() - 1)},
      {"A's key with a character more", a["key_rw"] + "0"},
      {"A's key in upper case", upper(a["key_rw"])},
      {"A's key, secret in upper case", a_key_head + "_" + upper(a_key_secret)},
      {"B's key with A's tenant id in upper case", "kw_" + upper(a["tenant"]) + "_" + b_key_secret},
      {"A's read key id with B's write secret", key_parts(a["key_read"]).first + "_" + b_key_secret},
      {"A's refresh token as a bearer", a["refresh"]},
      {"A's push token as a bearer", a["push_token"]},
      {"A's key id alone", key_parts(a["key_rw"]).first + "_"},
  };
  struct who {
    std::string label, credential;
    bool jwt;
  };
  const std::vector<who> b_callers = {{"B's owner", b["owner_token"], true},
                                      {"B's viewer", b["viewer_token"], true},
                                      {"B's read key", b["key_read"], false},
                                      {"B's read_write key", b["key_rw"], false}};

  int n = 0, probes = 0;
  std::set<std::string> in_table;
  auto target_of = [&](const gateway::route_info& rt, const route_entry& e) {
    std::string t = rt.pattern;
    const auto open = t.find('{');
    if (open != std::string::npos) t.replace(open, t.find('}') - open + 1, a.at(e.param));
    return t + fill(e.query, a);
  };
  auto with_query = [](const std::string& t, const std::string& q) {
    return t + (t.find('?') == std::string::npos ? "?" : "&") + q;
  };
  // One probe: never a 5xx, none of A's markers that the request did not
  // carry, and the status one of `allowed` (empty: any below 500).
  // Markers that anyone may read on the route being probed (A's public
  // status page shows its title and monitors to everyone).
  std::vector<std::string> public_marks;
  auto probe = [&](const std::string& label, const std::string& method, const std::string& target,
                   const std::string& credential, const std::string& body,
                   std::vector<std::pair<std::string, std::string>> headers, const std::set<int>& allowed) {
    ++probes;
    std::string asked = method + " " + target + "\n" + body + "\n";
    for (auto& m : public_marks) asked += m + "\n";
    for (auto& [k, v] : headers) asked += k + ": " + v + "\n";
    auto r = call(method, target, credential, body, headers);
    const std::string where = method + " " + target + " as " + label + " -> " + std::to_string(r.status) + " " +
                              r.body.substr(0, 300);
    EXPECT_NE(r.status, 0) << where;
    EXPECT_LT(r.status, 500) << where;
    if (!allowed.empty()) EXPECT_TRUE(allowed.count(r.status)) << where;
    const auto l = leaked(marks, asked, r);
    EXPECT_TRUE(l.empty()) << where << "\n  reveals A's: " << ::testing::PrintToString(l);
    return r;
  };

  for (const auto& rt : api_->routes().routes()) {
    const std::string key = rt.method + " " + rt.pattern;
    in_table.insert(key);
    auto it = matrix().find(key);
    if (it == matrix().end()) {
      ADD_FAILURE() << "route " << key << " has no entry in the isolation matrix (isolation_api_test.cpp)";
      continue;
    }
    const route_entry& e = it->second;
    const bool has_param = rt.pattern.find('{') != std::string::npos;
    const bool write = rt.method != "GET";
    world aw = a;
    aw["n"] = std::to_string(++n);
    const std::string target = target_of(rt, e);
    const std::string a_body = fill(e.a_body, aw);

    // What anyone gets, for the routes that need no credential.
    const auto anonymous = call(rt.method, target, std::string(), a_body);
    std::set<int> as_anonymous = {anonymous.status};
    // Push beats are limited per token, whether or not a monitor has it.
    if (rt.pattern.rfind("/api/v1/push/", 0) == 0) as_anonymous.insert(429);
    public_marks.clear();
    if (e.how == reach::open) public_marks = leaked(marks, "", anonymous);

    // The statuses B's own callers may get with A's ids.
    std::set<int> refused = {403, 404};
    if (write) refused.insert({409, 422});
    if (e.how == reach::platform) refused = {403};
    std::set<int> by_b;
    if (e.how == reach::open || e.how == reach::sign_in) by_b = as_anonymous;
    else if (has_param || (write && e.how == reach::tenant)) by_b = refused;
    // else: a list or B's own state; any non-5xx, no markers.

    for (const auto& c : b_callers) {
      std::string cred = c.credential;
      if (e.spends_token && c.jwt) cred = login(c.label == "B's owner" ? b["owner_email"] : b["viewer_email"])["access_token"];
      // A's ids.
      const std::vector<std::pair<std::string, std::string>> h;
      std::set<int> expect = by_b;
      if (e.spends_token && !c.jwt) expect = {400};
      if (e.how == reach::identity && !e.spends_token) expect = {};
      auto with_a = probe(c.label + " with A's ids", rt.method, target, cred, a_body, h, expect);
      // A's id answers exactly as an id nobody has: no existence oracle.
      if (has_param && (e.how == reach::tenant || e.how == reach::platform) && !e.spends_token) {
        const std::string real = a.at(e.param);
        std::string fake = real;
        fake.replace(fake.size() - 4, 4, real.substr(real.size() - 4) == "0000" ? "1111" : "0000");
        std::string fake_target = rt.pattern;
        const auto open = fake_target.find('{');
        fake_target.replace(open, fake_target.find('}') - open + 1, fake);
        auto with_fake = call(rt.method, fake_target + fill(e.query, a), cred, a_body, h);
        auto normal = [&](std::string body, const std::string& id) {
          for (auto at = body.find(id); at != std::string::npos; at = body.find(id, at)) body.replace(at, id.size(), "{id}");
          const auto rid = body.find("\"request_id\":\"");
          if (rid != std::string::npos) body.erase(rid, body.find('"', rid + 14) + 1 - rid);
          return body;
        };
        EXPECT_EQ(with_a.status, with_fake.status) << key << " as " << c.label << ": " << with_a.body << " vs "
                                                   << with_fake.body;
        EXPECT_EQ(normal(with_a.body, real), normal(with_fake.body, fake)) << key << " as " << c.label;
      }
      // X-Tenant-ID: A — a 404 wherever a tenant is acted on; ignored elsewhere.
      if (e.spends_token && c.jwt) cred = login(c.label == "B's owner" ? b["owner_email"] : b["viewer_email"])["access_token"];
      std::set<int> header_expect = expect;
      if (e.how == reach::tenant || e.how == reach::platform) header_expect = {404};
      if (e.how == reach::platform) header_expect = {403, 404};
      auto r = probe(c.label + " with X-Tenant-ID: A", rt.method, target, cred, a_body,
                     {{"X-Tenant-ID", a["tenant"]}}, header_expect);
      if (key == "GET /api/v1/me") EXPECT_EQ(r.j().value("tenant_id", ""), b["tenant"]) << c.label << " " << r.body;
      // ?tenant=A, with A's ids, and with a body valid for B's own tenant.
      if (e.spends_token && c.jwt) cred = login(c.label == "B's owner" ? b["owner_email"] : b["viewer_email"])["access_token"];
      // (A refusal of the unknown parameter, 422, is fine too.)
      std::set<int> query_expect = e.how == reach::tenant || e.how == reach::platform ? by_b : std::set<int>{};
      if (!query_expect.empty()) query_expect.insert(422);
      probe(c.label + " with ?tenant=A", rt.method, with_query(target, "tenant=" + a["tenant"]), cred, a_body, {},
            query_expect);
      // B's own object, linked to A's things: refused. (Before B's own
      // creates below, which would use up the plan's quota.)
      for (const auto& [own_param, own_body] : e.own) {
        std::string own = rt.pattern;
        const auto open = own.find('{');
        if (open != std::string::npos) own.replace(open, own.find('}') - open + 1, b.at(own_param));
        probe(c.label + " linking its own object to A's", rt.method, own, cred, fill(own_body, aw), {},
              {403, 404, 409, 422});
      }
      // ?tenant=A with a body valid for B, under A's Idempotency-Key: B's own
      // write or a refusal, never A's earlier answer.
      if (!e.b_body.empty()) {
        auto own = probe(c.label + " with ?tenant=A and its own body", rt.method,
                         with_query(rt.pattern, "tenant=" + a["tenant"]), cred, fill(e.b_body, aw),
                         {{"Idempotency-Key", e.a_idem}}, {});
        // B's first use of the key (its owner's) is no replay.
        if (c.label == "B's owner" && own.status < 300) EXPECT_NE(own.j().value("duplicate", false), true) << own.body;
      }
    }
    // Forged credentials, plain and naming A: refused as unauthenticated
    // wherever a credential is read.
    for (const auto& [label, cred] : forged) {
      std::set<int> expect = {401};
      if (e.how == reach::open || e.how == reach::sign_in) expect = as_anonymous;
      if (key == "GET /metrics") expect = {401, 403};
      probe(label, rt.method, target, cred, a_body, {}, expect);
      probe(label + " with X-Tenant-ID: A", rt.method, target, cred, a_body, {{"X-Tenant-ID", a["tenant"]}}, expect);
    }
  }
  for (const auto& [key, e] : matrix())
    EXPECT_TRUE(in_table.count(key)) << "the isolation matrix names " << key << ", which is not a route";

  // Nothing of A changed, and A's owner still refreshes.
  const auto a_after = snapshot(a);
  for (const auto& [t, before] : a_before) {
    const std::string& after = a_after.at(t);
    std::size_t k = 0;
    while (k < before.size() && k < after.size() && before[k] == after[k]) ++k;
    EXPECT_EQ(before, after) << t << " changed, from byte " << k << ": before ..."
                             << before.substr(k < 200 ? 0 : k - 200, 400) << "\n after ..."
                             << after.substr(k < 200 ? 0 : k - 200, 400);
  }
  auto r = call("POST", "/api/v1/auth/refresh", std::string(), json{{"refresh_token", a["refresh"]}}.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  // A's logins are still there (B's member routes never reach A's users).
  EXPECT_EQ(login(a["owner_email"]).value("tenant_id", ""), a["tenant"]);
  EXPECT_EQ(login(a["viewer_email"]).value("role", ""), "viewer");
  std::cout << "[ isolation ] " << probes << " probes over " << in_table.size() << " routes\n";
}

// ---------------------------------------------------------------- the live stream

TEST_P(IsolationApiTest, BsLiveStreamNeverCarriesAsEventsAndCannotBePointedAtA) {
  world a = make_tenant("ZQXA");
  world b = make_tenant("BQYB");
  const auto marks = markers(a);
  const std::uint16_t port = server_->port();
  const auto bearer = [](const std::string& c) { return std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer " + c}}; };

  // Pointed at A by a non-admin: refused before the upgrade, as a 404.
  for (const auto& [label, cred] : std::vector<std::pair<std::string, std::string>>{
           {"owner", b["owner_token"]}, {"viewer", b["viewer_token"]}, {"read key", b["key_read"]}}) {
    stream_client s1, s2, s3;
    auto h = bearer(cred);
    h.emplace_back("X-Tenant-ID", a["tenant"]);
    EXPECT_FALSE(s1.open(port, "/api/v1/stream", h)) << label;
    EXPECT_EQ(s1.status, 404) << label << " " << s1.body;
    EXPECT_FALSE(s2.open(port, "/api/v1/stream?tenant=" + a["tenant"], bearer(cred))) << label;
    EXPECT_EQ(s2.status, 404) << label << " " << s2.body;
    if (label != "read key") {
      EXPECT_FALSE(s3.open(port, "/api/v1/stream?access_token=" + cred + "&tenant=" + a["tenant"])) << label;
      EXPECT_EQ(s3.status, 404) << label << " " << s3.body;
    }
    EXPECT_TRUE(leaked(marks, a["tenant"], http_reply{s1.status, {}, s1.body + s2.body + s3.body}).empty())
        << s1.body << s2.body << s3.body;
  }
  // Forged: not upgraded.
  {
    stream_client s;
    const auto bt = split_jwt(b["owner_token"]);
    auto p = json::parse(bt.payload);
    p["tenant"] = a["tenant"];
    EXPECT_FALSE(s.open(port, "/api/v1/stream", bearer(join_jwt(bt.header, p.dump(), bt.signature))));
    EXPECT_EQ(s.status, 401) << s.body;
  }

  // B's streams (token, key, viewer) and a platform admin's on A.
  stream_client sb_owner, sb_key, sb_viewer, admin_a;
  ASSERT_TRUE(sb_owner.open(port, "/api/v1/stream", bearer(b["owner_token"]))) << sb_owner.status << sb_owner.body;
  ASSERT_TRUE(sb_key.open(port, "/api/v1/stream", bearer(b["key_read"]))) << sb_key.status << sb_key.body;
  ASSERT_TRUE(sb_viewer.open(port, "/api/v1/stream?access_token=" + b["viewer_token"])) << sb_viewer.status;
  const auto admin = platform_admin();
  auto ah = bearer(admin["access_token"]);
  ah.emplace_back("X-Tenant-ID", a["tenant"]);
  ASSERT_TRUE(admin_a.open(port, "/api/v1/stream", ah)) << admin_a.status << admin_a.body;

  // A's events, then B's own last: once B's streams have B's, A's would
  // have come before them (one feed, in log order per partition; and the
  // admin's stream shows A's did come).
  auto late_a = call("POST", "/api/v1/monitors", a["owner_token"],
                     json{{"name", "ZQXA Late Monitor"}, {"url", "https://zqxa-late.example/"}}.dump());
  ASSERT_EQ(late_a.status, 201) << late_a.body;
  const std::string late_id = late_a.j()["monitor_id"];
  ASSERT_EQ(call("POST", "/api/v1/monitors/" + a["monitor"] + "/pause", a["owner_token"]).status, 200);
  auto late_b = call("POST", "/api/v1/monitors", b["owner_token"],
                     json{{"name", "BQYB Late Monitor"}, {"url", "https://bqyb-late.example/"}}.dump());
  ASSERT_EQ(late_b.status, 201) << late_b.body;
  const std::string b_late_id = late_b.j()["monitor_id"];
  EXPECT_TRUE(eventually([&] { return admin_a.all().find(late_id) != std::string::npos; }, 20)) << admin_a.all();
  for (auto* s : {&sb_owner, &sb_key, &sb_viewer})
    EXPECT_TRUE(eventually([&] { return s->all().find(b_late_id) != std::string::npos; }, 20)) << s->all();
  std::vector<std::string> all_marks = marks;
  all_marks.push_back(gateway::lower(late_id));
  for (auto* s : {&sb_owner, &sb_key, &sb_viewer}) {
    const auto l = leaked(all_marks, "", http_reply{200, {}, s->all()});
    EXPECT_TRUE(l.empty()) << "B's stream carried A's: " << ::testing::PrintToString(l) << "\n" << s->all();
  }
}

KW_API_TEST_SUITE(IsolationApiTest);

}  // namespace kw::test
