// The read models from a scripted history, on both logs (the embedded log,
// and Kafka through the dev broker), into a real PostgreSQL: tenants,
// monitors, checks, incidents, a plan change and deletions go through a real
// node with the times the script gives them; the projections read the log;
// the rows, uptime figures, usage and invoices must be those worked out by
// hand below. A rebuild from offset 0 must give identical tables, and a
// malformed record must land in the dead-letter topic without stopping
// anything after it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/host/node_fixture.hpp"
#include "events/codec.hpp"
#include "projections/migrations.hpp"
#include "projections/projections.hpp"
#include "projections/runner.hpp"
#include "pg_fixture.hpp"

using namespace kw;
using namespace kw::test;
using kw::projections::runner;

namespace {

constexpr std::int64_t hour_us = 3'600'000'000;
constexpr std::int64_t day_us = 24 * hour_us;

timestamp at(const char* s) { return *parse_time(s); }

plan_catalog priced_plans() {
  plan_catalog c;
  plan p;
  p.name = "free";
  p.max_monitors = 10;
  p.min_interval_s = 1;
  p.retention_days = 400;
  p.max_users = 5;
  p.max_status_pages = 2;
  p.api_rate_per_min = 60;
  c.plans["free"] = p;
  p.name = "pro";
  p.base_price_cents = 900;
  p.monitor_price_cents = 25;
  c.plans["pro"] = p;
  return c;
}

// A command by user `user` (the tenant's owner in this script).
tenant::command tcmd_at(tenant::body b, timestamp t, const std::string& user = "u1") {
  auto c = tcmd(std::move(b));
  c.meta.time = t;
  c.meta.actor = actor_ref{"user", user, "203.0.113.9"};
  return c;
}

monitor::command mcmd_at(monitor::body b, timestamp t) {
  auto c = mcmd(std::move(b));
  c.meta.time = t;
  return c;
}

monitor::command check_at(timestamp t, bool ok, std::int64_t latency_us) {
  return mcmd_at(monitor::record_check{ok, latency_us, ok ? 200 : 503, ok ? "" : "status 503 not accepted",
                                       std::nullopt, new_id()},
                 t);
}

}  // namespace

class HistoryTest : public ::testing::TestWithParam<backend> {
protected:
  void SetUp() override {
    ASSERT_FALSE(pg_server::get().url().empty()) << "ops/pg.sh did not start PostgreSQL";
    url_ = pg_server::get().fresh_database();
    auto applied = kw::projections::apply_migrations(url_);
    ASSERT_TRUE(applied.ok()) << applied.err().message;
    ASSERT_TRUE(kw::projections::sync_plans(url_, priced_plans()).ok());
    env_ = std::make_unique<log_env>(GetParam().name);
    opts_ = env_->options(dir_.path.string());
    opts_.plans = priced_plans();
    auto n = node::start(opts_);
    ASSERT_TRUE(n.ok()) << n.err().message;
    node_ = std::move(*n);
  }
  void TearDown() override {
    runners_.clear();
    if (node_) node_->stop();
  }

  void ok(const result<command_reply>& r, const char* what) { ASSERT_TRUE(r.ok()) << what << ": " << r.err().message; }

  // Opens a runner per projection and reads the whole log into PostgreSQL.
  void project_all() {
    runners_.clear();
    for (auto& name : kw::projections::projection_names()) {
      kw::projections::runner_options ro;
      ro.database_url = url_;
      ro.kafka = opts_.kafka ? &*opts_.kafka : nullptr;
      auto r = runner::open(kw::projections::make_projection(name), node_->log(), ro);
      ASSERT_TRUE(r.ok()) << r.err().message;
      auto n = (*r)->catch_up(std::chrono::seconds(90));
      ASSERT_TRUE(n.ok()) << name << ": " << n.err().message;
      ASSERT_TRUE((*r)->tick(now()).ok());
      runners_.push_back(std::move(*r));
    }
  }

  std::string q(const std::string& sql) { return scalar(url_, sql); }

  // The listed rows of monitor_list, and what the same columns are when
  // worked out from monitors and monitor_last_check (as monitor_overview
  // joins them): they must be equal.
  std::string list_rows() {
    return q("SELECT string_agg(concat_ws(',', tenant_id, monitor_id, name, kind, target, interval_s, tags_json, "
             "active, status, status_since, last_check_at, last_check_ok, last_latency_us), ';' "
             "ORDER BY tenant_id, monitor_id) FROM monitor_list WHERE listed");
  }
  std::string overview_rows() {
    return q("SELECT string_agg(concat_ws(',', tenant_id, monitor_id, name, kind, target, interval_s, "
             "to_json(tags)::text, active, status, kw_rfc3339(status_since), kw_rfc3339(last_check_at), "
             "last_check_ok, last_latency_us), ';' ORDER BY tenant_id, monitor_id) FROM monitor_overview");
  }

  std::map<std::string, std::string> checksums() {
    std::map<std::string, std::string> out;
    for (auto& p : kw::projections::all_projections())
      for (auto& t : p->tables()) out[t] = table_checksum(url_, t);
    return out;
  }

  // The scripted history (times in September 2026, a 30-day month of 720
  // hours, plus checks in the last ten days).
  void script() {
    const tenant_id acme{"acme"}, globex{"globex"}, initech{"initech"};
    const timestamp S = at("2026-09-01T00:00:00.000000Z");
    // acme, on pro all month: web lives all month but is paused for two days
    // (672 h); api lives ten days (240 h).
    ok(node_->execute(tcmd_at(tenant::create_tenant{"Acme", "pro", "u1", "owner@acme.example"}, S), acme), "acme");
    ok(node_->execute(tcmd_at(tenant::add_member{"u2", "ops@acme.example", "admin"}, timestamp{S.get() + hour_us}),
                      acme),
       "member");
    ok(node_->execute(tcmd_at(tenant::change_role{"u2", "viewer"}, timestamp{S.get() + 2 * hour_us}), acme), "role");
    ok(node_->execute(tcmd_at(tenant::create_monitor{"web", http_config("https://acme.example/", 60)}, S), acme),
       "web");
    ok(node_->execute(tcmd_at(tenant::create_monitor{"api", http_config("https://api.acme.example/", 60)},
                              at("2026-09-11T00:00:00.000000Z")),
                      acme),
       "api");
    ok(node_->execute(tcmd_at(tenant::delete_monitor{"api"}, at("2026-09-21T00:00:00.000000Z")), acme), "del api");
    ok(node_->execute(tcmd_at(tenant::create_status_page{"p1", "acme-status", "Acme", {"web"}},
                              timestamp{S.get() + 3 * hour_us}),
                      acme),
       "page");
    // Checks on web, 2 September 10:00-10:03: up, down (incident), up, up.
    ok(node_->execute(check_at(at("2026-09-02T10:00:00.000000Z"), true, 100000), acme, "web"), "c1");
    ok(node_->execute(check_at(at("2026-09-02T10:01:00.000000Z"), false, 0), acme, "web"), "c2");
    ok(node_->execute(check_at(at("2026-09-02T10:02:00.000000Z"), true, 300000), acme, "web"), "c3");
    ok(node_->execute(check_at(at("2026-09-02T10:03:00.000000Z"), true, 200000), acme, "web"), "c4");
    auto renamed = http_config("https://acme.example/", 60);
    renamed.name = "website";
    ok(node_->execute(mcmd_at(monitor::update_monitor{renamed}, at("2026-09-05T00:00:00.000000Z")), acme, "web"),
       "update");
    ok(node_->execute(mcmd_at(monitor::pause_monitor{}, at("2026-09-25T00:00:00.000000Z")), acme, "web"), "pause");
    ok(node_->execute(mcmd_at(monitor::resume_monitor{}, at("2026-09-27T00:00:00.000000Z")), acme, "web"), "resume");

    // globex: free, then pro from 21 September (480 h free, 240 h pro).
    ok(node_->execute(tcmd_at(tenant::create_tenant{"Globex", "free", "g1", "owner@globex.example"}, S), globex),
       "globex");
    ok(node_->execute(tcmd_at(tenant::create_monitor{"g1", http_config("https://globex.example/", 60)}, S, "g1"), globex),
       "g1");
    ok(node_->execute(tcmd_at(tenant::change_plan{"pro"}, at("2026-09-21T00:00:00.000000Z"), "g1"), globex), "plan");

    // initech: pro, deleted after ten days with its one monitor.
    ok(node_->execute(tcmd_at(tenant::create_tenant{"Initech", "pro", "i1", "owner@initech.example"}, S), initech),
       "initech");
    ok(node_->execute(tcmd_at(tenant::create_monitor{"m1", http_config("https://initech.example/", 60)}, S, "i1"), initech),
       "m1");
    ok(node_->execute(tcmd_at(tenant::delete_tenant{}, at("2026-09-11T00:00:00.000000Z"), "i1"), initech), "delete");

    // Recent checks on web, for the uptime windows: 10 days ago 2 up; 3 days
    // ago 1 down and 1 up; 2 hours ago 2 up (50 and 70 ms).
    const std::int64_t N = now().get();
    ok(node_->execute(check_at(timestamp{N - 10 * day_us}, true, 10000), acme, "web"), "r1");
    ok(node_->execute(check_at(timestamp{N - 10 * day_us + 60'000'000}, true, 10000), acme, "web"), "r2");
    ok(node_->execute(check_at(timestamp{N - 3 * day_us}, false, 0), acme, "web"), "r3");
    ok(node_->execute(check_at(timestamp{N - 3 * day_us + 60'000'000}, true, 30000), acme, "web"), "r4");
    ok(node_->execute(check_at(timestamp{N - 2 * hour_us}, true, 50000), acme, "web"), "r5");
    ok(node_->execute(check_at(timestamp{N - 2 * hour_us + 60'000'000}, true, 70000), acme, "web"), "r6");
  }

  temp_dir dir_;
  std::string url_;
  std::unique_ptr<log_env> env_;
  node_options opts_;
  std::unique_ptr<node> node_;
  std::vector<std::unique_ptr<runner>> runners_;
};

TEST_P(HistoryTest, ReadModelsMatchTheHandWorkedFigures) {
  ASSERT_NO_FATAL_FAILURE(script());
  ASSERT_NO_FATAL_FAILURE(project_all());

  // dashboard: tenants and members
  EXPECT_EQ(q("SELECT string_agg(tenant_id || ':' || plan || ':' || status, ',' ORDER BY tenant_id) FROM tenants"),
            "acme:pro:active,globex:pro:active,initech:pro:deleted");
  EXPECT_EQ(q("SELECT string_agg(user_id || ':' || role, ',' ORDER BY user_id) FROM members WHERE tenant_id = 'acme'"),
            "u1:owner,u2:viewer");
  // monitors: api and m1 are gone; web was renamed, is active and up.
  EXPECT_EQ(q("SELECT string_agg(tenant_id || '/' || monitor_id, ',' ORDER BY tenant_id, monitor_id) FROM monitors"),
            "acme/web,globex/g1");
  EXPECT_EQ(q("SELECT name || ':' || status || ':' || active || ':' || target FROM monitors WHERE monitor_id = 'web'"),
            "website:up:true:https://acme.example/");
  EXPECT_EQ(q("SELECT config->>'name' FROM monitors WHERE monitor_id = 'web'"), "website");
  EXPECT_EQ(q("SELECT string_agg(slug, ',') FROM status_pages"), "acme-status");
  // heartbeats: 4 in September and 6 recent ones, in day partitions.
  EXPECT_EQ(q("SELECT count(*) FROM heartbeats WHERE monitor_id = 'web'"), "10");
  EXPECT_EQ(q("SELECT count(*) FROM heartbeats_20260902"), "4");
  // stats of 2 September: 4 checks, 3 up, latency over the up ones.
  EXPECT_EQ(q("SELECT checks || ':' || up || ':' || latency_sum_us || ':' || latency_min_us || ':' || latency_max_us "
              "FROM monitor_stats_day WHERE monitor_id = 'web' AND bucket = '2026-09-02T00:00:00Z'"),
            "4:3:600000:100000:300000");
  // Minute and hour stats are kept 2 and 35 days: September's are purged,
  // the recent ones are there (the 2 checks of 2 hours ago).
  EXPECT_EQ(q("SELECT count(*) FROM monitor_stats_minute WHERE bucket < now() - interval '30 days'"), "0");
  EXPECT_EQ(q("SELECT count(*) FROM monitor_stats_hour WHERE bucket < now() - interval '40 days'"), "0");
  EXPECT_EQ(q("SELECT sum(checks) || ':' || sum(up) || ':' || count(*) FROM monitor_stats_minute "
              "WHERE monitor_id = 'web' AND bucket > now() - interval '1 day'"),
            "2:2:2");
  EXPECT_EQ(q("SELECT sum(checks) || ':' || sum(up) FROM monitor_stats_hour "
              "WHERE monitor_id = 'web' AND bucket > now() - interval '1 day'"),
            "2:2");
  // uptime: 24 h 2/2, 7 d 3/4, 30 d 5/6; mean latency over 24 h 60 ms.
  EXPECT_EQ(q("SELECT uptime_24h || ':' || uptime_7d || ':' || uptime_30d || ':' || avg_latency_us_24h "
              "FROM monitor_overview WHERE monitor_id = 'web'"),
            "1.000000:0.750000:0.833333:60000");
  EXPECT_EQ(q("SELECT latency_us || ':' || ok FROM monitor_last_check WHERE monitor_id = 'web'"), "70000:true");
  // monitor_list: the live monitors as the list shows them; the deleted
  // ones (api, m1) are kept unlisted, with nothing of their configuration.
  EXPECT_EQ(list_rows(), overview_rows());
  EXPECT_EQ(q("SELECT name || ':' || status || ':' || active || ':' || tags_json || ':' || last_latency_us || ':' || "
              "last_check_ok FROM monitor_list WHERE monitor_id = 'web'"),
            "website:up:true:[]:70000:true");
  EXPECT_EQ(q("SELECT string_agg(tenant_id || '/' || monitor_id || ':' || listed || ':' || name || ':' || "
              "(last_check_at IS NOT NULL), ',' ORDER BY tenant_id, monitor_id) FROM monitor_list"),
            "acme/api:false::false,acme/web:true:website:true,globex/g1:true:site:false,initech/m1:false::false");
  // incidents: September's lasted one minute; the recent one too.
  EXPECT_EQ(q("SELECT string_agg(duration_ms::text, ',' ORDER BY opened_at) FROM incidents WHERE monitor_id = 'web'"),
            "60000,60000");
  EXPECT_EQ(q("SELECT opened_at = '2026-09-02T10:01:00Z' AND closed_at = '2026-09-02T10:02:00Z' FROM incidents "
              "ORDER BY opened_at LIMIT 1"),
            "t");

  // usage: 11 September acme had web and api (48 monitor-hours, peak 2);
  // 2 September 4 checks.
  EXPECT_EQ(q("SELECT monitor_hours::numeric(10,2) || ':' || peak_active_monitors FROM "
              "usage_report('2026-09-11', '2026-09-11') WHERE tenant_id = 'acme'"),
            "48.00:2");
  EXPECT_EQ(q("SELECT checks FROM usage_daily WHERE tenant_id = 'acme' AND day = '2026-09-02'"), "4");
  EXPECT_EQ(q("SELECT count(*) FROM usage_report('2026-09-25', '2026-09-25') WHERE tenant_id = 'acme'"),
            "0");  // web paused, api deleted: no monitor-hours, no checks
  EXPECT_EQ(q("SELECT monitor_hours::numeric(10,2) FROM usage_report('2026-09-27', '2026-09-27') "
              "WHERE tenant_id = 'acme'"),
            "24.00");  // web resumed at midnight

  // billing, September (720 h):
  //  acme: base 900 + (672 + 240) h / 720 h x 25 = 31.67 -> 32: 932
  //  globex: free 2/3 of the month (0) + pro 1/3: 300 + 240 h / 720 h x 25 = 8.33 -> 8: 308
  //  initech: pro for 10 days: 300 + 240 h -> 8: 308
  EXPECT_EQ(q("SELECT string_agg(tenant_id || ':' || total_cents, ',' ORDER BY tenant_id) FROM invoices "
              "WHERE month = '2026-09-01'"),
            "acme:932,globex:308,initech:308");
  EXPECT_EQ(q("SELECT string_agg(kind || ':' || quantity::numeric(10,2) || ':' || amount_cents, ',' ORDER BY kind) "
              "FROM invoice_lines WHERE tenant_id = 'acme' AND month = '2026-09-01'"),
            "base:1.00:900,monitors:912.00:32");
  EXPECT_EQ(q("SELECT string_agg(plan || ':' || kind || ':' || amount_cents, ',' ORDER BY line_no) "
              "FROM invoice_lines WHERE tenant_id = 'globex' AND month = '2026-09-01' AND amount_cents > 0"),
            "pro:base:300,pro:monitors:8");
  // October: acme and globex on pro all month with one monitor: 925 each;
  // initech is gone. The current month is not closed.
  EXPECT_EQ(q("SELECT string_agg(tenant_id || ':' || total_cents, ',' ORDER BY tenant_id) FROM invoices "
              "WHERE month = '2026-10-01'"),
            "acme:925,globex:925");
  EXPECT_EQ(q("SELECT count(*) FROM invoices WHERE month = date_trunc('month', now() AT TIME ZONE 'UTC')::date"), "0");

  // audit: one row per domain event, with actor, before and after.
  EXPECT_EQ(q("SELECT count(*) FROM audit_log"),
            q("SELECT count(*) FROM audit_log WHERE hash <> '' AND log_offset >= 0"));
  EXPECT_EQ(q("SELECT before->'config'->>'name' || '->' || (after->'config'->>'name') FROM audit_log "
              "WHERE action = 'keepwatch.monitor.updated.v2'"),
            "site->website");
  EXPECT_EQ(q("SELECT actor_kind || ':' || actor_id || ':' || actor_ip || ':' || entity FROM audit_log "
              "WHERE action = 'keepwatch.tenant.member_role_changed.v1'"),
            "user:u1:203.0.113.9:member/u2");
  EXPECT_EQ(q("SELECT (before->>'role') || '->' || (after->>'role') FROM audit_log "
              "WHERE action = 'keepwatch.tenant.member_role_changed.v1'"),
            "admin->viewer");
  EXPECT_EQ(q("SELECT (before IS NOT NULL) || ':' || (after IS NULL) FROM audit_log "
              "WHERE action = 'keepwatch.monitor.deleted.v1' AND entity = 'monitor/api'"),
            "true:true");
  EXPECT_EQ(q("SELECT count(*) FROM audit_log WHERE action LIKE 'keepwatch.check.%'"), "0");

  // The offsets point at the ends: nothing is left to read.
  auto lag = kw::projections::projection_status(url_, node_->log());
  ASSERT_TRUE(lag.ok()) << lag.err().message;
  for (auto& l : *lag) EXPECT_EQ(l.lag, 0) << l.projection << " " << l.partition.get();
}

TEST_P(HistoryTest, RebuildFromOffsetZeroGivesIdenticalTables) {
  ASSERT_NO_FATAL_FAILURE(script());
  ASSERT_NO_FATAL_FAILURE(project_all());
  const auto before = checksums();
  EXPECT_NE(before.at("heartbeats"), "empty");
  runners_.clear();  // leave the groups
  for (auto& p : kw::projections::all_projections()) {
    ASSERT_TRUE(kw::projections::reset_projection(url_, *p).ok());
    for (auto& t : p->tables()) EXPECT_EQ(table_checksum(url_, t), "empty") << t;
  }
  ASSERT_NO_FATAL_FAILURE(project_all());
  EXPECT_EQ(checksums(), before);
  EXPECT_EQ(q("SELECT count(*) FILTER (WHERE listed) || ':' || count(*) FROM monitor_list"), "2:4");
  EXPECT_EQ(list_rows(), overview_rows());
}

TEST_P(HistoryTest, MalformedRecordGoesToTheDeadLetterTopicAndTheRestIsProjected) {
  const tenant_id acme{"acme"};
  ok(node_->execute(tcmd_at(tenant::create_tenant{"Acme", "pro", "u1", "owner@acme.example"}, now()), acme), "acme");
  const auto p = partition_id{0};
  storage::record bad;
  bad.t = storage::topic::events;
  bad.key = "acme";
  bad.value = R"({"specversion":"1.0","type":"keepwatch.nonsense.v1"})";
  ASSERT_TRUE(node_->log().append_sync(p, {bad}).ok());
  // A record after it, on the same partition and on acme's own.
  ok(node_->execute(tcmd_at(tenant::add_member{"u2", "ops@acme.example", "admin"}, now()), acme), "member");
  ok(node_->execute(tcmd_at(tenant::create_monitor{"web", http_config("https://acme.example/", 60)}, now()), acme),
     "web");
  ASSERT_NO_FATAL_FAILURE(project_all());

  EXPECT_EQ(q("SELECT count(*) FROM members WHERE tenant_id = 'acme'"), "2");
  EXPECT_EQ(q("SELECT count(*) FROM monitors WHERE tenant_id = 'acme'"), "1");
  EXPECT_EQ(q("SELECT count(*) FROM audit_log WHERE tenant_id = 'acme'"), "3");

  // One dead letter per projection that reads the events topic, each naming
  // the record and the reason.
  std::vector<storage::stored_record> letters;
  ASSERT_TRUE(eventually([&] {
    auto r = node_->log().read(storage::topic::deadletter, p, log_offset{0}, 100);
    if (r) letters = *r;
    return letters.size() >= 4;
  }));
  ASSERT_EQ(letters.size(), 4u);
  std::set<std::string> names;
  for (auto& l : letters) {
    auto j = nlohmann::json::parse(l.value);
    names.insert(j.at("projection").get<std::string>());
    EXPECT_EQ(j.at("topic"), "keepwatch.events.v1");
    EXPECT_EQ(j.at("value"), bad.value);
    EXPECT_NE(j.at("reason").get<std::string>().find("undecodable"), std::string::npos) << j.dump();
    EXPECT_EQ(l.key, "acme");
  }
  EXPECT_EQ(names, (std::set<std::string>{"audit", "billing", "dashboard", "usage"}));
}

INSTANTIATE_TEST_SUITE_P(Logs, HistoryTest, ::testing::ValuesIn(all_backends()),
                         [](const auto& info) { return info.param.name; });
