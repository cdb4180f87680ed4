// Where tenants' monitors and webhooks may point, through the API as a client
// meets it: a target server the test starts on 127.0.0.1 stands for what
// lies behind the node (its /metrics, PostgreSQL, a service on the private
// network). With the default policy a literal loopback target is a 422
// naming the field and appends nothing; a name resolving to loopback
// (`localhost`) is accepted, and its check fails with the policy's reason
// without the server ever being contacted; a webhook by such a name is never
// POSTed to. With allow_private_targets the same server is checked, but the
// node's own gateway port still is not.
#include <atomic>

#include "actors/checks/test_http_server.hpp"
#include "events/codec.hpp"
#include "gateway/api_fixture.hpp"

namespace kw::test {
namespace {

template <class T>
std::vector<T> events_of(node& n, storage::topic t) {
  std::vector<T> out;
  for (int p = 0; p < n.partitions(); ++p) {
    auto recs = n.log().read(t, partition_id{p}, log_offset{0}, 1000000);
    if (!recs) continue;
    for (auto& r : *recs)
      if (auto e = decode(r.value))
        if (auto* x = std::get_if<T>(&e->data)) out.push_back(*x);
  }
  return out;
}

std::string field_message(const http_reply& r) { return r.j()["error"].value("message", ""); }

// --- the default policy: no loopback, no private networks ------------------

class TargetsApiTest : public api_test {
protected:
  void tweak(node_options& o) override {
    o.run_checks = true;
    o.allow_private_targets = false;  // the default of checks.allow_private_targets
  }
};

TEST_P(TargetsApiTest, a_literal_loopback_monitor_target_is_a_422_naming_the_field_and_appends_nothing) {
  test_http_server inside([](const test_request&) { return test_response{200, "keepwatch_up 1"}; });
  auto a = signup("a@example.com", "A");
  const auto before = events_in_log();
  auto r = call("POST", "/api/v1/monitors", a,
                json{{"name", "m"}, {"kind", "keyword"}, {"keyword", "keepwatch_"}, {"url", inside.url("/metrics")},
                     {"interval_s", 1}, {"timeout_ms", 500}}
                    .dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.j()["error"]["code"], "invalid");
  EXPECT_EQ(field_message(r).rfind("url: target address 127.0.0.1 is not allowed: loopback", 0), 0u) << r.body;

  r = call("POST", "/api/v1/monitors", a,
           json{{"name", "db"}, {"kind", "tcp"}, {"host", "127.0.0.1"}, {"port", inside.port()}, {"interval_s", 1},
                {"timeout_ms", 500}}
               .dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(field_message(r).rfind("host: target address 127.0.0.1 is not allowed", 0), 0u) << r.body;

  r = call("POST", "/api/v1/monitors", a,
           json{{"name", "meta"}, {"url", "http://169.254.169.254/latest/meta-data/"}, {"interval_s", 60}}.dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(field_message(r).find("cloud metadata endpoint"), std::string::npos) << r.body;

  r = call("POST", "/api/v1/monitors", a,
           json{{"name", "private"}, {"url", "http://10.0.0.5/"}, {"interval_s", 60}}.dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(field_message(r).find("target address 10.0.0.5 is not allowed: private network"), std::string::npos)
      << r.body;

  EXPECT_EQ(events_in_log(), before);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(inside.connection_count(), 0u);
}

TEST_P(TargetsApiTest, a_public_target_changed_to_a_literal_loopback_one_is_a_422) {
  auto a = signup("a@example.com", "A");
  auto r = call("POST", "/api/v1/monitors", a,
                json{{"name", "m"}, {"url", "https://a.example/"}, {"interval_s", 60}}.dump());
  ASSERT_EQ(r.status, 201) << r.body;
  const auto id = r.j()["monitor_id"].get<std::string>();
  const auto before = events_in_log();
  r = call("PATCH", "/api/v1/monitors/" + id, a, json{{"url", "http://[::1]:5432/"}}.dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(field_message(r).rfind("url: target address ::1 is not allowed: loopback", 0), 0u) << r.body;
  EXPECT_EQ(events_in_log(), before);
}

TEST_P(TargetsApiTest, a_name_resolving_to_loopback_fails_its_check_and_its_webhook_is_never_sent) {
  std::atomic<int> hits{0};
  test_http_server inside([&](const test_request&) {
    ++hits;
    return test_response{200, "keepwatch_up 1"};
  });
  auto a = signup("a@example.com", "A");
  const auto by_name = "http://localhost:" + std::to_string(inside.port());

  // A webhook channel on a literal loopback address: refused, naming the field.
  auto r = call("POST", "/api/v1/channels", a, json{{"name", "ops"}, {"url", inside.url("/healthz")}}.dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(field_message(r).rfind("url: target address 127.0.0.1 is not allowed: loopback", 0), 0u) << r.body;
  // By name it is accepted (names are judged when used)...
  r = call("POST", "/api/v1/channels", a, json{{"name", "ops"}, {"url", by_name + "/hook"}}.dump());
  ASSERT_EQ(r.status, 201) << r.body;
  const auto channel = r.j()["channel_id"].get<std::string>();

  r = call("POST", "/api/v1/monitors", a,
           json{{"name", "m"}, {"kind", "keyword"}, {"keyword", "keepwatch_"}, {"url", by_name + "/metrics"},
                {"interval_s", 1}, {"timeout_ms", 500}, {"channel_ids", {channel}}}
               .dump());
  ASSERT_EQ(r.status, 201) << r.body;
  const auto id = r.j()["monitor_id"].get<std::string>();

  // ...and the check fails with the policy's reason, so the monitor goes down
  // and the channel is notified: that delivery fails the same way.
  ASSERT_TRUE(eventually([&] { return !events_of<check_completed>(*node_, storage::topic::checks).empty(); }));
  auto checks = events_of<check_completed>(*node_, storage::topic::checks);
  EXPECT_FALSE(checks[0].ok);
  EXPECT_EQ(checks[0].monitor_id, id);
  EXPECT_EQ(checks[0].error.rfind("target address ", 0), 0u) << checks[0].error;
  EXPECT_NE(checks[0].error.find("is not allowed: loopback"), std::string::npos) << checks[0].error;

  ASSERT_TRUE(eventually([&] { return !events_of<notification_failed>(*node_, storage::topic::events).empty(); }, 20));
  auto failed = events_of<notification_failed>(*node_, storage::topic::events);
  EXPECT_EQ(failed[0].channel_id, channel);
  EXPECT_EQ(failed[0].attempts, 1);  // a refusal is not retried
  EXPECT_NE(failed[0].error.find("is not allowed: loopback"), std::string::npos) << failed[0].error;
  EXPECT_EQ(hits.load(), 0);
  EXPECT_EQ(inside.connection_count(), 0u);
}

KW_API_TEST_SUITE(TargetsApiTest);

// --- allow_private_targets: the node's own machine, but not its own ports ---

class PrivateTargetsApiTest : public api_test {
protected:
  void tweak(node_options& o) override {
    o.run_checks = true;
    o.allow_private_targets = true;
  }
  void SetUp() override {
    api_test::SetUp();
    // As `keepwatch serve` does once its gateway listens (cluster/main.cpp).
    if (server_) node_->listening_on(server_->port());
  }
};

TEST_P(PrivateTargetsApiTest, a_loopback_target_is_checked) {
  test_http_server inside([](const test_request&) { return test_response{200, "keepwatch_up 1"}; });
  auto a = signup("a@example.com", "A");
  auto r = call("POST", "/api/v1/monitors", a,
                json{{"name", "m"}, {"kind", "keyword"}, {"keyword", "keepwatch_"}, {"url", inside.url("/metrics")},
                     {"interval_s", 1}, {"timeout_ms", 500}}
                    .dump());
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_TRUE(eventually([&] { return !events_of<check_completed>(*node_, storage::topic::checks).empty(); }));
  auto checks = events_of<check_completed>(*node_, storage::topic::checks);
  EXPECT_TRUE(checks[0].ok) << checks[0].error;
  EXPECT_GE(inside.request_count(), 1u);
}

TEST_P(PrivateTargetsApiTest, the_nodes_own_gateway_port_is_refused_even_so) {
  auto a = signup("a@example.com", "A");
  const auto before = events_in_log();
  const auto port = std::to_string(server_->port());
  auto r = call("POST", "/api/v1/monitors", a,
                json{{"name", "self"}, {"kind", "keyword"}, {"keyword", "keepwatch_"},
                     {"url", "http://127.0.0.1:" + port + "/metrics"}, {"interval_s", 1}, {"timeout_ms", 500}}
                    .dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(field_message(r).find("a port this Keepwatch node listens on"), std::string::npos) << r.body;
  r = call("POST", "/api/v1/channels", a, json{{"name", "self"}, {"url", "http://127.0.0.1:" + port + "/healthz"}}.dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(events_in_log(), before);

  // By name: accepted, and the check fails without reaching the gateway.
  r = call("POST", "/api/v1/monitors", a,
           json{{"name", "self"}, {"kind", "keyword"}, {"keyword", "keepwatch_"},
                {"url", "http://localhost:" + port + "/metrics"}, {"interval_s", 1}, {"timeout_ms", 500}}
               .dump());
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_TRUE(eventually([&] { return !events_of<check_completed>(*node_, storage::topic::checks).empty(); }));
  auto checks = events_of<check_completed>(*node_, storage::topic::checks);
  EXPECT_FALSE(checks[0].ok);
  EXPECT_NE(checks[0].error.find("a port this Keepwatch node listens on"), std::string::npos) << checks[0].error;
}

KW_API_TEST_SUITE(PrivateTargetsApiTest);

}  // namespace
}  // namespace kw::test
