// The public routes through the real server on both logs, as an anonymous
// visitor meets them: a tenant's published status page (HTML and JSON, only
// the monitors it chose and never another tenant's, escaped, cacheable with
// ETag and 304) and a push monitor's beat URL (the beat becomes a check
// result in the log and in the monitor's state; unknown tokens and bad
// queries change nothing; too many beats are refused).
#include "api_fixture.hpp"

#include <chrono>
#include <thread>

#include "events/codec.hpp"
#include "gateway/tokens.hpp"

using namespace kw;
using namespace kw::test;

class PublicApiTest : public api_test {
protected:
  // A monitor of `who`'s tenant through the API: its id.
  std::string create_monitor(const json& who, const std::string& name) {
    auto r = call("POST", "/api/v1/monitors", who,
                  json{{"name", name}, {"url", "https://example.test/" + std::to_string(++n_)}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.j().value("monitor_id", "");
  }

  // A status page, sent to the tenant's actor as its owner would.
  void create_page(const json& owner, const std::string& slug, const std::string& title,
                   const std::vector<std::string>& monitor_ids) {
    command_meta m;
    m.command_id = new_id();
    m.actor = actor_ref{"user", owner["user_id"].get<std::string>(), "127.0.0.1"};
    m.time = kw::now();
    auto r = node_->execute(
        tenant::command{m, tenant::create_status_page{"sp_" + gateway::random_hex(8), slug, title, monitor_ids}},
        tenant_id{owner["tenant_id"].get<std::string>()});
    ASSERT_TRUE(r.ok()) << r.err().message;
  }

  // GET `target` (anonymous) until `done` holds of the answer or 30 s pass:
  // the read model catches up with the log asynchronously.
  template <class Pred>
  http_reply get_until(const std::string& target, Pred done,
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      auto r = call("GET", target, std::string(), "", headers);
      if (done(r) || std::chrono::steady_clock::now() > deadline) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  std::int64_t checks_in_log() {
    std::int64_t n = 0;
    for (int p = 0; p < node_->partitions(); ++p)
      n += node_->log().end_offset(storage::topic::checks, partition_id{p})->get();
    return n;
  }

  static std::vector<std::string> names_of(const json& page) {
    std::vector<std::string> out;
    for (auto& m : page["monitors"]) out.push_back(m["name"]);
    return out;
  }

  int n_ = 0;
};

TEST_P(PublicApiTest, StatusPageShowsOnlyTheChosenMonitorsOfItsTenant) {
  auto a = signup("a@example.com", "Tenant A");
  auto b = signup("b@example.com", "Tenant B");
  const auto site = create_monitor(a, "Website <main>");
  const auto api = create_monitor(a, "API & co");
  create_monitor(a, "Secret internal");
  const auto db = create_monitor(b, "B's database");
  create_page(a, "acme", "Acme <Status>", {api, site});
  // The same slug in another tenant, published later: the first page keeps it.
  create_page(b, "acme", "Impostor", {db});
  create_page(b, "b-status", "B status", {db});

  auto j = get_until("/status/acme.json", [](const http_reply& r) { return r.status == 200; });
  ASSERT_EQ(j.status, 200) << j.body;
  EXPECT_EQ(j.header("content-type"), "application/json");
  auto page = j.j();
  EXPECT_EQ(page["slug"], "acme");
  EXPECT_EQ(page["title"], "Acme <Status>");
  EXPECT_EQ(names_of(page), (std::vector<std::string>{"API & co", "Website <main>"})) << j.body;
  for (auto& m : page["monitors"]) {
    EXPECT_EQ(m["status"], "pending");
    EXPECT_TRUE(m["uptime_24h"].is_null());
    EXPECT_TRUE(m["uptime_30d"].is_null());
    EXPECT_FALSE(m.contains("target")) << "a public page never shows what is monitored";
  }
  EXPECT_TRUE(page["updated_at"].is_string());
  EXPECT_EQ(j.body.find("Secret internal"), std::string::npos);
  EXPECT_EQ(j.body.find("database"), std::string::npos);

  // Accept: application/json on the plain path gives the same document.
  auto j2 = call("GET", "/status/acme", std::string(), "", {{"Accept", "application/json"}});
  EXPECT_EQ(j2.status, 200);
  EXPECT_EQ(j2.j(), page);

  // HTML by default: every tenant string escaped, the other monitors absent.
  auto h = call("GET", "/status/acme", std::string(), "", {{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}});
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(h.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(h.body.find("<title>Acme &lt;Status&gt;</title>"), std::string::npos) << h.body;
  EXPECT_NE(h.body.find("Website &lt;main&gt;"), std::string::npos) << h.body;
  EXPECT_NE(h.body.find("API &amp; co"), std::string::npos) << h.body;
  EXPECT_LT(h.body.find("API &amp; co"), h.body.find("Website &lt;main&gt;")) << "the page's order";
  EXPECT_EQ(h.body.find("Website <main>"), std::string::npos);
  EXPECT_EQ(h.body.find("Secret internal"), std::string::npos);
  EXPECT_EQ(h.body.find("database"), std::string::npos);
  EXPECT_EQ(h.body.find("Impostor"), std::string::npos);
  EXPECT_NE(h.body.find("Last updated"), std::string::npos);
  EXPECT_NE(h.body.find("pending"), std::string::npos);

  // Tenant B's own page: its monitor only.
  auto bp = get_until("/status/b-status.json", [](const http_reply& r) { return r.status == 200; });
  ASSERT_EQ(bp.status, 200) << bp.body;
  EXPECT_EQ(names_of(bp.j()), (std::vector<std::string>{"B's database"}));
  auto bh = call("GET", "/status/b-status", std::string());
  EXPECT_NE(bh.body.find("B&#39;s database"), std::string::npos) << bh.body;
  EXPECT_EQ(bh.body.find("Website"), std::string::npos);
}

TEST_P(PublicApiTest, StatusPageIsCacheableWithETags) {
  auto a = signup("a@example.com", "Tenant A");
  const auto site = create_monitor(a, "Website");
  create_page(a, "shop", "Shop", {site});
  auto h = get_until("/status/shop", [](const http_reply& r) { return r.status == 200; });
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(h.header("cache-control"), "public, max-age=30");
  const auto etag = h.header("etag");
  ASSERT_FALSE(etag.empty());

  auto again = call("GET", "/status/shop", std::string(), "", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(again.header("etag"), etag);
  auto listed = call("GET", "/status/shop", std::string(), "", {{"If-None-Match", "\"other\", W/" + etag}});
  EXPECT_EQ(listed.status, 304);
  auto stale = call("GET", "/status/shop", std::string(), "", {{"If-None-Match", "\"something-else\""}});
  EXPECT_EQ(stale.status, 200);
  EXPECT_EQ(stale.body, h.body);

  // Each representation has its own tag: the HTML one does not validate JSON.
  auto j = call("GET", "/status/shop.json", std::string(), "", {{"If-None-Match", etag}});
  EXPECT_EQ(j.status, 200) << j.body;
  const auto jtag = j.header("etag");
  EXPECT_NE(jtag, etag);
  EXPECT_EQ(call("GET", "/status/shop.json", std::string(), "", {{"If-None-Match", jtag}}).status, 304);

  // A change to a monitor on the page shows up (once the cache turns over)
  // with a new tag, and the old tag no longer answers 304.
  auto r = call("PATCH", "/api/v1/monitors/" + site, a, json{{"name", "Storefront"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  auto changed = get_until("/status/shop.json", [](const http_reply& x) {
    return x.status == 200 && x.body.find("Storefront") != std::string::npos;
  });
  ASSERT_NE(changed.body.find("Storefront"), std::string::npos) << changed.body;
  EXPECT_NE(changed.header("etag"), jtag);
  EXPECT_EQ(call("GET", "/status/shop.json", std::string(), "", {{"If-None-Match", jtag}}).status, 200);
}

TEST_P(PublicApiTest, UnknownSlugIsNotFoundInTheFormAskedFor) {
  auto h = call("GET", "/status/no-such-page", std::string());
  EXPECT_EQ(h.status, 404);
  EXPECT_EQ(h.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(h.body.find("not found"), std::string::npos) << h.body;

  auto j = call("GET", "/status/no-such-page.json", std::string());
  EXPECT_EQ(j.status, 404);
  EXPECT_EQ(j.j()["error"]["code"], "not_found") << j.body;
  auto accept = call("GET", "/status/no-such-page", std::string(), "", {{"Accept", "application/json"}});
  EXPECT_EQ(accept.status, 404);
  EXPECT_EQ(accept.j()["error"]["code"], "not_found") << accept.body;

  // Not a slug at all, with markup in it: still a 404, the text escaped.
  auto odd = call("GET", "/status/%3Cb%3EHi", std::string());
  EXPECT_EQ(odd.status, 404);
  EXPECT_EQ(odd.body.find("<b>Hi"), std::string::npos) << odd.body;
}

TEST_P(PublicApiTest, PushUrlRecordsABeat) {
  auto a = signup("a@example.com", "Tenant A");
  auto c = call("POST", "/api/v1/monitors", a, json{{"name", "nightly backup"}, {"kind", "push"}}.dump());
  ASSERT_EQ(c.status, 201) << c.body;
  const std::string id = c.j()["monitor_id"];
  const std::string url = c.j()["push_url"];
  ASSERT_EQ(url.rfind("/api/v1/push/", 0), 0u) << url;

  const auto checks_before = checks_in_log();
  auto p = call("POST", url, std::string());
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(p.j()["ok"], true);
  EXPECT_EQ(checks_in_log(), checks_before + 1);
  EXPECT_FALSE(p.header("x-ratelimit-limit").empty());

  // The log holds the beat as a successful check of that monitor.
  const auto part = partition_id{p.j()["partition"].get<int>()};
  const auto off = log_offset{p.j()["offsets"][0].get<std::int64_t>()};
  auto recs = node_->log().read(storage::topic::checks, part, off, 1);
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 1u);
  auto ev = decode(recs->front().value);
  ASSERT_TRUE(ev.ok()) << ev.err().message;
  const auto* done = std::get_if<check_completed>(&ev->data);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->monitor_id, id);
  EXPECT_TRUE(done->ok);

  auto st = node_->monitor_state(tenant_id{a["tenant_id"].get<std::string>()}, id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->check_seq, 1);
  EXPECT_TRUE(st->last_check_at.has_value());
  EXPECT_EQ(st->status, monitor_status::up);

  // GET does the same, for cron jobs; a body is ignored.
  EXPECT_EQ(call("GET", url, std::string()).status, 200);
  EXPECT_EQ(call("POST", url, std::string(), "anything at all").status, 200);
  EXPECT_EQ(node_->monitor_state(tenant_id{a["tenant_id"].get<std::string>()}, id)->check_seq, 3);

}

TEST_P(PublicApiTest, UnknownTokenAndBadQueryChangeNothing) {
  auto a = signup("a@example.com", "Tenant A");
  auto c = call("POST", "/api/v1/monitors", a, json{{"name", "cron"}, {"kind", "push"}}.dump());
  ASSERT_EQ(c.status, 201) << c.body;
  const std::string url = c.j()["push_url"];
  const auto events = events_in_log();
  const auto checks = checks_in_log();

  auto u = call("POST", "/api/v1/push/0123456789abcdef0123456789abcdef", std::string());
  EXPECT_EQ(u.status, 404);
  EXPECT_EQ(u.j()["error"]["code"], "not_found") << u.body;
  EXPECT_EQ(call("GET", "/api/v1/push/not-a-token", std::string()).status, 404);
  EXPECT_EQ(call("POST", "/api/v1/push/bad%20token%3C%3E", std::string()).status, 404);

  auto q = call("POST", url + "?status=down", std::string());
  EXPECT_EQ(q.status, 422);
  EXPECT_EQ(q.j()["error"]["details"][0]["field"], "status") << q.body;

  // Another method on the push URL is not a beat.
  EXPECT_EQ(call("DELETE", url, std::string()).status, 405);

  EXPECT_EQ(events_in_log(), events);
  EXPECT_EQ(checks_in_log(), checks);
}

TEST_P(PublicApiTest, TooManyBeatsForOneTokenAreRefused) {
  auto a = signup("a@example.com", "Tenant A");
  auto c = call("POST", "/api/v1/monitors", a, json{{"name", "chatty"}, {"kind", "push"}}.dump());
  ASSERT_EQ(c.status, 201) << c.body;
  const std::string url = c.j()["push_url"];
  http_reply last;
  int accepted = 0;
  for (int i = 0; i < 150; ++i) {
    last = call("POST", url, std::string());
    if (last.status != 200) break;
    ++accepted;
  }
  ASSERT_EQ(last.status, 429) << last.body;
  EXPECT_EQ(last.j()["error"]["code"], "rate_limited");
  EXPECT_FALSE(last.header("retry-after").empty());
  EXPECT_GE(accepted, 60);
  // Refused beats are not recorded.
  auto st = node_->monitor_state(tenant_id{a["tenant_id"].get<std::string>()}, c.j()["monitor_id"]);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->check_seq, accepted);
}

KW_API_TEST_SUITE(PublicApiTest);
