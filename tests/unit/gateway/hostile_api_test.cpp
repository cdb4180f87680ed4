// Hostile and unlucky requests, through the real HTTP API: a body nested
// without end, ids and numbers that are not what they claim, read-your-writes
// with nonsense, a tenant that cannot be reached at login or sign-up, a
// made-up API key for a sleeping tenant, /metrics from the same machine, and
// one tenant's gateway session looking at another tenant's logins.
#include <algorithm>
#include <memory>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "gateway/api_context.hpp"
#include "gateway/api_fixture.hpp"

namespace kw::test {
namespace {

class HostileApiTest : public api_test {
protected:
  // The node stops (its tenants' actors no longer answer); PostgreSQL and
  // the HTTP server stay. The readers of its log stop first.
  void stop_node() {
    views_->stop();
    feed_->stop();
    node_->stop();
  }

  // The node and everything over it stopped and started again on the same
  // data and database (the tenants recover from the log).
  void restart_node() {
    if (server_) server_->stop();
    server_.reset();
    if (feed_) feed_->stop();
    feed_.reset();
    api_.reset();
    if (views_) views_->stop();
    views_.reset();
    if (node_) node_->stop();
    node_.reset();
    auto o = env_->options(dir_.path.string());
    o.plans = plans_;
    tweak(o);
    auto n = node::start(o);
    ASSERT_TRUE(n.ok()) << n.err().message;
    node_ = std::move(*n);
    kw::projections::service_options so;
    so.runner.database_url = url_;
    so.runner.poll_timeout = std::chrono::milliseconds(20);
    if (o.kafka) so.runner.kafka = &kafka_;
    auto svc = kw::projections::service::start(node_->log(), so);
    ASSERT_TRUE(svc.ok()) << svc.err().message;
    views_ = std::move(*svc);
    gateway::api_options ao;
    ao.database_url = url_;
    ao.jwt_key = "test-key-test-key-test-key-test-key-0123";
    ao.cost = gateway::password_cost::fast;
    ao.plans = plans_;
    ao.api_calls_flush_s = 3600;
    ao.metrics_token = metrics_token();
    api_ = std::make_unique<gateway::api>(*node_, ao);
    auto f = gateway::live_feed::start(node_->log());
    ASSERT_TRUE(f.ok()) << f.err().message;
    feed_ = std::move(*f);
    gateway::server_options so2;
    so2.threads = 4;
    auto* a = api_.get();
    so2.authorize_stream = [a](const gateway::http_request& q) { return a->stream_tenant(q); };
    so2.stream_feed = feed_.get();
    auto s = gateway::server::start(so2, [a](const gateway::http_request& q) { return a->handle(q); });
    ASSERT_TRUE(s.ok()) << s.err().message;
    server_ = std::move(*s);
  }

  static std::string error_message(const http_reply& r) {
    auto j = r.j();
    return j.is_object() && j.contains("error") ? j["error"].value("message", "") : "";
  }
  static bool names_field(const http_reply& r, const std::string& field) {
    auto j = r.j();
    if (!j.is_object() || !j.contains("error") || !j["error"].contains("details")) return false;
    for (auto& d : j["error"]["details"])
      if (d.value("field", "") == field) return true;
    return false;
  }
};

// ---------------------------------------------------------------- 1: depth

TEST_P(HostileApiTest, ABodyNestedWithoutEndIsA400AndTheNodeServesEveryoneAfter) {
  auto a = signup("a@example.com", "Tenant A");
  const auto before = events_in_log();
  // 400 KB, under the body limit: 200,000 '[' then as many ']'.
  const std::string deep = R"({"name":)" + std::string(200000, '[') + std::string(200000, ']') + "}";
  auto r = call("POST", "/api/v1/monitors", a, deep);
  EXPECT_EQ(r.status, 400) << r.body.substr(0, 300);
  EXPECT_NE(error_message(r).find("nested deeper than 32"), std::string::npos) << r.body;
  // Just past the limit, and inside strings (which do not nest).
  std::string just_past = R"({"name":)" + std::string(32, '[') + std::string(32, ']') + "}";
  EXPECT_EQ(call("POST", "/api/v1/monitors", a, just_past).status, 400);
  EXPECT_EQ(call("POST", "/api/v1/monitors", a, R"({"name":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"[[[[","url":"https://a.example/"})")
                .status,
            201);
  EXPECT_EQ(events_in_log(), before + 1);  // only the last one
  // Every route that reads a body, and the node still answers.
  EXPECT_EQ(call("POST", "/api/v1/auth/login", std::string(), deep).status, 400);
  EXPECT_EQ(call("POST", "/api/v1/channels", a, deep).status, 400);
  EXPECT_EQ(call("GET", "/healthz", std::string()).status, 200);
  EXPECT_EQ(call("GET", "/api/v1/monitors", a).status, 200);
}

// ---------------------------------------------------------------- 2: ids and numbers

TEST_P(HostileApiTest, PathIdsThatAreNotUtf8AreA400NamingThemOnEveryRoute) {
  auto a = signup("a@example.com", "Tenant A");
  auto r = call("GET", "/api/v1/monitors/%FF", a);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_TRUE(names_field(r, "id")) << r.body;
  r = call("GET", "/api/v1/channels/%FF", a);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_TRUE(names_field(r, "id")) << r.body;
  const auto before = events_in_log();
  // Every route with a path parameter, every method: never a 5xx.
  for (const auto& route : api_->routes().routes()) {
    if (route.pattern.find('{') == std::string::npos) continue;
    std::string target;
    for (std::size_t i = 0; i < route.pattern.size(); ++i) {
      if (route.pattern[i] == '{') {
        target += "%FF%FE";
        i = route.pattern.find('}', i);
      } else {
        target += route.pattern[i];
      }
    }
    auto res = call(route.method, target, a, route.method == "GET" || route.method == "DELETE" ? "" : "{}");
    EXPECT_GE(res.status, 400) << route.method << " " << target << ": " << res.body;
    EXPECT_LT(res.status, 500) << route.method << " " << target << ": " << res.body;
  }
  EXPECT_EQ(events_in_log(), before);
}

TEST_P(HostileApiTest, CursorsAndNumbersThatOverflowAreA422NamingThem) {
  auto a = signup("a@example.com", "Tenant A");
  auto made = call("POST", "/api/v1/monitors", a, R"({"name":"m","url":"https://a.example/"})");
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string id = made.j()["monitor_id"];
  const std::vector<std::string> bad_cursors = {
      gateway::to_cursor("99999999999999999999:x"), gateway::to_cursor("9999999999999999999:x"),
      gateway::to_cursor("-9223372036854775808:x"), gateway::to_cursor("9223372036854775807:1:2")};
  for (const auto& c : bad_cursors) {
    for (const std::string& list : std::vector<std::string>{"/api/v1/incidents", "/api/v1/audit", "/api/v1/monitors/" + id + "/heartbeats"}) {
      auto r = call("GET", list + "?cursor=" + c, a);
      EXPECT_EQ(r.status, 422) << list << " " << r.body;
      EXPECT_TRUE(names_field(r, "cursor")) << list << " " << r.body;
    }
  }
  for (const std::string q : {"limit=99999999999999999999", "limit=-1", "limit=1x", "from=99999999999999999999",
                              "to=1e99"}) {
    auto r = call("GET", "/api/v1/incidents?" + q, a);
    EXPECT_EQ(r.status, 422) << q << " " << r.body;
    EXPECT_TRUE(names_field(r, q.substr(0, q.find('=')))) << q << " " << r.body;
  }
}

// ---------------------------------------------------------------- 3: read-your-writes

TEST_P(HostileApiTest, WaitForWithNonsenseIsA422NamingItAndAWriteIsReadBack) {
  auto a = signup("a@example.com", "Tenant A");
  auto made = call("POST", "/api/v1/monitors", a, R"({"name":"m","url":"https://a.example/"})");
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string id = made.j()["monitor_id"];
  for (const std::string q : {"wait_for=99:0", "wait_for=-1:0", "wait_for=0:-1", "wait_for=x", "wait_for=1",
                              "wait_for=0:99999999999999999999", "wait_for=:", "wait_ms=-5", "wait_ms=abc",
                              "wait_ms=10001", "wait_ms=99999999999999999999"}) {
    auto r = call("GET", "/api/v1/monitors/" + id + "?" + q, a);
    EXPECT_EQ(r.status, 422) << q << " " << r.body;
    EXPECT_TRUE(names_field(r, q.substr(0, q.find('=')))) << q << " " << r.body;
    EXPECT_NE(error_message(r), "") << q;
  }
  // A write's own position is waited for and read back, not stale.
  auto r = call("GET", "/api/v1/monitors/" + id + "?wait_for=" + position(made.j()) + "&wait_ms=10000", a);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-keepwatch-stale"), "");
  // A position nobody has written yet: the read answers when wait_ms is up,
  // marked stale.
  const int p = made.j()["partition"];
  r = call("GET", "/api/v1/monitors/" + id + "?wait_for=" + std::to_string(p) + ":1000000&wait_ms=200", a);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-keepwatch-stale"), "true");
}

// ---------------------------------------------------------------- 5: unreachable tenants

TEST_P(HostileApiTest, ALoginWhoseTenantCannotBeReachedIsA503NotAWrongPassword) {
  signup("a@example.com", "Tenant A");
  stop_node();  // the tenant's actor can no longer answer; PostgreSQL can
  auto r = call("POST", "/api/v1/auth/login", std::string(),
                json{{"email", "a@example.com"}, {"password", test_password()}}.dump());
  EXPECT_EQ(r.status, 503) << r.body;
  // A wrong password is still just that.
  r = call("POST", "/api/v1/auth/login", std::string(),
           json{{"email", "a@example.com"}, {"password", "not the password"}}.dump());
  EXPECT_EQ(r.status, 401) << r.body;
}

TEST_P(HostileApiTest, ASignUpOfUnknownOutcomeKeepsTheLoginAndItsRetryFinishesIt) {
  stop_node();
  const std::string body =
      json{{"email", "new@example.com"}, {"password", test_password()}, {"tenant_name", "New"}}.dump();
  auto r = call("POST", "/api/v1/auth/signup", std::string(), body, {{"Idempotency-Key", "signup-1"}});
  EXPECT_EQ(r.status, 503) << r.body;
  {
    pqxx::connection c(url_);
    pqxx::work w(c);
    EXPECT_EQ(w.exec("SELECT 1 FROM users WHERE email = 'new@example.com'").size(), 1u)
        << "an unknown outcome deleted the login";
  }
  restart_node();
  // Another key, or another password, is someone else: the email is taken.
  EXPECT_EQ(call("POST", "/api/v1/auth/signup", std::string(), body, {{"Idempotency-Key", "signup-2"}}).status, 409);
  EXPECT_EQ(call("POST", "/api/v1/auth/signup", std::string(),
                 json{{"email", "new@example.com"}, {"password", "another password!"}, {"tenant_name", "New"}}.dump(),
                 {{"Idempotency-Key", "signup-1"}})
                .status,
            409);
  r = call("POST", "/api/v1/auth/signup", std::string(), body, {{"Idempotency-Key", "signup-1"}});
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string tenant = r.j()["tenant_id"];
  auto in = login("new@example.com");
  EXPECT_EQ(in.value("tenant_id", ""), tenant);
  EXPECT_EQ(in.value("role", ""), "owner");
  EXPECT_EQ(call("GET", "/api/v1/me", in).status, 200);
}

// ---------------------------------------------------------------- 6: made-up API keys

class SleepyTenantApiTest : public HostileApiTest {
protected:
  void tweak(node_options& o) override { o.passivate_after_s = 1; }
};

TEST_P(SleepyTenantApiTest, AMadeUpApiKeyDoesNotWakeASleepingTenant) {
  auto a = signup("a@example.com", "Tenant A");
  const std::string tenant = a["tenant_id"];
  auto key = call("POST", "/api/v1/api-keys", a, R"({"name":"ci","scope":"read"})");
  ASSERT_EQ(key.status, 201) << key.body;
  const std::string good = key.j()["key"];
  // The node's log says when a tenant goes to sleep (passivates).
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100000);
  auto logger = spdlog::default_logger();
  const auto old_level = logger->level();
  for (auto& s : logger->sinks()) s->set_level(std::max(old_level, spdlog::level::info));
  logger->sinks().push_back(sink);
  logger->set_level(spdlog::level::debug);
  auto sleeps = [&] {
    int n = 0;
    for (const auto& line : sink->last_formatted())
      if (line.find("tenant " + tenant + " passivated") != std::string::npos) ++n;
    return n;
  };
  ASSERT_TRUE(eventually([&] { return sleeps() >= 1; }, 20)) << "the tenant never went to sleep";
  const int asleep = sleeps();
  // Made-up keys of that tenant, of the right form and not.
  for (int i = 0; i < 5; ++i) {
    const std::string fake = "kw_" + tenant + "_" + gateway::random_hex(32);
    EXPECT_EQ(call("GET", "/api/v1/monitors", fake).status, 401);
  }
  EXPECT_EQ(call("GET", "/api/v1/monitors", "kw_" + tenant + "_short").status, 401);
  // Woken, it would have gone to sleep again within about a second.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(sleeps(), asleep) << "a made-up key woke the tenant";
  // Its real key still works (and wakes it).
  EXPECT_EQ(call("GET", "/api/v1/monitors", good).status, 200);
  logger->sinks().pop_back();
  logger->set_level(old_level);
}

// ---------------------------------------------------------------- 7: /metrics

TEST_P(HostileApiTest, MetricsNeedTheScrapeTokenOrAPlatformAdminEvenFromLoopback) {
  auto a = signup("a@example.com", "Tenant A");
  // This test's client is on 127.0.0.1, as a monitor of this node would be.
  auto r = call("GET", "/metrics", std::string());
  EXPECT_EQ(r.status, 401) << r.body.substr(0, 200);
  EXPECT_EQ(call("GET", "/metrics", std::string("wrong-token")).status, 401);
  EXPECT_EQ(call("GET", "/metrics", a).status, 403);
  r = call("GET", "/metrics", std::string(metrics_token()));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("keepwatch_http_requests_total"), std::string::npos);
  EXPECT_EQ(call("GET", "/metrics", platform_admin()).status, 200);
}

// ---------------------------------------------------------------- 8: users under RLS

TEST_P(HostileApiTest, AGatewaySessionSeesOnlyItsTenantsLogins) {
  auto a = signup("a@example.com", "Tenant A");
  auto b = signup("b@example.com", "Tenant B");
  pqxx::connection c(gateway::app_url_from(url_));
  auto emails = [&](const std::string& tenant) {
    pqxx::work w(c);
    w.exec_params("SELECT set_config('keepwatch.tenant_id', $1, true)", tenant);
    std::vector<std::string> out;
    for (const auto& row : w.exec("SELECT email FROM users ORDER BY email")) out.push_back(row[0].c_str());
    return out;
  };
  EXPECT_EQ(emails(a["tenant_id"]), std::vector<std::string>{"a@example.com"});
  EXPECT_EQ(emails(b["tenant_id"]), std::vector<std::string>{"b@example.com"});
  EXPECT_TRUE(emails("").empty());
  {
    pqxx::work w(c);
    w.exec_params("SELECT set_config('keepwatch.tenant_id', $1, true)", a["tenant_id"].get<std::string>());
    EXPECT_EQ(w.exec("UPDATE users SET password_hash = 'x' WHERE email = 'b@example.com'").affected_rows(), 0u);
    EXPECT_EQ(w.exec("DELETE FROM users WHERE email = 'b@example.com'").affected_rows(), 0u);
  }
  // Login, refresh, logout and a platform admin still work through the API.
  auto in = login("b@example.com");
  auto r = call("POST", "/api/v1/auth/refresh", std::string(),
                json{{"refresh_token", in["refresh_token"]}}.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(call("GET", "/api/v1/tenants", platform_admin()).status, 200);
}

}  // namespace

KW_API_TEST_SUITE(HostileApiTest);
KW_API_TEST_SUITE(SleepyTenantApiTest);

}  // namespace kw::test
