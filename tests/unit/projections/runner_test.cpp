// The projection runner's guarantees under failure, on a real node's
// embedded log and a real PostgreSQL: a record the read model refuses goes to
// the dead-letter topic and the rest of its batch is applied; a rebuild that
// resets the offsets under a running runner fences it (nothing applied
// twice); a dropped database connection is an error of one step and nothing
// is lost; the projection service (one actor per projection) keeps the read
// models current; the CLI refuses bad input clearly.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <fstream>

#include "actors/host/node_fixture.hpp"
#include "events/codec.hpp"
#include "projections/migrations.hpp"
#include "projections/projections.hpp"
#include "projections/runner.hpp"
#include "projections/service.hpp"
#include "storage/partitioner.hpp"
#include "pg_fixture.hpp"

using namespace kw;
using namespace kw::test;
using kw::projections::runner;

namespace {

plan_catalog plans() {
  auto c = test_plans();
  kw::plan p = c.plans["big"];
  p.name = "pro";
  p.base_price_cents = 900;
  p.monitor_price_cents = 25;
  c.plans["pro"] = p;
  return c;
}

}  // namespace

class RunnerTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(pg_server::get().url().empty()) << "ops/pg.sh did not start PostgreSQL";
    url_ = pg_server::get().fresh_database();
    auto applied = kw::projections::apply_migrations(url_);
    ASSERT_TRUE(applied.ok()) << applied.err().message;
    ASSERT_TRUE(kw::projections::sync_plans(url_, plans()).ok());
    auto o = options(dir_.path.string());
    o.plans = plans();
    auto n = node::start(o);
    ASSERT_TRUE(n.ok()) << n.err().message;
    node_ = std::move(*n);
  }
  void TearDown() override {
    if (node_) node_->stop();
  }

  std::unique_ptr<runner> open(const std::string& name) {
    kw::projections::runner_options ro;
    ro.database_url = url_;
    auto r = runner::open(kw::projections::make_projection(name), node_->log(), ro);
    EXPECT_TRUE(r.ok()) << r.err().message;
    return r ? std::move(*r) : nullptr;
  }

  void tenant_with_monitors(const std::string& t, int monitors) {
    ASSERT_TRUE(node_->execute(tcmd(tenant::create_tenant{"T " + t, "pro", "o-" + t, "o@" + t + ".example"}),
                               tenant_id{t})
                    .ok());
    for (int i = 0; i < monitors; ++i)
      ASSERT_TRUE(node_->execute(tcmd(tenant::create_monitor{"m" + std::to_string(i),
                                                             http_config("https://" + t + ".example/")}),
                                 tenant_id{t})
                      .ok());
  }

  std::string q(const std::string& sql) { return scalar(url_, sql); }

  temp_dir dir_;
  std::string url_;
  std::unique_ptr<node> node_;
};

TEST_F(RunnerTest, RecordTheReadModelRefusesIsDeadLetteredAndTheRestOfItsBatchApplied) {
  ASSERT_NO_FATAL_FAILURE(tenant_with_monitors("acme", 1));
  // A second tenant_created for acme, well-formed but a duplicate of a row the
  // dashboard already holds.
  event dup;
  dup.meta.id = uuid_v7(now(), 1, 2);
  dup.meta.source = "keepwatch/test";
  dup.meta.subject = "tenant/acme";
  dup.meta.aggregate = "tenant/acme";
  dup.meta.tenant = tenant_id{"acme"};
  dup.meta.time = now();
  dup.meta.seq = seq_no{99};
  dup.data = tenant_created{"Acme again", "pro", "o-acme", "o@acme.example"};
  storage::record r;
  r.key = "acme";
  r.value = encode(dup);
  const auto p = storage::partition_for(tenant_id{"acme"}, node_->partitions());
  ASSERT_TRUE(node_->log().append_sync(p, {r}).ok());
  ASSERT_TRUE(node_->execute(tcmd(tenant::create_monitor{"after", http_config("https://acme.example/x")}),
                             tenant_id{"acme"})
                  .ok());

  auto dash = open("dashboard");
  ASSERT_TRUE(dash);
  ASSERT_TRUE(dash->catch_up(std::chrono::seconds(30)).ok());
  EXPECT_EQ(q("SELECT name FROM tenants WHERE tenant_id = 'acme'"), "T acme");
  EXPECT_EQ(q("SELECT string_agg(monitor_id, ',' ORDER BY monitor_id) FROM monitors"), "after,m0");
  EXPECT_EQ(dash->stats().dead_letters, 1);
  auto letters = node_->log().read(storage::topic::deadletter, p, log_offset{0}, 10);
  ASSERT_TRUE(letters.ok());
  ASSERT_EQ(letters->size(), 1u);
  auto j = nlohmann::json::parse(letters->front().value);
  EXPECT_EQ(j.at("projection"), "dashboard");
  EXPECT_EQ(j.at("value"), r.value);
  EXPECT_NE(j.at("reason").dump().find("refused by the read model"), std::string::npos) << j.dump();
  EXPECT_NE(j.at("reason").dump().find("duplicate key"), std::string::npos) << j.dump();
  // The offsets passed it: a new runner reads nothing more.
  dash->close();
  dash = open("dashboard");
  ASSERT_TRUE(dash);
  auto again = dash->catch_up(std::chrono::seconds(30));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}

TEST_F(RunnerTest, RebuildUnderARunningRunnerFencesItAndNothingIsAppliedTwice) {
  ASSERT_NO_FATAL_FAILURE(tenant_with_monitors("acme", 2));
  auto audit = open("audit");
  ASSERT_TRUE(audit);
  ASSERT_TRUE(audit->catch_up(std::chrono::seconds(30)).ok());
  EXPECT_EQ(q("SELECT count(*) FROM audit_log"), "3");
  // Another process rebuilds: tables and offsets reset under the runner.
  ASSERT_TRUE(kw::projections::reset_projection(url_, *kw::projections::make_projection("audit")).ok());
  ASSERT_NO_FATAL_FAILURE(tenant_with_monitors("globex", 1));
  ASSERT_TRUE(audit->catch_up(std::chrono::seconds(30)).ok());
  ASSERT_TRUE(audit->catch_up(std::chrono::seconds(30)).ok());
  EXPECT_GE(audit->stats().fenced, 1);
  EXPECT_EQ(q("SELECT count(*) FROM audit_log"), "5");
  EXPECT_EQ(q("SELECT count(DISTINCT event_id) FROM audit_log"), "5");
}

TEST_F(RunnerTest, ADroppedDatabaseConnectionFailsOneStepAndLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(tenant_with_monitors("acme", 1));
  auto dash = open("dashboard");
  ASSERT_TRUE(dash);
  ASSERT_TRUE(dash->catch_up(std::chrono::seconds(30)).ok());
  ASSERT_NO_FATAL_FAILURE(tenant_with_monitors("globex", 2));
  // Cut the runner's connection from the server side.
  EXPECT_EQ(q("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
              "WHERE datname = current_database() AND pid <> pg_backend_pid()"),
            "1");
  auto failed = dash->step();
  EXPECT_FALSE(failed.ok());
  if (!failed.ok()) EXPECT_EQ(failed.err().code, errc::unavailable) << failed.err().message;
  ASSERT_TRUE(dash->catch_up(std::chrono::seconds(30)).ok());
  EXPECT_EQ(q("SELECT count(*) FROM monitors"), "3");
  EXPECT_EQ(q("SELECT count(*) FROM tenants"), "2");
}

TEST_F(RunnerTest, TheServiceKeepsEveryReadModelCurrent) {
  kw::projections::service_options so;
  so.runner.database_url = url_;
  so.runner.poll_timeout = std::chrono::milliseconds(50);
  auto svc = kw::projections::service::start(node_->log(), so);
  ASSERT_TRUE(svc.ok()) << svc.err().message;
  ASSERT_NO_FATAL_FAILURE(tenant_with_monitors("acme", 2));
  ASSERT_TRUE(node_->execute(mcmd(monitor::record_check{true, 1000, 200, "", std::nullopt, new_id()}),
                             tenant_id{"acme"}, "m0")
                  .ok());
  EXPECT_TRUE(eventually(
      [&] {
        return q("SELECT count(*) FROM monitors") == "2" && q("SELECT count(*) FROM heartbeats") == "1" &&
               q("SELECT count(*) FROM audit_log") == "4" && q("SELECT sum(checks) FROM usage_daily") == "1" &&
               q("SELECT count(*) FROM billing_monitor_periods") == "2";
      },
      30));
  (*svc)->stop();
  EXPECT_GE((*svc)->records(), 4);
}

TEST(ProjectionsCli, RefusesBadInputClearly) {
  auto run = [](const std::string& args, std::string& err) {
    const std::string file = std::filesystem::temp_directory_path() / ("kw-cli-" + std::to_string(::getpid()));
    const int rc = std::system((std::string(KW_BINARY) + " " + args + " 2>" + file + " >/dev/null").c_str());
    std::ifstream in(file);
    err.assign(std::istreambuf_iterator<char>(in), {});
    std::filesystem::remove(file);
    return WEXITSTATUS(rc);
  };
  std::string err;
  // No database configured.
  EXPECT_NE(run("projections status -d /nonexistent-kw", err), 0);
  EXPECT_NE(err.find("database"), std::string::npos) << err;
  // An unknown projection names the known ones; nothing is reset.
  const std::string url = pg_server::get().fresh_database();
  ASSERT_TRUE(kw::projections::apply_migrations(url).ok());
  temp_dir d;
  ::setenv("KEEPWATCH_DATABASE_URL", url.c_str(), 1);
  EXPECT_NE(run("projections rebuild nosuch -d " + d.path.string(), err), 0);
  ::unsetenv("KEEPWATCH_DATABASE_URL");
  EXPECT_NE(err.find("no projection named 'nosuch'"), std::string::npos) << err;
  EXPECT_NE(err.find("dashboard, usage, billing, audit"), std::string::npos) << err;
  // A missing subcommand is a usage error.
  EXPECT_NE(run("projections", err), 0);
}
