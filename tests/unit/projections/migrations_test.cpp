// apply_migrations against a real PostgreSQL 15 from ops/pg.sh: one server for
// the suite, a fresh database per test.
#include "projections/migrations.hpp"
#include "pg_fixture.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using kw::errc;
using kw::projections::apply_migrations;
using kw::test::run_capture;

namespace {


// A loopback port with nothing listening on it.
int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A temporary directory of migration files, removed at the end.
struct temp_dir {
  fs::path path;
  explicit temp_dir(const std::map<std::string, std::string>& files) {
    std::string tmpl = (fs::temp_directory_path() / "kw-migrations.XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
    for (const auto& [name, sql] : files) std::ofstream(path / name) << sql;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

}  // namespace

class MigrationsTest : public ::testing::Test {
protected:
  static inline std::string pg_dir_;
  static inline std::string server_url_;  // .../keepwatch
  static inline int next_db_ = 0;

  static void SetUpTestSuite() {
    std::string tmpl = (fs::temp_directory_path() / "kw-pg-test.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return;
    pg_dir_ = tmpl;
    server_url_ = run_capture(std::string("'") + KW_PG_SH + "' start '" + pg_dir_ + "'");
  }
  static void TearDownTestSuite() {
    if (!pg_dir_.empty()) {
      const int rc = std::system((std::string("'") + KW_PG_SH + "' stop '" + pg_dir_ + "'").c_str());
      EXPECT_EQ(rc, 0);
    }
  }

  void SetUp() override {
    ASSERT_EQ(server_url_.rfind("postgresql://postgres@127.0.0.1:", 0), 0u)
        << "ops/pg.sh start did not print a URL: '" << server_url_ << "'";
    // A fresh database for each test.
    const std::string db = "kw_test_" + std::to_string(++next_db_);
    pqxx::connection c(server_url_);
    pqxx::nontransaction tx(c);
    tx.exec("DROP DATABASE IF EXISTS " + db);
    tx.exec("CREATE DATABASE " + db);
    url_ = server_url_.substr(0, server_url_.rfind('/') + 1) + db;
  }

  // The single value of a query in the test database.
  std::string scalar(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    auto r = tx.exec(sql);
    if (r.empty() || r[0][0].is_null()) return "NULL";
    return r[0][0].c_str();
  }
  bool has_table(const std::string& t) { return scalar("SELECT to_regclass('" + t + "')") != "NULL"; }

  std::string url_;
};

TEST_F(MigrationsTest, AppliesEachMigrationOnce) {
  auto first = apply_migrations(url_);
  ASSERT_TRUE(first.ok()) << first.err().message;
  int shipped = 0;
  for (auto& f : fs::directory_iterator(KW_MIGRATIONS_DIR))
    if (f.path().extension() == ".sql") ++shipped;
  ASSERT_GE(shipped, 2);
  EXPECT_EQ(*first, shipped);
  auto second = apply_migrations(url_);
  ASSERT_TRUE(second.ok()) << second.err().message;
  EXPECT_EQ(*second, 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM schema_migrations"), std::to_string(shipped));
  EXPECT_EQ(scalar("SELECT name FROM schema_migrations WHERE version = 1"),
            "0001_schema_migrations_and_roles.sql");
  EXPECT_EQ(scalar("SELECT count(*) FROM schema_migrations WHERE applied_at <= now()"),
            std::to_string(shipped));
}

TEST_F(MigrationsTest, AppliesInNumberOrderAndOnlyNewOnes) {
  temp_dir d({{"0002_b.sql", "INSERT INTO t VALUES (2);"},
              {"0001_a.sql", "CREATE TABLE t (x int); INSERT INTO t VALUES (1);"},
              {"0010_c.sql", "INSERT INTO t VALUES (10);"}});
  auto r = apply_migrations(url_, d.str());
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(*r, 3);
  EXPECT_EQ(scalar("SELECT string_agg(x::text, ',' ORDER BY x) FROM t"), "1,2,10");
  std::ofstream(d.path / "0011_d.sql") << "INSERT INTO t VALUES (11);";
  r = apply_migrations(url_, d.str());
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(*r, 1);
  EXPECT_EQ(scalar("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"),
            "1,2,10,11");
}

TEST_F(MigrationsTest, BadFileNameIsAnErrorAndAppliesNothing) {
  for (const std::string bad : {"1_short.sql", "0002-dash.sql", "0002_x.sql.bak", "0002_.sql",
                                "0000_zero.sql", "0002_sp ace.sql", "notes.txt"}) {
    SCOPED_TRACE(bad);
    temp_dir d({{"0001_ok.sql", "CREATE TABLE ok (x int);"}, {bad, "SELECT 1;"}});
    auto r = apply_migrations(url_, d.str());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::invalid);
    EXPECT_NE(r.err().message.find(bad), std::string::npos) << r.err().message;
    EXPECT_FALSE(has_table("ok"));
    EXPECT_FALSE(has_table("schema_migrations"));
  }
}

TEST_F(MigrationsTest, DuplicateNumberIsAnErrorAndAppliesNothing) {
  temp_dir d({{"0001_ok.sql", "CREATE TABLE ok (x int);"},
              {"0002_one.sql", "CREATE TABLE one (x int);"},
              {"0002_two.sql", "CREATE TABLE two (x int);"}});
  auto r = apply_migrations(url_, d.str());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid);
  EXPECT_NE(r.err().message.find("0002_one.sql"), std::string::npos) << r.err().message;
  EXPECT_NE(r.err().message.find("0002_two.sql"), std::string::npos) << r.err().message;
  EXPECT_FALSE(has_table("ok"));
  EXPECT_FALSE(has_table("schema_migrations"));
}

TEST_F(MigrationsTest, MissingDirectoryIsNotFound) {
  auto r = apply_migrations(url_, "/nonexistent/kw-migrations");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::not_found);
}

TEST_F(MigrationsTest, FailingMigrationRollsBackAndKeepsEarlierOnes) {
  temp_dir d({{"0001_good.sql", "CREATE TABLE good (x int);"},
              {"0002_bad.sql", "CREATE TABLE partial (x int);\nSELECT * FROM no_such_table;"},
              {"0003_later.sql", "CREATE TABLE later (x int);"}});
  auto r = apply_migrations(url_, d.str());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid);
  EXPECT_NE(r.err().message.find("0002_bad.sql"), std::string::npos) << r.err().message;
  EXPECT_NE(r.err().message.find("no_such_table"), std::string::npos) << r.err().message;  // PG's message
  EXPECT_TRUE(has_table("good"));
  EXPECT_FALSE(has_table("partial"));
  EXPECT_FALSE(has_table("later"));
  EXPECT_EQ(scalar("SELECT string_agg(version::text, ',') FROM schema_migrations"), "1");

  // Fixed, the run carries on from where it stopped.
  std::ofstream(d.path / "0002_bad.sql", std::ios::trunc) << "CREATE TABLE partial (x int);";
  r = apply_migrations(url_, d.str());
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(*r, 2);
  EXPECT_TRUE(has_table("partial"));
  EXPECT_TRUE(has_table("later"));
}

TEST_F(MigrationsTest, UnreachableDatabaseIsUnavailable) {
  auto r = apply_migrations("postgresql://postgres@127.0.0.1:" + std::to_string(unused_port()) +
                            "/keepwatch");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable) << r.err().message;
}

TEST_F(MigrationsTest, ConcurrentRunsApplyEachMigrationOnce) {
  // Each migration counts how often it ran; a slow one widens the race.
  temp_dir d({{"0001_counter.sql", "CREATE TABLE runs (v int);"},
              {"0002_slow.sql", "SELECT pg_sleep(0.3); INSERT INTO runs VALUES (2);"},
              {"0003_next.sql", "INSERT INTO runs VALUES (3);"}});
  std::atomic<int> applied{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      auto r = apply_migrations(url_, d.str());  // its own connection each
      if (r.ok()) applied += *r; else ++failed;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(applied.load(), 3);
  EXPECT_EQ(scalar("SELECT string_agg(v::text, ',' ORDER BY v) FROM runs"), "2,3");
}

TEST_F(MigrationsTest, ApplicationRoleCannotBypassRlsAndOwnsNothing) {
  auto r = apply_migrations(url_);
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(scalar("SELECT rolbypassrls FROM pg_roles WHERE rolname = 'keepwatch_app'"), "f");
  EXPECT_EQ(scalar("SELECT rolsuper FROM pg_roles WHERE rolname = 'keepwatch_app'"), "f");
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_class c JOIN pg_roles o ON o.oid = c.relowner "
                   "WHERE o.rolname = 'keepwatch_app'"),
            "0");
  EXPECT_EQ(scalar("SELECT has_schema_privilege('keepwatch_app', 'public', 'USAGE')"), "t");
}
