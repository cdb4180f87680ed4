// Monitors through API v1, against a real node (embedded log), the real
// projections and a real PostgreSQL: a monitor created through the API is
// listed at once with read-your-writes; lists page with opaque cursors and
// filter; another tenant's monitor is a 404 for reads and deletes and nothing
// changes; bad bodies get field-level 422s and append nothing; a viewer may
// read but not write.
#include "gateway/api.hpp"

#include <gtest/gtest.h>
#include <thread>
#include <nlohmann/json.hpp>

#include "actors/host/node_fixture.hpp"
#include "events/hash_chain.hpp"
#include "gateway/passwords.hpp"
#include "projections/migrations.hpp"
#include "projections/pg_fixture.hpp"
#include "projections/runner.hpp"
#include "projections/service.hpp"

using namespace kw;
using namespace kw::gateway;
using namespace kw::test;
using json = nlohmann::json;

namespace {

http_request req(const std::string& method, const std::string& target, const std::string& token,
                 const std::string& body = "") {
  http_request r;
  r.method = method;
  r.target = target;
  std::map<std::string, std::string> q;
  parse_target(target, r.path, r.query);
  r.body = body;
  r.remote_ip = "198.51.100.7";
  r.request_id = "req-m";
  if (!body.empty()) r.headers.emplace_back("content-type", "application/json");
  r.headers.emplace_back("authorization", "Bearer " + token);
  return r;
}

json body(const http_response& r) { return json::parse(r.body, nullptr, false); }

plan_catalog plans() {
  auto c = test_plans();
  c.plans["free"] = c.plans["big"];
  c.plans["free"].name = "free";
  return c;
}

}  // namespace

class MonitorsApiTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(pg_server::get().url().empty());
    url_ = pg_server::get().fresh_database();
    ASSERT_TRUE(kw::projections::apply_migrations(url_).ok());
    ASSERT_TRUE(kw::projections::sync_plans(url_, plans()).ok());
    auto o = options(dir_.path.string());
    o.plans = plans();
    auto n = node::start(o);
    ASSERT_TRUE(n.ok()) << n.err().message;
    node_ = std::move(*n);
    kw::projections::service_options so;
    so.runner.database_url = url_;
    so.runner.poll_timeout = std::chrono::milliseconds(20);
    auto svc = kw::projections::service::start(node_->log(), so);
    ASSERT_TRUE(svc.ok()) << svc.err().message;
    views_ = std::move(*svc);
    api_options ao;
    ao.database_url = url_;
    ao.jwt_key = "test-key-test-key-test-key-test-key-0123";
    ao.cost = password_cost::fast;
    ao.plans = plans();
    api_ = std::make_unique<api>(*node_, ao);
    a_ = signup("a@example.com", "Tenant A");
    b_ = signup("b@example.com", "Tenant B");
  }
  void TearDown() override {
    api_.reset();
    if (views_) views_->stop();
    if (node_) node_->stop();
  }

  json signup(const std::string& email, const std::string& name) {
    http_request r;
    r.method = "POST";
    r.target = r.path = "/api/v1/auth/signup";
    r.headers.emplace_back("content-type", "application/json");
    r.body = json{{"email", email}, {"password", "correct horse battery"}, {"tenant_name", name}}.dump();
    auto res = api_->handle(r);
    EXPECT_EQ(res.status, 201) << res.body;
    return body(res);
  }

  http_response call(const std::string& method, const std::string& target, const json& who,
                     const std::string& b = "") {
    return api_->handle(req(method, target, who["access_token"], b));
  }

  // Creates a monitor as `who`; its id and the events-topic position to wait for.
  std::pair<std::string, std::string> create(const json& who, const json& cfg) {
    auto r = call("POST", "/api/v1/monitors", who, cfg.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    auto j = body(r);
    return {j.value("monitor_id", ""), std::to_string(j["partition"].get<int>()) + ":" +
                                           std::to_string(j["offsets"][0].get<long long>())};
  }

  // Every record of the domain-event topic, all partitions, as stored.
  std::string all_event_bytes() {
    std::string all;
    for (int p = 0; p < node_->partitions(); ++p)
      for (std::int64_t from = 0;;) {
        auto batch = node_->log().read(storage::topic::events, partition_id{p}, log_offset{from}, 1000);
        if (!batch || batch->empty()) break;
        for (auto& r : *batch) all += r.value + "\n";
        from = batch->back().offset.get() + 1;
      }
    return all;
  }

  std::int64_t events_in_log() {
    std::int64_t n = 0;
    for (int p = 0; p < node_->partitions(); ++p)
      n += node_->log().end_offset(storage::topic::events, partition_id{p})->get();
    return n;
  }

  temp_dir dir_;
  std::string url_;
  std::unique_ptr<node> node_;
  std::unique_ptr<kw::projections::service> views_;
  std::unique_ptr<api> api_;
  json a_, b_;
};

// A create retried under the same Idempotency-Key (the client never saw the
// first answer) names the monitor the first attempt made, with its push URL,
// and appends nothing; another key makes another monitor.
TEST_F(MonitorsApiTest, ARetriedCreateWithTheSameIdempotencyKeyNamesTheSameMonitor) {
  const std::string cfg = json{{"name", "beat"}, {"kind", "push"}, {"interval_s", 60}}.dump();
  auto keyed = [&](const std::string& key) {
    auto r = req("POST", "/api/v1/monitors", a_["access_token"], cfg);
    r.headers.emplace_back("idempotency-key", key);
    return api_->handle(r);
  };
  auto first = keyed("create-beat-1");
  ASSERT_EQ(first.status, 201) << first.body;
  const auto after_first = events_in_log();
  auto again = keyed("create-beat-1");
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(body(again)["monitor_id"], body(first)["monitor_id"]);
  EXPECT_EQ(body(again)["push_url"], body(first)["push_url"]);
  EXPECT_TRUE(body(again)["duplicate"].get<bool>());
  EXPECT_EQ(events_in_log(), after_first);
  // The push URL the retry answered is the monitor's.
  auto beat = api_->handle(req("POST", body(again)["push_url"].get<std::string>(), ""));
  EXPECT_EQ(beat.status, 200) << beat.body;

  auto other = keyed("create-beat-2");
  ASSERT_EQ(other.status, 201) << other.body;
  EXPECT_NE(body(other)["monitor_id"], body(first)["monitor_id"]);
  auto state = node_->tenant_state(tenant_id{a_["tenant_id"].get<std::string>()});
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->monitors.size(), 2u);
}

// An Idempotency-Key names one request: reused for a different one, it never
// replays the first one's answer (a DELETE answered "done" by a create's
// cached reply, the monitor still there).
TEST_F(MonitorsApiTest, AnIdempotencyKeyReusedForAnotherRequestIsNotAReplay) {
  auto keyed = [&](const std::string& method, const std::string& target, const std::string& body) {
    auto r = req(method, target, a_["access_token"], body);
    r.headers.emplace_back("idempotency-key", "reused-key");
    return api_->handle(r);
  };
  const std::string cfg = json{{"name", "web"}, {"url", "https://a.example/"}}.dump();
  auto created = keyed("POST", "/api/v1/monitors", cfg);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = body(created)["monitor_id"];
  // The same request again: a replay.
  auto again = keyed("POST", "/api/v1/monitors", cfg);
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_TRUE(body(again)["duplicate"].get<bool>());
  // Another body under the key: not the first answer.
  auto other = keyed("POST", "/api/v1/monitors", json{{"name", "other"}, {"url", "https://b.example/"}}.dump());
  EXPECT_FALSE(other.status == 201 && body(other).value("duplicate", false)) << other.body;
  // Another route under the key: it happens.
  auto del = keyed("DELETE", "/api/v1/monitors/" + id, "");
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_FALSE(body(del).value("duplicate", true)) << del.body;
  auto st = node_->monitor_state(tenant_id{a_["tenant_id"].get<std::string>()}, id);
  EXPECT_TRUE(!st.ok() || st->deleted) << "the monitor is still there";
}

// A push URL's token is a credential: the log (kept forever, read by every
// analytics consumer) holds only its hash and its sealed form, never the token.
TEST_F(MonitorsApiTest, APushTokenNeverEntersTheLogInClear) {
  auto created = api_->handle(req("POST", "/api/v1/monitors", a_["access_token"],
                                  json{{"name", "cron"}, {"kind", "push"}, {"interval_s", 60}}.dump()));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string url = body(created)["push_url"];
  const std::string token = url.substr(std::string("/api/v1/push/").size());
  ASSERT_GE(token.size(), 32u);
  const std::string log = all_event_bytes();
  ASSERT_NE(log.find("keepwatch.monitor.created.v2"), std::string::npos);
  EXPECT_EQ(log.find(token), std::string::npos) << "the push token is in the log in clear";
  EXPECT_NE(log.find(kw::sha256_hex("", token)), std::string::npos);
  // The token still works, and a wrong one does not.
  EXPECT_EQ(api_->handle(req("POST", url, "")).status, 200);
  EXPECT_EQ(api_->handle(req("POST", "/api/v1/push/" + kw::sha256_hex("", token), "")).status, 404);
  // A client cannot choose the hash or the sealed form.
  for (const char* field : {"push_token_hash", "push_token_sealed"}) {
    auto r = api_->handle(req("POST", "/api/v1/monitors", a_["access_token"],
                              json{{"name", "mine"}, {"kind", "push"}, {field, std::string(64, 'a')}}.dump()));
    EXPECT_EQ(r.status, 422) << field << " " << r.body;
  }
}

// Names and tags come back exactly as they were given, whatever they hold
// (quotes, backslashes, non-ASCII), in the list and alone.
TEST_F(MonitorsApiTest, NamesAndTagsRoundTripExactly) {
  const std::string name = "He said \"hi\" \\ to Zo\u00eb \u2713 </script>";
  const json tags = json::array({"a\"b", "\u00fcml\u00e4ut", "back\\slash"});
  auto [id, pos] = create(a_, {{"name", name}, {"url", "https://a.example/"}, {"tags", tags}});
  ASSERT_FALSE(id.empty());
  auto one = call("GET", "/api/v1/monitors/" + id + "?wait_for=" + pos, a_);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(body(one)["name"], name) << one.body;
  EXPECT_EQ(body(one)["tags"], tags) << one.body;
  EXPECT_EQ(body(one)["active"], true);
  EXPECT_TRUE(body(one)["last_check_ok"].is_null());
  auto list = call("GET", "/api/v1/monitors", a_);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(body(list)["items"].size(), 1u) << list.body;
  EXPECT_EQ(body(list)["items"][0]["name"], name);
  EXPECT_EQ(body(list)["items"][0]["tags"], tags);
  EXPECT_EQ(body(list)["items"][0]["interval_s"], 60);
  EXPECT_TRUE(body(list)["next_cursor"].is_null());
}

TEST_F(MonitorsApiTest, CreatedMonitorIsReadableAtOnceWithReadYourWrites) {
  auto [id, pos] = create(a_, {{"name", "site"}, {"url", "https://a.example/"}, {"interval_s", 60}, {"tags", {"prod"}}});
  ASSERT_FALSE(id.empty());
  auto one = call("GET", "/api/v1/monitors/" + id + "?wait_for=" + pos, a_);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.headers.size() > 0, true);
  auto j = body(one);
  EXPECT_EQ(j["name"], "site");
  EXPECT_EQ(j["target"], "https://a.example/");
  EXPECT_EQ(j["status"], "pending");
  EXPECT_EQ(j["tags"], json::array({"prod"}));
  EXPECT_TRUE(j["uptime_30d"].is_null());
  for (auto& [k, v] : one.headers) EXPECT_NE(k, "X-Keepwatch-Stale");
  // The event is in the log, with the caller as its actor.
  auto state = node_->tenant_state(tenant_id{a_["tenant_id"].get<std::string>()});
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->monitors.count(id), 1u);
}

// The list and each monitor alone answer what monitor_overview (the view
// the list was read from before monitor_list) works out from the monitors,
// their latest checks and their stats: configuration after an update and a
// pause, status, latest check, uptimes over 24 h, 7 d and 30 d (six
// decimals, as PostgreSQL rounds them) and mean latency, in monitor_id order
// across pages; a monitor without checks has nulls; a deleted one is gone.
TEST_F(MonitorsApiTest, ListAnswersWhatTheOverviewWorksOutFromChecksAndStats) {
  const std::string tenant = a_["tenant_id"];
  std::vector<std::string> ids;
  std::string last;
  for (int i = 0; i < 4; ++i) {
    auto [id, pos] = create(a_, {{"name", "svc-" + std::to_string(i)}, {"url", "https://a.example/" + std::to_string(i)},
                                 {"tags", json::array({"t" + std::to_string(i), "all"})}});
    ids.push_back(id);
    last = pos;
  }
  create(b_, {{"name", "b-only"}, {"url", "https://b.example/"}});
  auto check = [&](const std::string& monitor, std::int64_t ago_us, bool ok, std::int64_t latency_us) {
    command_meta m;
    m.command_id = new_id();
    m.actor = kw::system_actor();
    m.time = timestamp{now().get() - ago_us};
    auto r = node_->execute(monitor::command{m, {}, monitor::record_check{ok, latency_us, ok ? 200 : 503,
                                                                           ok ? "" : "status 503", std::nullopt,
                                                                           new_id()}},
                            tenant_id{tenant}, monitor);
    ASSERT_TRUE(r.ok()) << r.err().message;
  };
  constexpr std::int64_t hour = 3'600'000'000, day = 24 * hour, minute = 60'000'000;
  // ids[0]: 3 days ago down then up; 2 hours ago up twice (50, 70 ms):
  // 24 h 2/2, 7 d 3/4, 30 d 3/4, mean latency 60 ms. ids[1]: 10 days ago
  // up, 20 days ago down: 24 h and 7 d none, 30 d 1/2. ids[2]: no checks.
  ASSERT_NO_FATAL_FAILURE(check(ids[0], 3 * day, false, 0));
  ASSERT_NO_FATAL_FAILURE(check(ids[0], 3 * day - minute, true, 30000));
  ASSERT_NO_FATAL_FAILURE(check(ids[0], 2 * hour, true, 50000));
  ASSERT_NO_FATAL_FAILURE(check(ids[0], 2 * hour - minute, true, 70000));
  ASSERT_NO_FATAL_FAILURE(check(ids[1], 20 * day, false, 0));
  ASSERT_NO_FATAL_FAILURE(check(ids[1], 10 * day, true, 20000));
  ASSERT_EQ(call("PATCH", "/api/v1/monitors/" + ids[1], a_, json{{"name", "renamed \"one\""}}.dump()).status, 200);
  ASSERT_EQ(call("POST", "/api/v1/monitors/" + ids[2] + "/pause", a_).status, 200);
  ASSERT_EQ(call("DELETE", "/api/v1/monitors/" + ids[3], a_).status, 200);

  // What the view says, as the API writes it (the owner reads past RLS).
  const std::string expected_sql =
      "SELECT coalesce(json_agg(json_build_object('active', active, 'avg_latency_us_24h', avg_latency_us_24h, "
      "'interval_s', interval_s, 'kind', kind, 'last_check_at', kw_rfc3339(last_check_at), "
      "'last_check_ok', last_check_ok, 'last_latency_us', last_latency_us, 'monitor_id', monitor_id, "
      "'name', name, 'status', status, 'status_since', kw_rfc3339(status_since), 'tags', tags, "
      "'target', target, 'uptime_24h', uptime_24h, 'uptime_30d', uptime_30d, 'uptime_7d', uptime_7d) "
      "ORDER BY monitor_id), '[]')::text FROM monitor_overview WHERE tenant_id = '" + tenant + "'";
  json listed;
  json expected;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {  // the projections read the checks and the commands on their own time
    listed = json::array();
    std::string cursor;
    for (int page = 0; page < 5; ++page) {
      auto r = call("GET", "/api/v1/monitors?limit=2" + (cursor.empty() ? std::string() : "&cursor=" + cursor), a_);
      ASSERT_EQ(r.status, 200) << r.body;
      const json j = body(r);
      for (auto& m : j["items"]) listed.push_back(m);
      if (j["next_cursor"].is_null()) break;
      cursor = j["next_cursor"];
    }
    expected = json::parse(scalar(url_, expected_sql));
    if (listed == expected && expected.size() == 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(listed, expected);
  ASSERT_EQ(listed.size(), 3u);
  std::map<std::string, json> by_id;
  for (auto& m : listed) by_id[m["monitor_id"]] = m;
  const json zero = by_id[ids[0]], one = by_id[ids[1]], two = by_id[ids[2]];
  EXPECT_EQ(zero["uptime_24h"], 1.0);
  EXPECT_EQ(zero["uptime_7d"], 0.75);
  EXPECT_EQ(zero["uptime_30d"], 0.75);
  EXPECT_EQ(zero["avg_latency_us_24h"], 60000);
  EXPECT_EQ(zero["last_check_ok"], true);
  EXPECT_TRUE(one["uptime_24h"].is_null());
  EXPECT_TRUE(one["uptime_7d"].is_null());
  EXPECT_EQ(one["uptime_30d"], 0.5);
  EXPECT_TRUE(one["avg_latency_us_24h"].is_null());
  EXPECT_EQ(one["tags"], json::array({"t1", "all"}));
  EXPECT_TRUE(two["last_check_at"].is_null());
  EXPECT_TRUE(two["uptime_30d"].is_null());
  // Uptimes keep PostgreSQL's six decimals in the text.
  auto first = call("GET", "/api/v1/monitors/" + ids[0], a_);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_NE(first.body.find("\"uptime_7d\":0.750000"), std::string::npos) << first.body;
  for (std::size_t i = 0; i < 3; ++i) {
    auto alone = call("GET", "/api/v1/monitors/" + expected[i]["monitor_id"].get<std::string>(), a_);
    ASSERT_EQ(alone.status, 200) << alone.body;
    EXPECT_EQ(body(alone), expected[i]);
  }
  EXPECT_EQ(call("GET", "/api/v1/monitors/" + ids[3], a_).status, 404);
  // The filters read the same rows.
  EXPECT_EQ(body(call("GET", "/api/v1/monitors?tag=all", a_))["items"], expected);
  EXPECT_EQ(body(call("GET", "/api/v1/monitors?name=renamed", a_))["items"], json::array({one}));
  // B's list has B's monitor only.
  auto b_list = body(call("GET", "/api/v1/monitors", b_))["items"];
  ASSERT_EQ(b_list.size(), 1u);
  EXPECT_EQ(b_list[0]["name"], "b-only");
}

TEST_F(MonitorsApiTest, ListPagesWithCursorsAndFilters) {
  std::string last;
  for (int i = 0; i < 5; ++i)
    last = create(a_, {{"name", "svc-" + std::to_string(i)}, {"url", "https://a.example/" + std::to_string(i)},
                       {"tags", i % 2 ? json{"odd"} : json{"even"}}})
               .second;
  auto page1 = call("GET", "/api/v1/monitors?limit=2&wait_for=" + last, a_);
  ASSERT_EQ(page1.status, 200) << page1.body;
  auto p1 = body(page1);
  ASSERT_EQ(p1["items"].size(), 2u);
  ASSERT_TRUE(p1["next_cursor"].is_string());
  std::set<std::string> seen;
  for (auto& m : p1["items"]) seen.insert(m["monitor_id"].get<std::string>());
  auto page2 = body(call("GET", "/api/v1/monitors?limit=2&cursor=" + p1["next_cursor"].get<std::string>(), a_));
  auto page3 = body(call("GET", "/api/v1/monitors?limit=2&cursor=" + page2["next_cursor"].get<std::string>(), a_));
  for (auto& m : page2["items"]) seen.insert(m["monitor_id"].get<std::string>());
  for (auto& m : page3["items"]) seen.insert(m["monitor_id"].get<std::string>());
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_TRUE(page3["next_cursor"].is_null());
  EXPECT_EQ(body(call("GET", "/api/v1/monitors?tag=odd", a_))["items"].size(), 2u);
  EXPECT_EQ(body(call("GET", "/api/v1/monitors?name=svc-3", a_))["items"].size(), 1u);
  EXPECT_EQ(body(call("GET", "/api/v1/monitors?status=pending", a_))["items"].size(), 5u);
  EXPECT_EQ(body(call("GET", "/api/v1/monitors?status=down", a_))["items"].size(), 0u);
  // B sees none of A's.
  EXPECT_EQ(body(call("GET", "/api/v1/monitors", b_))["items"].size(), 0u);
  // Bad query parameters are 422s naming them.
  for (auto q : {"limit=0", "limit=abc", "cursor=%21%21", "status=sideways", "colour=red", "name=%FF",
                 "tag=%C3%28", "%FF=1"}) {
    auto r = call("GET", std::string("/api/v1/monitors?") + q, a_);
    EXPECT_EQ(r.status, 422) << q << " -> " << r.body;
  }
  // Filters are values, never SQL: quotes and semicolons match nothing and
  // break nothing.
  for (auto q : {"name=%27%3B%20DROP%20TABLE%20monitors%3B--", "tag=%27)%20OR%20(%27%27%3D%27",
                 "name=%5C%27%20OR%201%3D1%20--"}) {
    auto r = call("GET", std::string("/api/v1/monitors?") + q, a_);
    EXPECT_EQ(r.status, 200) << q << " -> " << r.body;
    EXPECT_EQ(body(r)["items"].size(), 0u) << q;
  }
  EXPECT_EQ(body(call("GET", "/api/v1/monitors", a_))["items"].size(), 5u);
}

TEST_F(MonitorsApiTest, AnotherTenantsMonitorIs404AndNothingChanges) {
  auto [id, pos] = create(a_, {{"name", "a-only"}, {"url", "https://a.example/"}});
  ASSERT_EQ(call("GET", "/api/v1/monitors/" + id + "?wait_for=" + pos, a_).status, 200);
  const auto before = events_in_log();
  auto get = call("GET", "/api/v1/monitors/" + id, b_);
  EXPECT_EQ(get.status, 404);
  EXPECT_EQ(body(get)["error"]["code"], "not_found");
  auto del = call("DELETE", "/api/v1/monitors/" + id, b_);
  EXPECT_EQ(del.status, 404) << del.body;
  EXPECT_EQ(events_in_log(), before);
  EXPECT_EQ(call("GET", "/api/v1/monitors/" + id, a_).status, 200);
  // The owner may delete it.
  auto own = call("DELETE", "/api/v1/monitors/" + id, a_);
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(call("DELETE", "/api/v1/monitors/" + id, a_).status, 404);
}

TEST_F(MonitorsApiTest, BadMonitorBodiesAreFieldLevel422sAndAppendNothing) {
  const auto before = events_in_log();
  struct bad {
    json body;
    std::string field;
  };
  for (auto& b : std::vector<bad>{{{{"name", "x"}, {"url", "https://a.example/"}, {"colour", "red"}}, "colour"},
                                  {{{"name", "x"}, {"url", "https://a.example/"}, {"interval_s", "often"}}, "interval_s"},
                                  {{{"name", "x"}, {"url", "https://a.example/"}, {"push_token", "mine"}}, "push_token"},
                                  {{{"name", "x"}, {"kind", "smtp"}}, "kind"},
                                  {{{"name", 7}}, "name"}}) {
    auto r = call("POST", "/api/v1/monitors", a_, b.body.dump());
    EXPECT_EQ(r.status, 422) << b.body.dump() << " -> " << r.body;
    bool named = false;
    const auto j = body(r);
    for (auto& d : j["error"]["details"]) named = named || d["field"] == b.field;
    EXPECT_TRUE(named) << b.body.dump() << " -> " << r.body;
  }
  // Rules the decider enforces: a 422 with its message.
  auto r = call("POST", "/api/v1/monitors", a_, json{{"name", "x"}, {"url", "ftp://a.example/"}}.dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(call("POST", "/api/v1/monitors", a_, "{").status, 400);
  EXPECT_EQ(events_in_log(), before);
}

TEST_F(MonitorsApiTest, AViewerMayReadButNotWrite) {
  const std::string tenant = a_["tenant_id"];
  tenant::command add{meta(), tenant::add_member{"u_viewer", "v@example.com", "viewer"}};
  add.meta.actor = actor_ref{"user", a_["user_id"], "127.0.0.1"};
  ASSERT_TRUE(node_->execute(std::move(add), tenant_id{tenant}).ok());
  auto hash = hash_password("viewer password 1", password_cost::fast);
  pqxx::connection c(url_);
  pqxx::work w(c);
  w.exec_params("INSERT INTO users (user_id, email, tenant_id, password_hash) VALUES ('u_viewer', 'v@example.com', $1, $2)",
                tenant, *hash);
  w.commit();
  http_request login;
  login.method = "POST";
  login.target = login.path = "/api/v1/auth/login";
  login.headers.emplace_back("content-type", "application/json");
  login.body = R"({"email":"v@example.com","password":"viewer password 1"})";
  auto v = body(api_->handle(login));
  ASSERT_EQ(v["role"], "viewer") << v.dump();
  EXPECT_EQ(call("GET", "/api/v1/monitors", v).status, 200);
  const auto before = events_in_log();
  auto r = call("POST", "/api/v1/monitors", v, json{{"name", "x"}, {"url", "https://a.example/"}}.dump());
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(body(r)["error"]["code"], "forbidden");
  EXPECT_EQ(events_in_log(), before);
}

TEST_F(MonitorsApiTest, ThePlansRateLimitIsHonouredToTheRequestWithItsHeaders) {
  // The fixture's plans give "free" 600 a minute: a tenant on a 5-a-minute
  // plan is limited at the sixth request; another tenant is not.
  api_options ao;
  ao.database_url = url_;
  ao.jwt_key = "test-key-test-key-test-key-test-key-0123";
  ao.cost = password_cost::fast;
  ao.plans = plans();
  ao.plans.plans["free"].api_rate_per_min = 5;
  api limited(*node_, ao);
  auto call_limited = [&](const json& who) {
    return limited.handle(req("GET", "/api/v1/monitors", who["access_token"]));
  };
  for (int i = 0; i < 5; ++i) {
    auto r = call_limited(a_);
    ASSERT_EQ(r.status, 200) << i << ": " << r.body;
    std::map<std::string, std::string> h(r.headers.begin(), r.headers.end());
    EXPECT_EQ(h["X-RateLimit-Limit"], "5");
    EXPECT_EQ(h["X-RateLimit-Remaining"], std::to_string(4 - i));
    EXPECT_FALSE(h["X-RateLimit-Reset"].empty());
  }
  auto over = call_limited(a_);
  EXPECT_EQ(over.status, 429);
  EXPECT_EQ(body(over)["error"]["code"], "rate_limited");
  std::map<std::string, std::string> h(over.headers.begin(), over.headers.end());
  EXPECT_EQ(h["X-RateLimit-Remaining"], "0");
  EXPECT_EQ(h["Retry-After"], "12");  // one token per 12 s
  EXPECT_EQ(call_limited(b_).status, 200);
}
