// The tenant's setup through the real server, on both logs: notification
// channels, maintenance windows and status pages — written as commands,
// read back from the read models with ?wait_for=, refused whole when the
// request is bad (nothing appended), kept apart between tenants (another
// tenant's id is a 404), and a channel's secret never shown to anyone.
#include "api_fixture.hpp"

#include <tuple>

#include <pqxx/pqxx>

#include "gateway/api_context.hpp"
#include "gateway/tokens.hpp"

using namespace kw;
using namespace kw::test;

namespace {

const char* const plain_secret = "s3cret-signing-key-never-shown";

// RFC 3339 (UTC) `offset_s` seconds from now.
std::string at(std::int64_t offset_s) {
  return gateway::rfc3339(timestamp{(gateway::unix_now() + offset_s) * 1000000});
}

bool has_field(const json& error_body, const std::string& field) {
  for (const auto& d : error_body["error"].value("details", json::array()))
    if (d.value("field", "").rfind(field, 0) == 0) return true;
  return false;
}

}  // namespace

class SetupApiTest : public api_test {
protected:
  void SetUp() override {
    api_test::SetUp();
    if (HasFatalFailure()) return;
    a_ = signup("a@example.com", "Tenant A");
    b_ = signup("b@example.com", "Tenant B");
  }

  // Every answer a test has seen, to check that no secret ever leaks.
  http_reply seen(http_reply r) {
    bodies_ += r.body;
    for (auto& [k, v] : r.headers) bodies_ += k + ": " + v + "\n";
    return r;
  }
  http_reply req(const std::string& method, const std::string& target, const json& who, const std::string& body = "",
                 std::vector<std::pair<std::string, std::string>> headers = {}) {
    return seen(call(method, target, who, body, std::move(headers)));
  }

  // A write that must succeed: its answer.
  json write(const std::string& method, const std::string& target, const json& who, const json& body, int status) {
    auto r = req(method, target, who, body.is_null() ? "" : body.dump());
    EXPECT_EQ(r.status, status) << method << " " << target << " " << body.dump() << " -> " << r.body;
    return r.j();
  }

  // A read after `w` was applied (read-your-writes); never stale.
  http_reply read(const std::string& target, const json& who, const json& w) {
    const std::string sep = target.find('?') == std::string::npos ? "?" : "&";
    auto r = req("GET", target + sep + "wait_for=" + position(w) + "&wait_ms=10000", who);
    EXPECT_NE(r.header("x-keepwatch-stale"), "true") << target;
    return r;
  }

  std::string monitor_of(const json& who, const std::string& name) {
    auto w = write("POST", "/api/v1/monitors", who, {{"name", name}, {"url", "https://" + name + ".example/"}}, 201);
    return w.value("monitor_id", "");
  }

  tenant::state state_of(const json& who) {
    auto s = node_->tenant_state(tenant_id{who["tenant_id"].get<std::string>()});
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : tenant::state{};
  }

  json a_, b_;
  std::string bodies_;
};

// ---------------------------------------------------------------- channels

TEST_P(SetupApiTest, ChannelsCreateListGetUpdateDeleteWithoutEverShowingTheSecret) {
  auto w = write("POST", "/api/v1/channels", a_,
                 {{"name", "Ops hook"}, {"url", "https://hooks.example/kw"}, {"secret", plain_secret}}, 201);
  const std::string id = w.value("channel_id", "");
  ASSERT_EQ(id.rfind("c_", 0), 0u) << w.dump();
  EXPECT_FALSE(w["event_ids"].empty());

  // The secret is kept sealed by the tenant: not in plain, and not empty.
  const auto sealed = state_of(a_).channels.at(id).secret_enc;
  EXPECT_FALSE(sealed.empty());
  EXPECT_EQ(sealed.find(plain_secret), std::string::npos);

  auto list = read("/api/v1/channels", a_, w);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.j()["items"].size(), 1u);
  const auto item = list.j()["items"][0];
  EXPECT_EQ(item["channel_id"], id);
  EXPECT_EQ(item["name"], "Ops hook");
  EXPECT_EQ(item["url"], "https://hooks.example/kw");
  EXPECT_EQ(item["kind"], "webhook");
  EXPECT_FALSE(item.contains("secret"));
  EXPECT_FALSE(item.contains("secret_enc"));

  auto one = read("/api/v1/channels/" + id, a_, w);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.j()["name"], "Ops hook");

  // PATCH: the fields given replace the current ones; the rest stay.
  auto u = write("PATCH", "/api/v1/channels/" + id, a_, {{"name", "Renamed"}}, 200);
  auto after = read("/api/v1/channels/" + id, a_, u);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.j()["name"], "Renamed");
  EXPECT_EQ(after.j()["url"], "https://hooks.example/kw");
  EXPECT_EQ(state_of(a_).channels.at(id).secret_enc, sealed);  // untouched

  u = write("PATCH", "/api/v1/channels/" + id, a_, {{"url", "http://other.example/"}, {"secret", nullptr}}, 200);
  after = read("/api/v1/channels/" + id, a_, u);
  EXPECT_EQ(after.j()["url"], "http://other.example/");
  EXPECT_EQ(after.j()["name"], "Renamed");
  EXPECT_TRUE(state_of(a_).channels.at(id).secret_enc.empty());
  u = write("PATCH", "/api/v1/channels/" + id, a_, {{"secret", plain_secret}}, 200);
  EXPECT_FALSE(state_of(a_).channels.at(id).secret_enc.empty());

  auto d = write("DELETE", "/api/v1/channels/" + id, a_, nullptr, 200);
  EXPECT_EQ(read("/api/v1/channels/" + id, a_, d).status, 404);
  EXPECT_TRUE(read("/api/v1/channels", a_, d).j()["items"].empty());
  EXPECT_EQ(req("DELETE", "/api/v1/channels/" + id, a_).status, 404);

  EXPECT_EQ(bodies_.find(plain_secret), std::string::npos) << "the secret appeared in an answer";
  EXPECT_EQ(bodies_.find(sealed), std::string::npos) << "the sealed secret appeared in an answer";
}

TEST_P(SetupApiTest, ARetriedCreateWithTheSameIdempotencyKeyNamesTheSameObject) {
  const std::string body = json{{"slug", "retry"}, {"title", "R"}, {"monitor_ids", json::array()}}.dump();
  auto first = req("POST", "/api/v1/status-pages", a_, body, {{"Idempotency-Key", "create-retry-page"}});
  ASSERT_EQ(first.status, 201) << first.body;
  const auto after_first = events_in_log();
  auto again = req("POST", "/api/v1/status-pages", a_, body, {{"Idempotency-Key", "create-retry-page"}});
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(again.j()["page_id"], first.j()["page_id"]);
  EXPECT_EQ(again.header("location"), first.header("location"));
  EXPECT_EQ(events_in_log(), after_first);
  EXPECT_EQ(state_of(a_).status_pages.size(), 1u);
}

TEST_P(SetupApiTest, ChannelListsArePagedByCursor) {
  json last;
  for (int i = 0; i < 3; ++i)
    last = write("POST", "/api/v1/channels", a_, {{"name", "h" + std::to_string(i)}, {"url", "https://h.example/"}}, 201);
  auto p1 = read("/api/v1/channels?limit=2", a_, last);
  ASSERT_EQ(p1.status, 200) << p1.body;
  ASSERT_EQ(p1.j()["items"].size(), 2u);
  ASSERT_TRUE(p1.j()["next_cursor"].is_string());
  auto p2 = req("GET", "/api/v1/channels?limit=2&cursor=" + p1.j()["next_cursor"].get<std::string>(), a_);
  ASSERT_EQ(p2.status, 200) << p2.body;
  EXPECT_EQ(p2.j()["items"].size(), 1u);
  EXPECT_TRUE(p2.j()["next_cursor"].is_null());
  EXPECT_EQ(req("GET", "/api/v1/channels?limit=0", a_).status, 422);
  EXPECT_EQ(req("GET", "/api/v1/channels?colour=red", a_).status, 422);
}

// ---------------------------------------------------------------- maintenance

TEST_P(SetupApiTest, MaintenanceScheduleListGetCancel) {
  const auto m = monitor_of(a_, "web");
  auto now_w = write("POST", "/api/v1/maintenance", a_,
                     {{"title", "DB upgrade"}, {"monitor_ids", {m}}, {"starts_at", at(-3600)}, {"ends_at", at(3600)}},
                     201);
  const std::string running = now_w.value("window_id", "");
  ASSERT_FALSE(running.empty()) << now_w.dump();
  auto later_w = write("POST", "/api/v1/maintenance", a_,
                       {{"title", "Everything, later"}, {"starts_at", at(86400)}, {"ends_at", at(90000)}}, 201);
  const std::string later = later_w.value("window_id", "");

  auto list = read("/api/v1/maintenance", a_, later_w);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.j()["items"].size(), 2u);
  auto active = read("/api/v1/maintenance?active=true", a_, later_w);
  ASSERT_EQ(active.status, 200) << active.body;
  ASSERT_EQ(active.j()["items"].size(), 1u);
  EXPECT_EQ(active.j()["items"][0]["window_id"], running);
  auto inactive = read("/api/v1/maintenance?active=false", a_, later_w);
  ASSERT_EQ(inactive.j()["items"].size(), 1u);
  EXPECT_EQ(inactive.j()["items"][0]["window_id"], later);

  auto one = read("/api/v1/maintenance/" + running, a_, later_w);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.j()["title"], "DB upgrade");
  EXPECT_EQ(one.j()["monitor_ids"], json::array({m}));
  EXPECT_EQ(one.j()["status"], "active");
  EXPECT_TRUE(one.j()["cancelled_at"].is_null());
  auto two = read("/api/v1/maintenance/" + later, a_, later_w);
  EXPECT_EQ(two.j()["monitor_ids"], json::array());  // every monitor
  EXPECT_EQ(two.j()["status"], "scheduled");

  auto c = write("DELETE", "/api/v1/maintenance/" + running, a_, nullptr, 200);
  auto cancelled = read("/api/v1/maintenance/" + running, a_, c);
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(cancelled.j()["status"], "cancelled");
  EXPECT_TRUE(cancelled.j()["cancelled_at"].is_string());
  EXPECT_TRUE(read("/api/v1/maintenance?active=true", a_, c).j()["items"].empty());
  EXPECT_EQ(state_of(a_).maintenance.count(running), 0u);
  EXPECT_EQ(req("DELETE", "/api/v1/maintenance/" + running, a_).status, 404);
  EXPECT_EQ(req("GET", "/api/v1/maintenance?active=maybe", a_).status, 422);
}

// ---------------------------------------------------------------- status pages

TEST_P(SetupApiTest, StatusPagesCreateListGetUpdateDelete) {
  const auto m1 = monitor_of(a_, "api");
  const auto m2 = monitor_of(a_, "www");
  auto w = write("POST", "/api/v1/status-pages", a_,
                 {{"slug", "acme-status"}, {"title", "Acme"}, {"monitor_ids", {m1}}}, 201);
  const std::string id = w.value("page_id", "");
  ASSERT_FALSE(id.empty()) << w.dump();
  EXPECT_EQ(w["public_url"], "/status/acme-status");

  auto list = read("/api/v1/status-pages", a_, w);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.j()["items"].size(), 1u);
  EXPECT_EQ(list.j()["items"][0]["page_id"], id);
  EXPECT_EQ(list.j()["items"][0]["public_url"], "/status/acme-status");

  auto one = read("/api/v1/status-pages/" + id, a_, w);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.j()["slug"], "acme-status");
  EXPECT_EQ(one.j()["title"], "Acme");
  EXPECT_EQ(one.j()["monitor_ids"], json::array({m1}));

  auto u = write("PATCH", "/api/v1/status-pages/" + id, a_, {{"slug", "acme"}, {"monitor_ids", {m1, m2}}}, 200);
  EXPECT_EQ(u["public_url"], "/status/acme");
  auto after = read("/api/v1/status-pages/" + id, a_, u);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.j()["slug"], "acme");
  EXPECT_EQ(after.j()["title"], "Acme");  // kept
  EXPECT_EQ(after.j()["monitor_ids"], json::array({m1, m2}));
  EXPECT_EQ(after.j()["public_url"], "/status/acme");

  // A second page of the same tenant may not take the slug (the decider).
  const auto before = events_in_log();
  auto dup = req("POST", "/api/v1/status-pages", a_,
                 json{{"slug", "acme"}, {"title", "Again"}, {"monitor_ids", json::array()}}.dump());
  EXPECT_EQ(dup.status, 409) << dup.body;
  EXPECT_EQ(events_in_log(), before);

  auto d = write("DELETE", "/api/v1/status-pages/" + id, a_, nullptr, 200);
  EXPECT_EQ(read("/api/v1/status-pages/" + id, a_, d).status, 404);
  EXPECT_TRUE(read("/api/v1/status-pages", a_, d).j()["items"].empty());
  EXPECT_EQ(req("DELETE", "/api/v1/status-pages/" + id, a_).status, 404);
}

TEST_P(SetupApiTest, ASlugAnotherTenantsPageHoldsIsAConflict) {
  auto w = write("POST", "/api/v1/status-pages", b_, {{"slug", "shared"}, {"title", "B"}, {"monitor_ids", json::array()}},
                 201);
  ASSERT_EQ(read("/api/v1/status-pages", b_, w).status, 200);  // B's page is in the read model
  auto mine = write("POST", "/api/v1/status-pages", a_, {{"slug", "mine"}, {"title", "A"}, {"monitor_ids", json::array()}},
                    201);
  const auto before = events_in_log();
  auto r = req("POST", "/api/v1/status-pages", a_,
               json{{"slug", "shared"}, {"title", "A"}, {"monitor_ids", json::array()}}.dump());
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_TRUE(has_field(r.j(), "slug")) << r.body;
  r = req("PATCH", "/api/v1/status-pages/" + mine.value("page_id", ""), a_, json{{"slug", "shared"}}.dump());
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(events_in_log(), before);
}

// ---------------------------------------------------------------- roles

TEST_P(SetupApiTest, AViewerReadsButMayNotWrite) {
  auto ch = write("POST", "/api/v1/channels", a_, {{"name", "hook"}, {"url", "https://h.example/"}}, 201);
  auto mw = write("POST", "/api/v1/maintenance", a_, {{"title", "t"}, {"starts_at", at(60)}, {"ends_at", at(120)}}, 201);
  auto pg = write("POST", "/api/v1/status-pages", a_, {{"slug", "v"}, {"title", "V"}, {"monitor_ids", json::array()}},
                  201);
  const auto viewer = add_member(a_, "viewer@example.com", "viewer");
  EXPECT_EQ(read("/api/v1/channels/" + ch.value("channel_id", ""), viewer, ch).status, 200);
  EXPECT_EQ(read("/api/v1/maintenance/" + mw.value("window_id", ""), viewer, mw).status, 200);
  EXPECT_EQ(read("/api/v1/status-pages/" + pg.value("page_id", ""), viewer, pg).status, 200);
  EXPECT_EQ(read("/api/v1/channels", viewer, pg).status, 200);
  EXPECT_EQ(read("/api/v1/maintenance", viewer, pg).status, 200);
  EXPECT_EQ(read("/api/v1/status-pages", viewer, pg).status, 200);

  const auto before = events_in_log();
  const std::vector<std::tuple<std::string, std::string, json>> writes = {
      {"POST", "/api/v1/channels", {{"name", "x"}, {"url", "https://x.example/"}}},
      {"PATCH", "/api/v1/channels/" + ch.value("channel_id", ""), {{"name", "x"}}},
      {"DELETE", "/api/v1/channels/" + ch.value("channel_id", ""), nullptr},
      {"POST", "/api/v1/maintenance", {{"title", "x"}, {"starts_at", at(60)}, {"ends_at", at(120)}}},
      {"DELETE", "/api/v1/maintenance/" + mw.value("window_id", ""), nullptr},
      {"POST", "/api/v1/status-pages", {{"slug", "x"}, {"title", "x"}, {"monitor_ids", json::array()}}},
      {"PATCH", "/api/v1/status-pages/" + pg.value("page_id", ""), {{"title", "x"}}},
      {"DELETE", "/api/v1/status-pages/" + pg.value("page_id", ""), nullptr},
  };
  for (auto& [method, target, body] : writes) {
    auto r = req(method, target, viewer, body.is_null() ? "" : body.dump());
    EXPECT_EQ(r.status, 403) << method << " " << target << ": " << r.body;
  }
  EXPECT_EQ(events_in_log(), before);
}

TEST_P(SetupApiTest, AMemberSchedulesMaintenanceAndManagesPagesButNotChannels) {
  auto ch = write("POST", "/api/v1/channels", a_, {{"name", "hook"}, {"url", "https://h.example/"}}, 201);
  const auto m = add_member(a_, "member@example.com", "member");
  auto mw = write("POST", "/api/v1/maintenance", m, {{"title", "t"}, {"starts_at", at(60)}, {"ends_at", at(120)}}, 201);
  write("DELETE", "/api/v1/maintenance/" + mw.value("window_id", ""), m, nullptr, 200);
  auto pg = write("POST", "/api/v1/status-pages", m, {{"slug", "m"}, {"title", "M"}, {"monitor_ids", json::array()}}, 201);
  write("PATCH", "/api/v1/status-pages/" + pg.value("page_id", ""), m, {{"title", "M2"}}, 200);
  write("DELETE", "/api/v1/status-pages/" + pg.value("page_id", ""), m, nullptr, 200);

  const auto before = events_in_log();
  EXPECT_EQ(req("POST", "/api/v1/channels", m, json{{"name", "x"}, {"url", "https://x.example/"}}.dump()).status, 403);
  EXPECT_EQ(req("PATCH", "/api/v1/channels/" + ch.value("channel_id", ""), m, json{{"name", "x"}}.dump()).status, 403);
  EXPECT_EQ(req("DELETE", "/api/v1/channels/" + ch.value("channel_id", ""), m).status, 403);
  EXPECT_EQ(events_in_log(), before);
  EXPECT_EQ(read("/api/v1/channels/" + ch.value("channel_id", ""), m, ch).status, 200);
}

// ---------------------------------------------------------------- bad input

TEST_P(SetupApiTest, BadBodiesAreRefusedWithDetailsAndAppendNothing) {
  auto ch = write("POST", "/api/v1/channels", a_, {{"name", "hook"}, {"url", "https://h.example/"}}, 201);
  auto pg = write("POST", "/api/v1/status-pages", a_, {{"slug", "p"}, {"title", "P"}, {"monitor_ids", json::array()}},
                  201);
  const std::string chan = "/api/v1/channels/" + ch.value("channel_id", "");
  const std::string page = "/api/v1/status-pages/" + pg.value("page_id", "");
  struct bad_case {
    std::string method, target, body;
    int status;
    std::string field;  // a detail names it (422 only)
  };
  const std::string bad_utf8 = std::string("{\"name\":\"h\xc3\x28\",\"url\":\"https://h.example/\"}");
  const std::vector<bad_case> cases = {
      // channels
      {"POST", "/api/v1/channels", "{\"name\":", 400, ""},
      {"POST", "/api/v1/channels", bad_utf8, 400, ""},
      {"POST", "/api/v1/channels", "[1,2]", 422, ""},
      {"POST", "/api/v1/channels", R"({"url":"https://h.example/"})", 422, "name"},
      {"POST", "/api/v1/channels", R"({"name":"h"})", 422, "url"},
      {"POST", "/api/v1/channels", R"({"name":7,"url":"https://h.example/"})", 422, "name"},
      {"POST", "/api/v1/channels", R"({"name":"h","url":"ftp://h.example/"})", 422, "url"},
      {"POST", "/api/v1/channels", R"({"name":"h","url":"https://"})", 422, "url"},
      {"POST", "/api/v1/channels", R"({"name":"h","url":"not a url"})", 422, "url"},
      {"POST", "/api/v1/channels", R"({"name":"  ","url":"https://h.example/"})", 422, "name"},
      {"POST", "/api/v1/channels", R"({"name":"h","url":"https://h.example/","secret":""})", 422, "secret"},
      {"POST", "/api/v1/channels", R"({"name":"h","url":"https://h.example/","secret":12})", 422, "secret"},
      {"POST", "/api/v1/channels", R"({"name":"h","url":"https://h.example/","kind":"email"})", 422, "kind"},
      {"PATCH", chan, R"({"url":"gopher://x"})", 422, "url"},
      {"PATCH", chan, R"({"name":null})", 422, "name"},
      {"PATCH", chan, R"({"colour":"red"})", 422, "colour"},
      {"PATCH", chan, R"({})", 422, ""},
      {"PATCH", chan, "{", 400, ""},
      {"DELETE", chan, R"({"force":true})", 422, "force"},
      // maintenance
      {"POST", "/api/v1/maintenance", "nope", 400, ""},
      {"POST", "/api/v1/maintenance", R"({"starts_at":")" + at(60) + R"(","ends_at":")" + at(120) + "\"}", 422,
       "title"},
      {"POST", "/api/v1/maintenance", R"({"title":"t","ends_at":")" + at(120) + "\"}", 422, "starts_at"},
      {"POST", "/api/v1/maintenance", R"({"title":"t","starts_at":")" + at(120) + R"(","ends_at":")" + at(60) + "\"}",
       422, "ends_at"},
      {"POST", "/api/v1/maintenance", R"({"title":"t","starts_at":")" + at(60) + R"(","ends_at":")" + at(60) + "\"}",
       422, "ends_at"},
      {"POST", "/api/v1/maintenance",
       R"({"title":"t","starts_at":")" + at(-7200) + R"(","ends_at":")" + at(-3600) + "\"}", 422, "ends_at"},
      {"POST", "/api/v1/maintenance", R"({"title":"t","starts_at":"tomorrow","ends_at":")" + at(120) + "\"}", 422,
       "starts_at"},
      {"POST", "/api/v1/maintenance", R"({"title":"t","starts_at":1700000000,"ends_at":")" + at(120) + "\"}", 422,
       "starts_at"},
      {"POST", "/api/v1/maintenance",
       R"({"title":"t","monitor_ids":"m_1","starts_at":")" + at(60) + R"(","ends_at":")" + at(120) + "\"}", 422,
       "monitor_ids"},
      {"POST", "/api/v1/maintenance",
       R"({"title":"t","monitor_ids":[1],"starts_at":")" + at(60) + R"(","ends_at":")" + at(120) + "\"}", 422,
       "monitor_ids"},
      {"POST", "/api/v1/maintenance",
       R"({"title":"t","monitor_ids":["m_nope"],"starts_at":")" + at(60) + R"(","ends_at":")" + at(120) + "\"}", 422,
       "monitor_ids"},
      {"POST", "/api/v1/maintenance",
       R"({"title":"t","every":true,"starts_at":")" + at(60) + R"(","ends_at":")" + at(120) + "\"}", 422, "every"},
      // status pages
      {"POST", "/api/v1/status-pages", "{\"slug\":\"\xff\",\"title\":\"t\",\"monitor_ids\":[]}", 400, ""},
      {"POST", "/api/v1/status-pages", R"({"title":"t","monitor_ids":[]})", 422, "slug"},
      {"POST", "/api/v1/status-pages", R"({"slug":"ok","title":"t"})", 422, "monitor_ids"},
      {"POST", "/api/v1/status-pages", R"({"slug":"Not OK","title":"t","monitor_ids":[]})", 422, "slug"},
      {"POST", "/api/v1/status-pages", R"({"slug":"a_b","title":"t","monitor_ids":[]})", 422, "slug"},
      {"POST", "/api/v1/status-pages", R"({"slug":"","title":"t","monitor_ids":[]})", 422, "slug"},
      {"POST", "/api/v1/status-pages", R"({"slug":")" + std::string(64, 'a') + R"(","title":"t","monitor_ids":[]})",
       422, "slug"},
      {"POST", "/api/v1/status-pages", R"({"slug":"ok","title":["t"],"monitor_ids":[]})", 422, "title"},
      {"POST", "/api/v1/status-pages", R"({"slug":"ok","title":"t","monitor_ids":{}})", 422, "monitor_ids"},
      {"POST", "/api/v1/status-pages", R"({"slug":"ok","title":"t","monitor_ids":["m_nope"]})", 422, "monitor_ids"},
      {"POST", "/api/v1/status-pages", R"({"slug":"ok","title":"t","monitor_ids":[],"theme":"dark"})", 422, "theme"},
      {"PATCH", page, R"({"slug":"UPPER"})", 422, "slug"},
      {"PATCH", page, R"({"monitor_ids":["m_nope"]})", 422, "monitor_ids"},
      {"PATCH", page, R"({})", 422, ""},
  };
  const auto before = events_in_log();
  for (const auto& c : cases) {
    auto r = req(c.method, c.target, a_, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " " << c.body << " -> " << r.body;
    EXPECT_TRUE(r.j().contains("error")) << r.body;
    if (c.status == 422) {
      EXPECT_FALSE(r.j()["error"].value("details", json::array()).empty()) << c.body << " -> " << r.body;
      if (!c.field.empty()) {
        EXPECT_TRUE(has_field(r.j(), c.field)) << c.body << " -> " << r.body;
      }
    }
  }
  // Another content type.
  EXPECT_EQ(req("POST", "/api/v1/channels", a_, R"({"name":"h","url":"https://h.example/"})",
                {{"Content-Type", "text/plain"}})
                .status,
            415);
  EXPECT_EQ(events_in_log(), before);
  // Nothing changed: the channel and page are as they were.
  EXPECT_EQ(state_of(a_).channels.size(), 1u);
  EXPECT_EQ(state_of(a_).status_pages.at(pg.value("page_id", "")).slug, "p");
  EXPECT_TRUE(state_of(a_).maintenance.empty());
}

// ---------------------------------------------------------------- tenants

TEST_P(SetupApiTest, AnotherTenantsIdsAreNotFoundAndNothingChanges) {
  const auto mb = monitor_of(b_, "b-web");
  auto ch = write("POST", "/api/v1/channels", b_, {{"name", "B hook"}, {"url", "https://b.example/"}}, 201);
  auto mw = write("POST", "/api/v1/maintenance", b_,
                  {{"title", "B window"}, {"monitor_ids", {mb}}, {"starts_at", at(60)}, {"ends_at", at(3600)}}, 201);
  auto pg = write("POST", "/api/v1/status-pages", b_, {{"slug", "bee"}, {"title", "B"}, {"monitor_ids", {mb}}}, 201);
  const std::string c = "/api/v1/channels/" + ch.value("channel_id", "");
  const std::string w = "/api/v1/maintenance/" + mw.value("window_id", "");
  const std::string p = "/api/v1/status-pages/" + pg.value("page_id", "");
  const auto b_before = state_of(b_);
  const auto before = events_in_log();

  EXPECT_EQ(read(c, a_, pg).status, 404);
  EXPECT_EQ(read(w, a_, pg).status, 404);
  EXPECT_EQ(read(p, a_, pg).status, 404);
  EXPECT_TRUE(read("/api/v1/channels", a_, pg).j()["items"].empty());
  EXPECT_TRUE(read("/api/v1/maintenance", a_, pg).j()["items"].empty());
  EXPECT_TRUE(read("/api/v1/status-pages", a_, pg).j()["items"].empty());
  EXPECT_EQ(req("PATCH", c, a_, json{{"name", "taken"}}.dump()).status, 404);
  EXPECT_EQ(req("DELETE", c, a_).status, 404);
  EXPECT_EQ(req("DELETE", w, a_).status, 404);
  EXPECT_EQ(req("PATCH", p, a_, json{{"title", "taken"}}.dump()).status, 404);
  EXPECT_EQ(req("DELETE", p, a_).status, 404);

  EXPECT_EQ(events_in_log(), before);
  EXPECT_TRUE(state_of(b_) == b_before);
  auto still = read(c, b_, pg);
  ASSERT_EQ(still.status, 200);
  EXPECT_EQ(still.j()["name"], "B hook");
  EXPECT_EQ(read(w, b_, pg).j()["status"], "scheduled");
  EXPECT_EQ(read(p, b_, pg).j()["title"], "B");
}

TEST_P(SetupApiTest, AnotherTenantsMonitorCannotBeNamed) {
  const auto mb = monitor_of(b_, "b-only");
  auto pg = write("POST", "/api/v1/status-pages", a_, {{"slug", "a"}, {"title", "A"}, {"monitor_ids", json::array()}},
                  201);
  const auto before = events_in_log();
  auto r = req("POST", "/api/v1/maintenance", a_,
               json{{"title", "t"}, {"monitor_ids", {mb}}, {"starts_at", at(60)}, {"ends_at", at(120)}}.dump());
  EXPECT_GE(r.status, 400) << r.body;
  EXPECT_LT(r.status, 500) << r.body;
  r = req("POST", "/api/v1/status-pages", a_, json{{"slug", "a2"}, {"title", "A"}, {"monitor_ids", {mb}}}.dump());
  EXPECT_GE(r.status, 400) << r.body;
  EXPECT_LT(r.status, 500) << r.body;
  r = req("PATCH", "/api/v1/status-pages/" + pg.value("page_id", ""), a_, json{{"monitor_ids", {mb}}}.dump());
  EXPECT_GE(r.status, 400) << r.body;
  EXPECT_LT(r.status, 500) << r.body;
  EXPECT_EQ(events_in_log(), before);
  EXPECT_TRUE(state_of(a_).maintenance.empty());
  EXPECT_TRUE(state_of(a_).status_pages.at(pg.value("page_id", "")).monitor_ids.empty());
}

KW_API_TEST_SUITE(SetupApiTest);
