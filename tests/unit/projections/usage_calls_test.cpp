// API-call metering end to end, on both logs (the embedded log, and Kafka
// through the dev broker), into a real PostgreSQL: record_api_calls commands
// go through a real node as the gateway's flush sends them (the platform
// actor, one command per tenant and UTC day), and the usage projection must
// add them into usage_daily.api_calls — summed for one (tenant, day) within a
// batch and across batches, kept apart by day and by tenant, beside the
// checks counted on the same row — and usage_report must show them. A retried
// flush counts once, a refused one not at all, the audit trail leaves the
// metering out, and a rebuild from offset 0 gives the same table.
#include <gtest/gtest.h>

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

timestamp at(const char* s) { return *parse_time(s); }

// One flush of the gateway's counter for a tenant and day.
tenant::command flush(const std::string& day, std::int64_t calls, std::string command_id = {}) {
  auto c = tcmd(tenant::record_api_calls{day, calls}, std::move(command_id));
  c.meta.actor = actor_ref{"system", "keepwatch", ""};
  c.meta.correlation_id = "";
  return c;
}

}  // namespace

class UsageCallsTest : public ::testing::TestWithParam<backend> {
protected:
  void SetUp() override {
    ASSERT_FALSE(pg_server::get().url().empty()) << "ops/pg.sh did not start PostgreSQL";
    url_ = pg_server::get().fresh_database();
    auto applied = kw::projections::apply_migrations(url_);
    ASSERT_TRUE(applied.ok()) << applied.err().message;
    ASSERT_TRUE(kw::projections::sync_plans(url_, test_plans()).ok());
    env_ = std::make_unique<log_env>(GetParam().name);
    opts_ = env_->options(dir_.path.string());
    auto n = node::start(opts_);
    ASSERT_TRUE(n.ok()) << n.err().message;
    node_ = std::move(*n);
  }
  void TearDown() override {
    runners_.clear();
    if (node_) node_->stop();
  }

  void ok(const result<command_reply>& r, const char* what) {
    ASSERT_TRUE(r.ok()) << what << ": " << r.err().message;
  }

  // Opens (once) a runner per projection and reads the log up to its end.
  void project() {
    if (runners_.empty()) {
      for (auto& name : kw::projections::projection_names()) {
        kw::projections::runner_options ro;
        ro.database_url = url_;
        ro.kafka = opts_.kafka ? &*opts_.kafka : nullptr;
        auto r = runner::open(kw::projections::make_projection(name), node_->log(), ro);
        ASSERT_TRUE(r.ok()) << r.err().message;
        runners_.push_back(std::move(*r));
      }
    }
    for (auto& r : runners_) {
      auto n = r->catch_up(std::chrono::seconds(90));
      ASSERT_TRUE(n.ok()) << n.err().message;
    }
  }

  std::string q(const std::string& sql) { return scalar(url_, sql); }

  // "day:checks:notifications:api_calls" rows of one tenant, by day.
  std::string usage_of(const std::string& tenant) {
    return q("SELECT coalesce(string_agg(day || ':' || checks || ':' || notifications || ':' || api_calls, ' ' "
             "ORDER BY day), '') FROM usage_daily WHERE tenant_id = '" + tenant + "'");
  }

  temp_dir dir_;
  std::string url_;
  std::unique_ptr<log_env> env_;
  node_options opts_;
  std::unique_ptr<node> node_;
  std::vector<std::unique_ptr<runner>> runners_;
};

TEST_P(UsageCallsTest, CallsAccumulatePerTenantAndDay) {
  const tenant_id acme{"acme"}, globex{"globex"};
  ok(node_->execute(tcmd(tenant::create_tenant{"Acme", "big", "u1", "owner@acme.example"}), acme), "acme");
  ok(node_->execute(tcmd(tenant::create_tenant{"Globex", "big", "g1", "owner@globex.example"}), globex), "globex");
  ok(node_->execute(tcmd(tenant::create_monitor{"web", http_config("https://acme.example/")}), acme), "web");
  auto check = mcmd(monitor::record_check{true, 1000, 200, "", std::nullopt, new_id()});
  check.meta.time = at("2026-11-24T10:00:00.000000Z");
  ok(node_->execute(check, acme, "web"), "check");

  // First batch: two flushes of the same day (summed in one batch), another
  // day, another tenant on the same day.
  ok(node_->execute(flush("2026-11-24", 5), acme), "acme 24 a");
  ok(node_->execute(flush("2026-11-24", 7), acme), "acme 24 b");
  ok(node_->execute(flush("2026-11-23", 40), acme), "acme 23");
  ok(node_->execute(flush("2026-11-24", 3), globex), "globex 24");
  ASSERT_NO_FATAL_FAILURE(project());
  EXPECT_EQ(usage_of("acme"), "2026-11-23:0:0:40 2026-11-24:1:0:12");
  EXPECT_EQ(usage_of("globex"), "2026-11-24:0:0:3");

  // Second batch: added to the rows already there.
  ok(node_->execute(flush("2026-11-24", 1'000'000'000), acme), "acme 24 c");
  ok(node_->execute(flush("2026-11-25", 2), globex), "globex 25");
  ASSERT_NO_FATAL_FAILURE(project());
  EXPECT_EQ(usage_of("acme"), "2026-11-23:0:0:40 2026-11-24:1:0:1000000012");
  EXPECT_EQ(usage_of("globex"), "2026-11-24:0:0:3 2026-11-25:0:0:2");

  // usage_report (0003) reads the same counters. (Rows it adds for days a
  // monitor was merely active depend on the clock, so only counted days.)
  EXPECT_EQ(q("SELECT string_agg(tenant_id || '/' || day || ':' || checks || ':' || api_calls, ' ' "
              "ORDER BY tenant_id, day) FROM usage_report('2026-11-23', '2026-11-25') "
              "WHERE checks > 0 OR api_calls > 0"),
            "acme/2026-11-23:0:40 acme/2026-11-24:1:1000000012 globex/2026-11-24:0:3 globex/2026-11-25:0:2");

  // Metering is not an entity change: the audit trail leaves it out, and the
  // tenant's dashboard row does not move.
  EXPECT_EQ(q("SELECT count(*) FROM audit_log WHERE action LIKE '%api_calls%'"), "0");
  EXPECT_EQ(q("SELECT string_agg(action, ' ' ORDER BY seq) FROM audit_log WHERE aggregate = 'tenant/acme'"),
            "keepwatch.tenant.created.v1 keepwatch.monitor.created.v2");
  EXPECT_EQ(q("SELECT count(*) FROM tenants"), "2");
}

TEST_P(UsageCallsTest, ARetriedFlushCountsOnceAndARefusedOneNotAtAll) {
  const tenant_id acme{"acme"};
  ok(node_->execute(tcmd(tenant::create_tenant{"Acme", "big", "u1", "owner@acme.example"}), acme), "acme");
  auto first = node_->execute(flush("2026-11-24", 10, "flush-1"), acme);
  ASSERT_NO_FATAL_FAILURE(ok(first, "flush"));
  EXPECT_EQ(first->event_ids.size(), 1u);
  auto again = node_->execute(flush("2026-11-24", 10, "flush-1"), acme);
  ASSERT_NO_FATAL_FAILURE(ok(again, "retry"));
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->version, first->version);

  // Refused: a user (even the owner), a bad day, a count out of range.
  auto by_owner = flush("2026-11-24", 10);
  by_owner.meta.actor = actor_ref{"user", "u1", "203.0.113.9"};
  auto r = node_->execute(by_owner, acme);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::forbidden);
  r = node_->execute(flush("2026-02-30", 10), acme);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid);
  r = node_->execute(flush("2026-11-24", 0), acme);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid);

  // Suspended: still counted. Deleted: refused.
  ok(node_->execute(tcmd(tenant::suspend_tenant{"unpaid"}), acme), "suspend");
  ok(node_->execute(flush("2026-11-24", 4), acme), "while suspended");
  ok(node_->execute(tcmd(tenant::delete_tenant{}), acme), "delete");
  r = node_->execute(flush("2026-11-24", 4), acme);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::not_found);

  ASSERT_NO_FATAL_FAILURE(project());
  EXPECT_EQ(usage_of("acme"), "2026-11-24:0:0:14");
}

TEST_P(UsageCallsTest, RebuildFromOffsetZeroGivesTheSameCounts) {
  const tenant_id acme{"acme"};
  ok(node_->execute(tcmd(tenant::create_tenant{"Acme", "big", "u1", "owner@acme.example"}), acme), "acme");
  ok(node_->execute(flush("2026-11-24", 5), acme), "a");
  ok(node_->execute(flush("2026-11-24", 6), acme), "b");
  ok(node_->execute(flush("2026-11-25", 7), acme), "c");
  ASSERT_NO_FATAL_FAILURE(project());
  const std::string before = table_checksum(url_, "usage_daily");
  EXPECT_EQ(usage_of("acme"), "2026-11-24:0:0:11 2026-11-25:0:0:7");
  runners_.clear();  // leave the groups
  auto usage = kw::projections::make_projection("usage");
  ASSERT_TRUE(kw::projections::reset_projection(url_, *usage).ok());
  EXPECT_EQ(table_checksum(url_, "usage_daily"), "empty");
  ASSERT_NO_FATAL_FAILURE(project());
  EXPECT_EQ(table_checksum(url_, "usage_daily"), before);
}

INSTANTIATE_TEST_SUITE_P(Logs, UsageCallsTest, ::testing::ValuesIn(all_backends()),
                         [](const auto& info) { return info.param.name; });
