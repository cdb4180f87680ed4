// The live stream, WebSocket /api/v1/stream, as a client meets it: a real
// node that checks a real HTTP server on 127.0.0.1, the live feed over its
// log, and the gateway server with the stream wired to api::stream_tenant.
// Clients connect with a tenant's token and see that tenant's check results
// and status changes as they happen, and nothing of any other tenant; a
// stream ends (1008) once its credential stops being valid; a tenant's
// streams are capped; a single-use ticket stands in for the token.
#include <atomic>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "actors/checks/test_http_server.hpp"
#include "gateway/live_feed.hpp"
#include "gateway/api_fixture.hpp"

namespace kw::test {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// A WebSocket client: the handshake first (its HTTP answer is kept), then a thread of its own reads every message until the server
// closes or close() is called.
class ws_client {
public:
  ~ws_client() { close(); }

  // True if the server upgraded; `status` is its HTTP answer either way.
  bool open(std::uint16_t port, const std::string& target,
            const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    beast::error_code ec;
    ws_.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    if (ec) return false;
    ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& r) {
      for (auto& [k, v] : headers) r.set(k, v);
    }));
    // Asynchronous, because Beast's synchronous handshake drops the answer
    // of a refused upgrade.
    websocket::response_type res;
    ws_.async_handshake(res, "127.0.0.1", target, [&](beast::error_code e) { ec = e; });
    ioc_.run();
    ioc_.restart();
    status = int(res.result_int());
    body = res.body();
    if (ec) return false;
    do_read();
    thread_ = std::thread([this] { ioc_.run(); });
    return true;
  }

  void close() {
    if (!thread_.joinable()) return;
    net::post(ioc_, [this] {
      if (!ended_) ws_.async_close(websocket::close_code::normal, [](beast::error_code) {});
    });
    // The read ends when the server answers the close (or the socket drops).
    thread_.join();
  }

  std::vector<json> messages() {
    std::lock_guard<std::mutex> lk(mu_);
    return got_;
  }
  // Messages of one "type" (and one "to", for status changes), in order.
  std::vector<json> of(const std::string& type, const std::string& to = "") {
    std::vector<json> out;
    for (auto& m : messages())
      if (m.value("type", "") == type && (to.empty() || m.value("to", "") == to)) out.push_back(m);
    return out;
  }
  bool ended() const { return ended_; }
  int close_code() const { return close_code_; }
  std::string close_reason() {
    std::lock_guard<std::mutex> lk(mu_);
    return close_reason_;
  }

  int status = 0;
  std::string body;

private:
  void do_read() {
    ws_.async_read(buf_, [this](beast::error_code ec, std::size_t) {
      if (ec) {
        std::lock_guard<std::mutex> lk(mu_);
        close_code_ = int(ws_.reason().code);
        close_reason_ = std::string(ws_.reason().reason.c_str());
        ended_ = true;
        return;
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        EXPECT_TRUE(ws_.got_text());
        got_.push_back(json::parse(beast::buffers_to_string(buf_.data()), nullptr, false));
      }
      buf_.consume(buf_.size());
      do_read();
    });
  }

  net::io_context ioc_;
  websocket::stream<tcp::socket> ws_{ioc_};
  beast::flat_buffer buf_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<json> got_;
  std::atomic<bool> ended_{false};
  std::atomic<int> close_code_{0};
  std::string close_reason_;
};

test_response answer(int status, std::string body) {
  test_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

class StreamApiTest : public api_test {
protected:
  using api_test::tweak;
  void tweak(node_options& o) override { o.run_checks = true; }

  // A second server on the same API, with the live stream wired in.
  void SetUp() override {
    api_test::SetUp();
    if (HasFatalFailure()) return;
    auto f = gateway::live_feed::start(node_->log());
    ASSERT_TRUE(f.ok()) << f.err().message;
    feed_ = std::move(*f);
    gateway::server_options so;
    so.threads = 2;
    so.streams_per_tenant = 3;
    auto* a = api_.get();
    so.authorize_stream = [a](const gateway::http_request& q) { return a->stream_tenant(q); };
    so.stream_feed = feed_.get();
    auto s = gateway::server::start(so, [a](const gateway::http_request& q) { return a->handle(q); });
    ASSERT_TRUE(s.ok()) << s.err().message;
    stream_server_ = std::move(*s);
  }

  void TearDown() override {
    if (stream_server_) stream_server_->stop();
    stream_server_.reset();
    if (feed_) feed_->stop();
    api_test::TearDown();
  }

  std::uint16_t stream_port() const { return stream_server_->port(); }

  // Creates an HTTP monitor checked every second; its id.
  std::string create_monitor(const json& who, const std::string& url, const std::string& name = "site") {
    auto r = call("POST", "/api/v1/monitors", who,
                  json{{"name", name}, {"url", url}, {"interval_s", 1}, {"timeout_ms", 500}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.j().value("monitor_id", "");
  }

  std::unique_ptr<gateway::live_feed> feed_;
  std::unique_ptr<gateway::server> stream_server_;
};

TEST_P(StreamApiTest, ATenantSeesItsChecksAndStatusChangesLiveAndNothingOfAnother) {
  auto a = signup("a@example.com", "A");
  auto b = signup("b@example.com", "B");
  std::atomic<bool> healthy{true};
  test_http_server site([&](const test_request&) {
    return healthy ? answer(200, "all good") : answer(500, "broken");
  });
  test_http_server other([&](const test_request&) { return answer(200, "fine"); });

  ws_client ca, cb;
  ASSERT_TRUE(ca.open(stream_port(), "/api/v1/stream",
                      {{"Authorization", "Bearer " + a["access_token"].get<std::string>()}}))
      << ca.status << " " << ca.body;
  EXPECT_EQ(ca.status, 101);
  // Browsers cannot set headers on a WebSocket: the token may be in the query.
  ASSERT_TRUE(cb.open(stream_port(), "/api/v1/stream?access_token=" + b["access_token"].get<std::string>()))
      << cb.status << " " << cb.body;

  const auto ma = create_monitor(a, site.url("/health"));
  const auto mb = create_monitor(b, other.url("/"), "other");
  ASSERT_FALSE(ma.empty());
  ASSERT_FALSE(mb.empty());

  ASSERT_TRUE(eventually([&] { return !ca.of("status_changed", "up").empty(); }, 30));
  auto up = ca.of("status_changed", "up")[0];
  EXPECT_EQ(up["monitor_id"], ma);
  EXPECT_EQ(up["from"], "pending");
  EXPECT_TRUE(up["time"].is_string());
  // A check result and the status change it caused are on different
  // topics: either may come first.
  ASSERT_TRUE(eventually([&] { return !ca.of("check").empty(); }));
  auto checks = ca.of("check");
  EXPECT_EQ(checks[0]["monitor_id"], ma);
  EXPECT_EQ(checks[0]["ok"], true);
  EXPECT_EQ(checks[0]["http_status"], 200);
  EXPECT_TRUE(ca.of("monitor_created").size() == 1 && ca.of("monitor_created")[0]["monitor_id"] == ma);

  healthy = false;
  ASSERT_TRUE(eventually([&] { return !ca.of("status_changed", "down").empty(); }, 30));
  auto down = ca.of("status_changed", "down")[0];
  EXPECT_EQ(down["monitor_id"], ma);
  EXPECT_EQ(down["from"], "up");
  bool saw_500 = false;
  EXPECT_TRUE(eventually([&] {
    for (auto& c : ca.of("check")) saw_500 = saw_500 || (c["ok"] == false && c["http_status"] == 500);
    return saw_500;
  }));
  EXPECT_FALSE(ca.of("incident_opened").empty());

  // B heard of its own monitor, and never of A's.
  ASSERT_TRUE(eventually([&] { return !cb.of("status_changed", "up").empty(); }, 30));
  for (auto& m : cb.messages()) EXPECT_EQ(m["monitor_id"], mb) << m.dump();
  for (auto& m : ca.messages()) EXPECT_EQ(m["monitor_id"], ma) << m.dump();

  // Stopping the server closes the sockets with "going away".
  stream_server_->stop();
  ASSERT_TRUE(eventually([&] { return ca.ended() && cb.ended(); }));
  EXPECT_EQ(ca.close_code(), 1001);
  EXPECT_EQ(cb.close_code(), 1001);
}

TEST_P(StreamApiTest, NoTokenOrABadTokenIsRefusedWithoutUpgrading) {
  auto a = signup("a@example.com", "A");
  {
    ws_client c;
    EXPECT_FALSE(c.open(stream_port(), "/api/v1/stream"));
    EXPECT_EQ(c.status, 401);
    EXPECT_EQ(json::parse(c.body, nullptr, false)["error"]["code"], "unauthenticated") << c.body;
  }
  {
    ws_client c;
    EXPECT_FALSE(c.open(stream_port(), "/api/v1/stream", {{"Authorization", "Bearer not-a-token"}}));
    EXPECT_EQ(c.status, 401);
  }
  {
    ws_client c;
    EXPECT_FALSE(c.open(stream_port(), "/api/v1/stream?access_token=kw_nobody_0123456789"));
    EXPECT_EQ(c.status, 401);
  }
  {
    // A refresh token is not an access token.
    ws_client c;
    EXPECT_FALSE(c.open(stream_port(), "/api/v1/stream?access_token=" + a.value("refresh_token", "x")));
    EXPECT_EQ(c.status, 401);
  }
  EXPECT_EQ(feed_->subscribers(), 0u);
}

// A platform admin follows one tenant's stream, named as ?tenant= (what a
// browser can send); without one, or with a tenant that does not exist,
// the upgrade is refused. A tenant's user cannot name another tenant.
TEST_P(StreamApiTest, APlatformAdminFollowsTheTenantItNames) {
  auto a = signup("a@example.com", "A");
  auto b = signup("b@example.com", "B");
  const std::string admin = platform_admin()["access_token"];
  {
    ws_client c;
    EXPECT_FALSE(c.open(stream_port(), "/api/v1/stream?access_token=" + admin));
    EXPECT_EQ(c.status, 400) << c.body;
  }
  {
    ws_client c;
    EXPECT_FALSE(c.open(stream_port(), "/api/v1/stream?access_token=" + admin + "&tenant=no-such-tenant"));
    EXPECT_EQ(c.status, 404) << c.body;
  }
  {
    ws_client c;
    EXPECT_FALSE(c.open(stream_port(), "/api/v1/stream?access_token=" + a["access_token"].get<std::string>() +
                                           "&tenant=" + b["tenant_id"].get<std::string>()));
    EXPECT_EQ(c.status, 404) << c.body;
  }
  EXPECT_EQ(feed_->subscribers(), 0u);
  ws_client c;
  ASSERT_TRUE(c.open(stream_port(), "/api/v1/stream?access_token=" + admin + "&tenant=" + a["tenant_id"].get<std::string>()))
      << c.status << " " << c.body;
  EXPECT_EQ(c.status, 101);
  ASSERT_TRUE(eventually([&] { return feed_->subscribers() == 1u; }));
}

TEST_P(StreamApiTest, TheServerStillAnswersPlainHttp) {
  auto a = signup("a@example.com", "A");
  auto r = http_call(stream_port(), "GET", "/api/v1/monitors",
                     {{"Authorization", "Bearer " + a["access_token"].get<std::string>()}}, "");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.j()["items"].is_array()) << r.body;
  // The stream path without an upgrade says how to use it.
  auto s = http_call(stream_port(), "GET", "/api/v1/stream",
                     {{"Authorization", "Bearer " + a["access_token"].get<std::string>()}}, "");
  EXPECT_EQ(s.status, 426) << s.body;
  EXPECT_EQ(s.j()["error"]["code"], "upgrade_required");
  EXPECT_FALSE(s.header("x-request-id").empty());
}

TEST_P(StreamApiTest, AClientThatClosesIsForgottenByTheFeed) {
  auto a = signup("a@example.com", "A");
  {
    ws_client c;
    ASSERT_TRUE(c.open(stream_port(), "/api/v1/stream?access_token=" + a["access_token"].get<std::string>()));
    ASSERT_TRUE(eventually([&] { return feed_->subscribers() == 1; }));
  }
  EXPECT_TRUE(eventually([&] { return feed_->subscribers() == 0; }));
}

// The feed itself: a subscriber that takes nothing is dropped once its queue
// is full; the others keep getting everything, and a tenant's subscriber
// never gets another tenant's messages.
TEST_P(StreamApiTest, ASlowSubscriberIsDroppedWithoutHoldingUpTheOthers) {
  auto a = signup("a@example.com", "A");
  auto b = signup("b@example.com", "B");
  gateway::live_feed_options o;
  o.queue_limit = 2;
  auto f = gateway::live_feed::start(node_->log(), o);
  ASSERT_TRUE(f.ok()) << f.err().message;
  auto feed = std::move(*f);
  const tenant_id ta{a["tenant_id"].get<std::string>()};
  auto slow = feed->subscribe(ta, [] {});
  std::mutex mu;
  std::vector<json> fast_got, b_got;
  std::shared_ptr<gateway::live_subscription> fast, sb;
  fast = feed->subscribe(ta, [&] {
    std::lock_guard<std::mutex> lk(mu);
    while (auto m = fast->pop()) fast_got.push_back(json::parse(*m));
  });
  sb = feed->subscribe(tenant_id{b["tenant_id"].get<std::string>()}, [&] {
    std::lock_guard<std::mutex> lk(mu);
    while (auto m = sb->pop()) b_got.push_back(json::parse(*m));
  });

  // Five creations of A's: more than the slow queue holds.
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto r = call("POST", "/api/v1/monitors", a,
                  json{{"name", "m" + std::to_string(i)}, {"url", "https://a.example/"}, {"interval_s", 60}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
    ids.push_back(r.j()["monitor_id"]);
  }
  auto count_created = [&] {
    std::lock_guard<std::mutex> lk(mu);
    std::size_t n = 0;
    for (auto& m : fast_got) n += m["type"] == "monitor_created";
    return n;
  };
  ASSERT_TRUE(eventually([&] { return count_created() == ids.size(); }, 30)) << [&] {
    std::lock_guard<std::mutex> lk(mu);
    return json(fast_got).dump();
  }();
  EXPECT_EQ(slow->ended(), gateway::live_end::fell_behind);
  EXPECT_FALSE(slow->pop().has_value()) << "a dropped subscriber's queue is emptied";
  EXPECT_EQ(fast->ended(), gateway::live_end::none);
  {
    std::lock_guard<std::mutex> lk(mu);
    std::vector<std::string> created;
    for (auto& m : fast_got)
      if (m["type"] == "monitor_created") created.push_back(m["monitor_id"]);
    EXPECT_EQ(created, ids) << "in log order";
    EXPECT_TRUE(b_got.empty());
  }
  feed->stop();
  EXPECT_EQ(fast->ended(), gateway::live_end::feed_stopped);
  EXPECT_EQ(slow->ended(), gateway::live_end::fell_behind);
}

// Revocation reaches the stream: whatever made the credential invalid, the
// open stream closes with 1008 (policy violation) and a reason, within a
// few seconds (the server re-checks every 2 s), and the other tenant's or
// member's stream stays open.
class StreamRevocationTest : public StreamApiTest {
protected:
  // Waits (generously) for the stream to end; true if it ended with 1008.
  static bool closed_for_policy(ws_client& c) {
    if (!eventually([&] { return c.ended(); }, 20)) return false;
    return c.close_code() == 1008;
  }
  std::string bearer(const json& who) { return who["access_token"].get<std::string>(); }
};

TEST_P(StreamRevocationTest, ARevokedApiKeysStreamCloses) {
  auto a = signup("a@example.com", "A");
  auto k1 = call("POST", "/api/v1/api-keys", a, R"({"name":"ci","scope":"read"})");
  auto k2 = call("POST", "/api/v1/api-keys", a, R"({"name":"other","scope":"read"})");
  ASSERT_EQ(k1.status, 201) << k1.body;
  ASSERT_EQ(k2.status, 201) << k2.body;
  ws_client revoked, kept;
  ASSERT_TRUE(revoked.open(stream_port(), "/api/v1/stream", {{"Authorization", "Bearer " + k1.j()["key"].get<std::string>()}}))
      << revoked.status << " " << revoked.body;
  ASSERT_TRUE(kept.open(stream_port(), "/api/v1/stream?access_token=" + k2.j()["key"].get<std::string>()))
      << kept.status << " " << kept.body;
  auto del = call("DELETE", "/api/v1/api-keys/" + k1.j()["key_id"].get<std::string>(), a);
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_TRUE(closed_for_policy(revoked)) << revoked.close_code() << " " << revoked.close_reason();
  EXPECT_NE(revoked.close_reason().find("invalid API key"), std::string::npos) << revoked.close_reason();
  std::this_thread::sleep_for(std::chrono::seconds(3));  // more than one re-check
  EXPECT_FALSE(kept.ended());
}

TEST_P(StreamRevocationTest, ARemovedMembersStreamClosesAndTheOwnersStays) {
  auto a = signup("a@example.com", "A");
  auto m = add_member(a, "m@example.com", "member");
  ws_client member, owner;
  ASSERT_TRUE(member.open(stream_port(), "/api/v1/stream?access_token=" + bearer(m))) << member.status;
  ASSERT_TRUE(owner.open(stream_port(), "/api/v1/stream?access_token=" + bearer(a))) << owner.status;
  auto del = call("DELETE", "/api/v1/members/" + m["user_id"].get<std::string>(), a);
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_TRUE(closed_for_policy(member)) << member.close_code() << " " << member.close_reason();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_FALSE(owner.ended());
}

TEST_P(StreamRevocationTest, ASuspendedTenantsStreamsClose) {
  auto a = signup("a@example.com", "A");
  auto b = signup("b@example.com", "B");
  const std::string admin = platform_admin()["access_token"];
  ws_client ca, cb;
  ASSERT_TRUE(ca.open(stream_port(), "/api/v1/stream?access_token=" + bearer(a))) << ca.status;
  ASSERT_TRUE(cb.open(stream_port(), "/api/v1/stream?access_token=" + bearer(b))) << cb.status;
  auto s = call("POST", "/api/v1/tenants/" + a["tenant_id"].get<std::string>() + "/suspend", admin,
                R"({"reason":"unpaid invoices"})");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_TRUE(closed_for_policy(ca)) << ca.close_code() << " " << ca.close_reason();
  EXPECT_NE(ca.close_reason().find("suspended"), std::string::npos) << ca.close_reason();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_FALSE(cb.ended());
}

TEST_P(StreamRevocationTest, ALoggedOutTokensStreamCloses) {
  auto a = signup("a@example.com", "A");
  ws_client c;
  ASSERT_TRUE(c.open(stream_port(), "/api/v1/stream?access_token=" + bearer(a))) << c.status;
  auto out = call("POST", "/api/v1/auth/logout", a, json{{"refresh_token", a["refresh_token"]}}.dump());
  ASSERT_LT(out.status, 300) << out.body;
  EXPECT_TRUE(closed_for_policy(c)) << c.close_code() << " " << c.close_reason();
}

// Beyond streams_per_tenant (3 here) the upgrade is refused with 429; the
// other tenant is not counted against it; a closed stream frees its place.
TEST_P(StreamRevocationTest, ATenantsStreamsAreCapped) {
  auto a = signup("a@example.com", "A");
  auto b = signup("b@example.com", "B");
  std::vector<std::unique_ptr<ws_client>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<ws_client>());
    ASSERT_TRUE(open.back()->open(stream_port(), "/api/v1/stream?access_token=" + bearer(a))) << open.back()->status;
  }
  {
    ws_client over;
    EXPECT_FALSE(over.open(stream_port(), "/api/v1/stream?access_token=" + bearer(a)));
    EXPECT_EQ(over.status, 429) << over.body;
    EXPECT_EQ(json::parse(over.body, nullptr, false)["error"]["code"], "rate_limited") << over.body;
  }
  ws_client other;
  EXPECT_TRUE(other.open(stream_port(), "/api/v1/stream?access_token=" + bearer(b))) << other.status;
  open.front()->close();
  open.erase(open.begin());
  EXPECT_TRUE(eventually([&] {
    ws_client again;
    return again.open(stream_port(), "/api/v1/stream?access_token=" + bearer(a));
  }));
}

// A ticket from POST /api/v1/stream/ticket opens one stream, once, and the
// stream is re-checked against the token that asked for it.
TEST_P(StreamRevocationTest, ATicketOpensOneStreamOnce) {
  auto a = signup("a@example.com", "A");
  auto m = add_member(a, "m@example.com", "member");
  auto t = call("POST", "/api/v1/stream/ticket", m);
  ASSERT_EQ(t.status, 201) << t.body;
  const std::string ticket = t.j()["ticket"];
  EXPECT_EQ(t.j()["expires_in"], 30);
  ws_client c;
  ASSERT_TRUE(c.open(stream_port(), "/api/v1/stream?ticket=" + ticket)) << c.status << " " << c.body;
  {
    ws_client again;
    EXPECT_FALSE(again.open(stream_port(), "/api/v1/stream?ticket=" + ticket));
    EXPECT_EQ(again.status, 401) << again.body;
  }
  {
    ws_client made_up;
    EXPECT_FALSE(made_up.open(stream_port(), "/api/v1/stream?ticket=kwt_0123456789abcdef"));
    EXPECT_EQ(made_up.status, 401) << made_up.body;
  }
  EXPECT_EQ(call("POST", "/api/v1/stream/ticket", std::string()).status, 401);
  auto del = call("DELETE", "/api/v1/members/" + m["user_id"].get<std::string>(), a);
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_TRUE(closed_for_policy(c)) << c.close_code() << " " << c.close_reason();
}

KW_API_TEST_SUITE(StreamApiTest);
KW_API_TEST_SUITE(StreamRevocationTest);

}  // namespace
}  // namespace kw::test
