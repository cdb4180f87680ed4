// The billing and usage functions of migration 0003 (billing_close_month,
// billing_close_partition, usage_report) against a real PostgreSQL 15: rows
// are written straight into the period tables, and every figure asserted was
// worked out by hand in the comment beside it.
#include "projections/migrations.hpp"
#include "pg_fixture.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <string>
#include <vector>

namespace {

using kw::projections::apply_migrations;

// The catalogue of these tests: pro is $9.00 a month plus $0.25 per
// monitor-month.
constexpr const char* k_plans =
    "INSERT INTO plans (name, max_monitors, min_interval_s, retention_days, max_users,"
    "                   max_status_pages, api_rate_per_min, base_price_cents, monitor_price_cents)"
    " VALUES ('free', 3, 300, 7, 1, 1, 60, 0, 0),"
    "        ('pro', 50, 60, 90, 5, 5, 600, 900, 25)";

class BillingSqlTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(kw::test::pg_server::get().url().empty()) << "ops/pg.sh start failed";
    url_ = kw::test::pg_server::get().fresh_database("kw_billing");
    auto applied = apply_migrations(url_);
    ASSERT_TRUE(applied.ok()) << applied.err().message;
    exec(k_plans);
  }

  void exec(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    tx.exec(sql);
  }

  std::string scalar(const std::string& sql) { return kw::test::scalar(url_, sql); }

  // Each row of a query as its fields joined by '|' (NULL as "NULL").
  std::vector<std::string> rows(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    return to_strings(tx.exec(sql));
  }

  static std::vector<std::string> to_strings(const pqxx::result& r) {
    std::vector<std::string> out;
    for (const auto& row : r) {
      std::string line;
      bool first = true;
      for (const auto& f : row) {
        if (!first) line += '|';
        first = false;
        line += f.is_null() ? "NULL" : f.c_str();
      }
      out.push_back(line);
    }
    return out;
  }

  bool close_month(const std::string& tenant, const std::string& month) {
    return scalar("SELECT billing_close_month('" + tenant + "', '" + month + "')") == "t";
  }
  int close_partition(int partition, const std::string& before) {
    return std::stoi(scalar("SELECT billing_close_partition(" + std::to_string(partition) +
                            ", '" + before + "')"));
  }

  // line_no|kind|plan|quantity|unit_price_cents|amount_cents of an invoice.
  std::vector<std::string> lines(const std::string& tenant, const std::string& month) {
    return rows("SELECT line_no, kind, plan, quantity, unit_price_cents, amount_cents"
                "  FROM invoice_lines WHERE tenant_id = '" + tenant + "' AND month = '" +
                month + "' ORDER BY line_no");
  }
  std::vector<std::string> descriptions(const std::string& tenant, const std::string& month) {
    return rows("SELECT description FROM invoice_lines WHERE tenant_id = '" + tenant +
                "' AND month = '" + month + "' ORDER BY line_no");
  }
  std::string total(const std::string& tenant, const std::string& month) {
    return scalar("SELECT total_cents FROM invoices WHERE tenant_id = '" + tenant +
                  "' AND month = '" + month + "'");
  }
  std::string counts() {
    return scalar("SELECT (SELECT count(*) FROM invoices) || '/' || (SELECT count(*) FROM invoice_lines)");
  }

  std::string url_;
};

using strings = std::vector<std::string>;

// ------------------------------------------------------------ billing_close_month

TEST_F(BillingSqlTest, MonitorActiveTenDaysOfThirtyIsBilledAThirdOfAMonitorMonth) {
  exec("INSERT INTO billing_plan_periods VALUES ('A', 'pro', '2026-10-01Z', NULL);"
       "INSERT INTO billing_monitor_periods VALUES ('A', 'm1', '2026-11-05Z', '2026-11-15Z')");

  EXPECT_TRUE(close_month("A", "2026-11-01"));

  // November has 720 hours: 240 monitor-hours are a third of 25 cents -> 8.
  EXPECT_EQ(lines("A", "2026-11-01"), (strings{"1|base|pro|1.000000|900|900",
                                              "2|monitors|pro|240.000000|25|8"}));
  EXPECT_EQ(descriptions("A", "2026-11-01"),
            (strings{"pro plan base price $9.00 × 30 of 30 days = $9.00",
                     "240 monitor-hours × $0.25 per monitor-month (720 hours) on pro = $0.08"}));
  EXPECT_EQ(total("A", "2026-11-01"), "908");
  EXPECT_EQ(scalar("SELECT currency || ' ' || status FROM invoices"), "USD closed");
}

TEST_F(BillingSqlTest, ClosingAMonthTwiceWritesOneInvoiceAndNeverRecomputesIt) {
  exec("INSERT INTO billing_plan_periods VALUES ('A', 'pro', '2026-10-01Z', NULL);"
       "INSERT INTO billing_monitor_periods VALUES ('A', 'm1', '2026-11-05Z', '2026-11-15Z')");
  ASSERT_TRUE(close_month("A", "2026-11-01"));
  EXPECT_EQ(counts(), "1/2");

  EXPECT_FALSE(close_month("A", "2026-11-01"));
  EXPECT_EQ(counts(), "1/2");

  // A late monitor period does not reopen a closed invoice.
  exec("INSERT INTO billing_monitor_periods VALUES ('A', 'm2', '2026-11-01Z', NULL)");
  EXPECT_FALSE(close_month("A", "2026-11-01"));
  EXPECT_EQ(counts(), "1/2");
  EXPECT_EQ(total("A", "2026-11-01"), "908");
}

TEST_F(BillingSqlTest, PlanChangeMidMonthProRatesEachPlanWithItsMonitors) {
  // free until Nov 16 00:00, pro after. m1 runs all month; m2 from Nov 10 to
  // Nov 20 12:00, across the change.
  exec("INSERT INTO billing_plan_periods VALUES"
       " ('B', 'free', '2026-10-20Z', '2026-11-16Z'), ('B', 'pro', '2026-11-16Z', NULL);"
       "INSERT INTO billing_monitor_periods VALUES"
       " ('B', 'm1', '2026-11-01Z', NULL), ('B', 'm2', '2026-11-10Z', '2026-11-20 12:00Z')");

  EXPECT_TRUE(close_month("B", "2026-11-01"));

  // free: 15 days; m1 360 h + m2 6 days = 144 h -> 504 h, all at price 0.
  // pro: 15 days -> 900 / 2 = 450; m1 360 h + m2 4.5 days = 108 h -> 468 h,
  //      25 × 468 / 720 = 16.25 -> 16.
  EXPECT_EQ(lines("B", "2026-11-01"), (strings{"1|base|free|0.500000|0|0",
                                              "2|monitors|free|504.000000|0|0",
                                              "3|base|pro|0.500000|900|450",
                                              "4|monitors|pro|468.000000|25|16"}));
  EXPECT_EQ(descriptions("B", "2026-11-01")[2], "pro plan base price $9.00 × 15 of 30 days = $4.50");
  EXPECT_EQ(total("B", "2026-11-01"), "466");
}

TEST_F(BillingSqlTest, DeletedTenantIsBilledUpToTheDeletionOnly) {
  // Deleted on Nov 8 at 19:12, i.e. after 7.8 days; its monitor period was
  // never closed, and still counts only while the tenant existed.
  exec("INSERT INTO billing_plan_periods VALUES ('C', 'pro', '2026-09-15Z', '2026-11-08 19:12Z');"
       "INSERT INTO billing_monitor_periods VALUES ('C', 'm1', '2026-10-01Z', NULL)");

  EXPECT_TRUE(close_month("C", "2026-11-01"));

  // base: 900 × 7.8 / 30 = 234; 7.8 / 30 = 0.26 of the month.
  // monitors: 7.8 days = 187.2 h; 25 × 187.2 / 720 = 6.5 -> 7 (half away from
  // zero, not to even).
  EXPECT_EQ(lines("C", "2026-11-01"), (strings{"1|base|pro|0.260000|900|234",
                                              "2|monitors|pro|187.200000|25|7"}));
  EXPECT_EQ(descriptions("C", "2026-11-01"),
            (strings{"pro plan base price $9.00 × 7.8 of 30 days = $2.34",
                     "187.2 monitor-hours × $0.25 per monitor-month (720 hours) on pro = $0.07"}));
  EXPECT_EQ(total("C", "2026-11-01"), "241");

  // Nothing after the deletion, and nothing before the tenant existed.
  EXPECT_FALSE(close_month("C", "2026-12-01"));
  EXPECT_FALSE(close_month("C", "2026-08-01"));
  EXPECT_EQ(counts(), "1/2");
}

TEST_F(BillingSqlTest, MonthWithoutMonitorsStillHasAMonitorsLineAndPartialMonthsUseTheirOwnLength) {
  // October has 31 days: from Oct 10 is 22 of them, 900 × 22 / 31 = 638.7 -> 639.
  exec("INSERT INTO billing_plan_periods VALUES ('D', 'pro', '2026-10-10Z', NULL)");

  EXPECT_TRUE(close_month("D", "2026-10-01"));

  EXPECT_EQ(lines("D", "2026-10-01"), (strings{"1|base|pro|0.709677|900|639",
                                              "2|monitors|pro|0.000000|25|0"}));
  EXPECT_EQ(descriptions("D", "2026-10-01"),
            (strings{"pro plan base price $9.00 × 22 of 31 days = $6.39",
                     "0 monitor-hours × $0.25 per monitor-month (744 hours) on pro = $0.00"}));
  EXPECT_EQ(total("D", "2026-10-01"), "639");
}

TEST_F(BillingSqlTest, MonthsAreUtcWhateverTheSessionTimeZone) {
  // Two hours of monitoring in November UTC, which in Kiritimati (UTC+14) is
  // already November 1 afternoon: still 2 hours, not 4 or 0.
  exec("INSERT INTO billing_plan_periods VALUES ('E', 'pro', '2026-10-01Z', NULL);"
       "INSERT INTO billing_monitor_periods VALUES ('E', 'm1', '2026-10-31 22:00Z', '2026-11-01 02:00Z')");
  pqxx::connection c(url_);
  pqxx::nontransaction tx(c);
  tx.exec("SET TimeZone = 'Pacific/Kiritimati'");
  EXPECT_EQ(tx.exec("SELECT billing_close_month('E', '2026-11-01')")[0][0].as<bool>(), true);

  EXPECT_EQ(lines("E", "2026-11-01"), (strings{"1|base|pro|1.000000|900|900",
                                              "2|monitors|pro|2.000000|25|0"}));
}

TEST_F(BillingSqlTest, PlanMissingFromTheCatalogueRaisesNamingItAndWritesNothing) {
  exec("INSERT INTO billing_tenants VALUES ('F', 0);"
       "INSERT INTO billing_plan_periods VALUES"
       " ('F', 'pro', '2026-10-01Z', '2026-11-10Z'), ('F', 'enterprise', '2026-11-10Z', NULL)");

  try {
    exec("SELECT billing_close_month('F', '2026-11-01')");
    ADD_FAILURE() << "billing_close_month did not raise";
  } catch (const pqxx::sql_error& e) {
    EXPECT_NE(std::string(e.what()).find("plan enterprise"), std::string::npos) << e.what();
  }
  EXPECT_EQ(counts(), "0/0");

  // The same through the partition closer; October, all pro, is not closed
  // either, since the whole call rolls back.
  EXPECT_THROW(close_partition(0, "2026-12-01"), pqxx::sql_error);
  EXPECT_EQ(counts(), "0/0");

  // Once the plan is in the catalogue, the month closes.
  exec("INSERT INTO plans VALUES ('enterprise', 500, 30, 365, 50, 50, 6000, 9900, 20)");
  EXPECT_EQ(close_partition(0, "2026-12-01"), 2);
}

TEST_F(BillingSqlTest, MonthThatIsNotTheFirstRaisesAndWritesNothing) {
  exec("INSERT INTO billing_plan_periods VALUES ('A', 'pro', '2026-10-01Z', NULL)");
  for (const std::string bad : {"'2026-11-02'", "'2026-11-30'", "NULL"}) {
    SCOPED_TRACE(bad);
    try {
      exec("SELECT billing_close_month('A', " + bad + ")");
      ADD_FAILURE() << "billing_close_month did not raise";
    } catch (const pqxx::sql_error& e) {
      EXPECT_EQ(e.sqlstate(), "22023") << e.what();  // invalid_parameter_value
      EXPECT_NE(std::string(e.what()).find("not the first day of a month"), std::string::npos);
    }
  }
  EXPECT_EQ(counts(), "0/0");
}

// ------------------------------------------------------------ billing_close_partition

TEST_F(BillingSqlTest, ClosePartitionClosesItsTenantsMonthsThatHaveEnded) {
  // Partition 0: P1 from Sep 15, P2 from Oct 10, P4 from Sep 1 deleted Sep 20.
  // Partition 1: P3 from Sep 1.
  exec("INSERT INTO billing_tenants VALUES ('P1', 0), ('P2', 0), ('P3', 1), ('P4', 0);"
       "INSERT INTO billing_plan_periods VALUES"
       " ('P1', 'pro', '2026-09-15Z', NULL), ('P2', 'pro', '2026-10-10Z', NULL),"
       " ('P3', 'pro', '2026-09-01Z', NULL), ('P4', 'pro', '2026-09-01Z', '2026-09-20Z')");

  // Only September has ended by Oct 31.
  EXPECT_EQ(close_partition(0, "2026-10-31"), 2);
  EXPECT_EQ(close_partition(0, "2026-11-01"), 2);  // October of P1 and P2
  EXPECT_EQ(close_partition(0, "2026-11-01"), 0);
  EXPECT_EQ(close_partition(0, "2026-11-30"), 0);  // November has not ended

  // 16/30 of 900 = 480; 22/31 of 900 = 639; 19/30 of 900 = 570.
  EXPECT_EQ(rows("SELECT tenant_id, month, total_cents FROM invoices ORDER BY 1, 2"),
            (strings{"P1|2026-09-01|480", "P1|2026-10-01|900", "P2|2026-10-01|639",
                     "P4|2026-09-01|570"}));
  EXPECT_EQ(counts(), "4/8");

  EXPECT_EQ(close_partition(0, "2026-12-01"), 2);  // November of P1 and P2; P4 is gone
  EXPECT_EQ(close_partition(0, "2026-12-01"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM invoices WHERE tenant_id = 'P4'"), "1");
  EXPECT_EQ(scalar("SELECT count(*) FROM invoices WHERE tenant_id = 'P3'"), "0");

  EXPECT_EQ(close_partition(1, "2026-11-01"), 2);
  EXPECT_EQ(close_partition(1, "2026-11-01"), 0);
}

// ------------------------------------------------------------ usage_report

class UsageReportTest : public BillingSqlTest {
protected:
  void SetUp() override {
    BillingSqlTest::SetUp();
    if (HasFatalFailure()) return;
    // A on Oct 10: m1 02:00-08:00 and m2 04:00-12:00 overlap; m3 starts at
    // 08:00 as m1 ends and runs to Oct 11 06:00.
    // B: one monitor active since Oct 9 12:00.
    // C: a period ending exactly as Oct 10 begins, and an empty one on Oct 11.
    exec("INSERT INTO usage_monitor_periods VALUES"
         " ('A', 'm1', '2026-10-10 02:00Z', '2026-10-10 08:00Z'),"
         " ('A', 'm2', '2026-10-10 04:00Z', '2026-10-10 12:00Z'),"
         " ('A', 'm3', '2026-10-10 08:00Z', '2026-10-11 06:00Z'),"
         " ('B', 'm1', '2026-10-09 12:00Z', NULL),"
         " ('C', 'm1', '2026-10-09 10:00Z', '2026-10-10 00:00Z'),"
         " ('C', 'm2', '2026-10-11 10:00Z', '2026-10-11 10:00Z');"
         "INSERT INTO usage_daily VALUES"
         " ('A', '2026-10-10', 100, 2, 7), ('A', '2026-10-12', 5, 0, 0), ('B', '2026-10-13', 1, 1, 1)");
  }
};

TEST_F(UsageReportTest, ReportsMonitorHoursPeakAndCountersPerTenantAndDay) {
  // A Oct 10: 6 + 8 + 16 = 30 h; at most m1+m2 or m2+m3 at once, never all
  // three (m1 is not open at 08:00). Oct 11: m3 6 h. Oct 12: counters only.
  // B: 24 h each day, from the day's start. C: nothing in the range.
  EXPECT_EQ(rows("SELECT * FROM usage_report('2026-10-10', '2026-10-12')"),
            (strings{"A|2026-10-10|30.000000|2|100|2|7",
                     "A|2026-10-11|6.000000|1|0|0|0",
                     "A|2026-10-12|0.000000|0|5|0|0",
                     "B|2026-10-10|24.000000|1|0|0|0",
                     "B|2026-10-11|24.000000|1|0|0|0",
                     "B|2026-10-12|24.000000|1|0|0|0"}));
  EXPECT_EQ(rows("SELECT tenant_id, monitor_hours, peak_active_monitors"
                 "  FROM usage_report('2026-10-09', '2026-10-09')"),
            (strings{"B|12.000000|1", "C|14.000000|1"}));
  EXPECT_TRUE(rows("SELECT * FROM usage_report('2026-10-12', '2026-10-10')").empty());
}

TEST_F(UsageReportTest, ApplicationRoleSeesOnlyTheTenantItSet) {
  pqxx::connection c(url_);
  {
    pqxx::work tx(c);
    tx.exec("SET LOCAL ROLE keepwatch_app");
    tx.exec("SELECT set_config('keepwatch.tenant_id', 'A', true)");
    EXPECT_EQ(to_strings(tx.exec("SELECT * FROM usage_report('2026-10-10', '2026-10-12')")),
              (strings{"A|2026-10-10|30.000000|2|100|2|7",
                       "A|2026-10-11|6.000000|1|0|0|0",
                       "A|2026-10-12|0.000000|0|5|0|0"}));
    tx.commit();
  }
  {
    pqxx::work tx(c);  // no tenant set: nothing
    tx.exec("SET LOCAL ROLE keepwatch_app");
    EXPECT_TRUE(tx.exec("SELECT * FROM usage_report('2026-10-10', '2026-10-12')").empty());
  }
  {
    pqxx::work tx(c);  // and it may not close invoices
    tx.exec("SET LOCAL ROLE keepwatch_app");
    try {
      tx.exec("SELECT billing_close_month('A', '2026-10-01')");
      ADD_FAILURE() << "keepwatch_app could run billing_close_month";
    } catch (const pqxx::sql_error& e) {
      EXPECT_NE(std::string(e.what()).find("permission denied for function billing_close_month"),
                std::string::npos) << e.what();
    }
  }
}

}  // namespace
