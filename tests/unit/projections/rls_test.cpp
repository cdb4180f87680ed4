// Tenant isolation of the read side, as the gateway's role sees it, against a
// real PostgreSQL 15 (pg_fixture.hpp) with the project's migrations applied.
//
// The owner (the migrating role, which bypasses row-level security) writes two
// tenants, A and B, into every tenant table, with overlapping ids (both have
// monitor m1, B also has m2, ...), so a query that found a row by id alone
// would find B's if isolation failed. Then keepwatch_app, in transactions that
// set keepwatch.tenant_id = 'A' with SET LOCAL, must see A's rows and nothing
// of B's: by table, by B's ids, through joins, subqueries, unions, lateral
// queries, monitor_overview, usage_report, error side channels and planner
// statistics. With no tenant, an empty one or a RESET one it sees nothing, and
// a SET LOCAL does not outlive its transaction. It can neither write nor turn
// row-level security off, and a catalog guard fails when a tenant table
// without row-level security, or a new relation readable by the app, appears
// (the gateway's credential tables of 0004 are the one argued exception).
//
// Each behaviour is checked both ways the app can hold its role (logging in as
// keepwatch_app, as the gateway does, or an owner's connection switching with
// SET LOCAL ROLE) and both ways it can set the tenant
// (set_config(..., true), SET LOCAL). Every isolation assertion is paired with
// the owner seeing B's rows through the same query, so none passes on an empty
// result.
//
// RlsFindings pins two weaknesses found in review and fixed in 0002:
// status_page_by_slug could be hijacked through pg_temp, and a row whose
// tenant_id is '' was visible to a session whose setting reads ''.
#include "projections/migrations.hpp"
#include "pg_fixture.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace {

using kw::projections::apply_migrations;
using rows = std::vector<std::string>;

// ---------------------------------------------------------------- data

// A tenant table and what the seed puts in it.
struct tenant_table {
  const char* name;
  int a_rows;
  int b_rows;
  const char* b_only;  // matches only B's rows, without naming tenant_id
  const char* shared;  // an id both tenants use: exactly one row of A's
};

// Every tenant table of migrations 0002/0003 (and 0008's monitor_list). RlsCatalog checks that this list
// is exactly the catalog's, so a new tenant table must be added here (and
// seeded) before the suite passes.
const std::vector<tenant_table> k_tables = {
    {"tenants", 1, 1, "name = 'Beta'", "status = 'active'"},
    {"members", 1, 2, "user_id = 'u2'", "user_id = 'u1'"},
    {"api_keys", 1, 2, "key_id = 'k2'", "key_id = 'k1'"},
    {"channels", 1, 2, "channel_id = 'c2'", "channel_id = 'c1'"},
    {"status_pages", 1, 2, "page_id = 'p2'", "page_id = 'p1'"},
    {"maintenance_windows", 1, 2, "window_id = 'w2'", "window_id = 'w1'"},
    {"monitors", 1, 2, "monitor_id = 'm2'", "monitor_id = 'm1'"},
    {"monitor_last_check", 1, 2, "monitor_id = 'm2'", "monitor_id = 'm1'"},
    {"monitor_list", 1, 2, "monitor_id = 'm2'", "monitor_id = 'm1'"},
    {"heartbeats", 2, 3, "monitor_id = 'm2'", "monitor_id = 'm1' AND seq = 1"},
    {"monitor_stats_minute", 1, 2, "monitor_id = 'm2'", "monitor_id = 'm1'"},
    {"monitor_stats_hour", 1, 2, "monitor_id = 'm2'", "monitor_id = 'm1'"},
    {"monitor_stats_day", 1, 2, "monitor_id = 'm2'", "monitor_id = 'm1'"},
    {"incidents", 1, 2, "incident_id = 'i2'", "incident_id = 'i1'"},
    {"usage_daily", 1, 2, "day = '2026-11-21'", "day = '2026-11-20'"},
    {"usage_monitor_periods", 1, 2, "monitor_id = 'm2'", "monitor_id = 'm1'"},
    {"billing_tenants", 1, 1, "log_partition = 1", "log_partition >= 0"},
    {"billing_plan_periods", 1, 2, "plan = 'pro'", "plan = 'free'"},
    {"billing_monitor_periods", 1, 2, "monitor_id = 'm2'", "monitor_id = 'm1'"},
    {"invoices", 1, 2, "month = '2026-09-01'", "month = '2026-10-01'"},
    {"invoice_lines", 1, 2, "month = '2026-09-01'", "month = '2026-10-01'"},
    {"audit_log", 1, 2, "event_id = 'e2'", "event_id = 'e1'"},
    {"audit_entities", 1, 2, "entity = 'monitor/m2'", "entity = 'monitor/m1'"},
};

// Two tenants in every tenant table, written by the owner. Stats buckets are
// relative to now() so that monitor_overview's windows include them.
constexpr const char* k_seed = R"sql(
SELECT kw_heartbeat_partition('2026-11-20');
INSERT INTO plans VALUES ('free', 3, 300, 7, 1, 1, 60, 0, 0), ('pro', 50, 60, 90, 5, 5, 600, 900, 25);
INSERT INTO tenants VALUES
  ('A', 'Alpha', 'free', 'active', '2026-11-20 09:00Z', '2026-11-20 09:00Z'),
  ('B', 'Beta',  'pro',  'active', '2026-11-20 09:00Z', '2026-11-20 09:00Z');
INSERT INTO members VALUES
  ('A', 'u1', 'owner@alpha.test', 'owner', '2026-11-20 09:00Z'),
  ('B', 'u1', 'owner@beta.test',  'owner', '2026-11-20 09:00Z'),
  ('B', 'u2', 'admin@beta.test',  'admin', '2026-11-20 09:00Z');
INSERT INTO api_keys VALUES
  ('A', 'k1', 'ci',     'hash-a-k1', 'read',  '2026-11-20 09:00Z', NULL),
  ('B', 'k1', 'ci',     'hash-b-k1', 'read',  '2026-11-20 09:00Z', NULL),
  ('B', 'k2', 'deploy', 'hash-b-k2', 'write', '2026-11-20 09:00Z', NULL);
INSERT INTO channels VALUES
  ('A', 'c1', 'ops',   'webhook', 'https://alpha.test/hook', '2026-11-20 09:00Z', '2026-11-20 09:00Z'),
  ('B', 'c1', 'ops',   'webhook', 'https://beta.test/hook',  '2026-11-20 09:00Z', '2026-11-20 09:00Z'),
  ('B', 'c2', 'pager', 'webhook', 'https://beta.test/pager', '2026-11-20 09:00Z', '2026-11-20 09:00Z');
INSERT INTO status_pages VALUES
  ('A', 'p1', 'alpha-status',  'Alpha',         '{m1}',    '2026-11-20 09:00Z', '2026-11-20 09:00Z'),
  ('B', 'p1', 'beta-status',   'Beta',          '{m1,m2}', '2026-11-20 09:01Z', '2026-11-20 09:01Z'),
  ('B', 'p2', 'beta-internal', 'Beta internal', '{m2}',    '2026-11-20 09:02Z', '2026-11-20 09:02Z');
INSERT INTO maintenance_windows VALUES
  ('A', 'w1', 'upgrade', '{}',   '2026-11-20 10:00Z', '2026-11-20 11:00Z', NULL),
  ('B', 'w1', 'upgrade', '{}',   '2026-11-20 10:00Z', '2026-11-20 11:00Z', NULL),
  ('B', 'w2', 'db move', '{m2}', '2026-11-21 10:00Z', '2026-11-21 11:00Z', NULL);
INSERT INTO monitors (tenant_id, monitor_id, name, kind, target, interval_s, tags, config, active,
                      status, status_since, created_at, updated_at) VALUES
  ('A', 'm1', 'alpha api', 'http', 'https://alpha.test',  60, '{prod}', '{}', true, 'up',
   '2026-11-20 09:00Z', '2026-11-20 09:00Z', '2026-11-20 09:00Z'),
  ('B', 'm1', 'beta api',  'http', 'https://beta.test',   60, '{prod}', '{}', true, 'down',
   '2026-11-20 09:00Z', '2026-11-20 09:00Z', '2026-11-20 09:00Z'),
  ('B', 'm2', 'beta db',   'tcp',  'db.beta.test:5432',   60, '{}',     '{}', true, 'up',
   '2026-11-20 09:00Z', '2026-11-20 09:00Z', '2026-11-20 09:00Z');
INSERT INTO monitor_last_check VALUES
  ('A', 'm1', 2, '2026-11-20 10:01Z', true,  1000, 200, '',     NULL),
  ('B', 'm1', 1, '2026-11-20 10:00Z', false,    0, 500, 'boom', NULL),
  ('B', 'm2', 2, '2026-11-20 10:01Z', true,  2000,   0, '',     NULL);
INSERT INTO monitor_list (tenant_id, monitor_id, listed, name, kind, target, interval_s, tags, tags_json, active,
                          status, status_since, check_seq, last_check_at, last_check_ok, last_latency_us)
SELECT m.tenant_id, m.monitor_id, true, m.name, m.kind, m.target, m.interval_s, m.tags, to_json(m.tags)::text,
       m.active, m.status, kw_rfc3339(m.status_since), c.seq, kw_rfc3339(c.checked_at), c.ok, c.latency_us
  FROM monitors m JOIN monitor_last_check c USING (tenant_id, monitor_id);
INSERT INTO heartbeats VALUES
  ('A', 'm1', '2026-11-20 10:00Z', 1, true,  1000, 200, ''),
  ('A', 'm1', '2026-11-20 10:01Z', 2, true,  1000, 200, ''),
  ('B', 'm1', '2026-11-20 10:00Z', 1, false,    0, 500, 'boom'),
  ('B', 'm2', '2026-11-20 10:00Z', 1, true,  2000,   0, ''),
  ('B', 'm2', '2026-11-20 10:01Z', 2, true,  2000,   0, '');
INSERT INTO monitor_stats_minute
SELECT t, m, date_trunc('minute', now()) - interval '1 minute', 10, up, 9000, 900, 1100
  FROM (VALUES ('A', 'm1', 9), ('B', 'm1', 5), ('B', 'm2', 10)) AS v (t, m, up);
INSERT INTO monitor_stats_hour
SELECT t, m, date_trunc('hour', now()) - interval '1 hour', 10, up, 9000, 900, 1100
  FROM (VALUES ('A', 'm1', 9), ('B', 'm1', 5), ('B', 'm2', 10)) AS v (t, m, up);
INSERT INTO monitor_stats_day
SELECT t, m, date_trunc('day', now()) - interval '1 day', 10, up, 9000, 900, 1100
  FROM (VALUES ('A', 'm1', 9), ('B', 'm1', 5), ('B', 'm2', 10)) AS v (t, m, up);
INSERT INTO incidents VALUES
  ('A', 'i1', 'm1', 'timeout',  '2026-11-20 10:00Z', '2026-11-20 10:05Z', 300000),
  ('B', 'i1', 'm1', 'http 500', '2026-11-20 10:00Z', NULL, NULL),
  ('B', 'i2', 'm2', 'refused',  '2026-11-20 10:00Z', NULL, NULL);
INSERT INTO usage_daily VALUES
  ('A', '2026-11-20', 2, 0, 5), ('B', '2026-11-20', 3, 1, 7), ('B', '2026-11-21', 4, 0, 1);
INSERT INTO usage_monitor_periods VALUES
  ('A', 'm1', '2026-11-20 00:00Z', '2026-11-20 12:00Z'),
  ('B', 'm1', '2026-11-20 00:00Z', NULL),
  ('B', 'm2', '2026-11-20 06:00Z', NULL);
INSERT INTO billing_tenants VALUES ('A', 0), ('B', 1);
INSERT INTO billing_plan_periods VALUES
  ('A', 'free', '2026-09-01 00:00Z', NULL),
  ('B', 'free', '2026-09-01 00:00Z', '2026-10-01 00:00Z'),
  ('B', 'pro',  '2026-10-01 00:00Z', NULL);
INSERT INTO billing_monitor_periods SELECT * FROM usage_monitor_periods;
INSERT INTO invoices VALUES
  ('A', '2026-10-01', 'USD', 0, 'closed'),
  ('B', '2026-09-01', 'USD', 0, 'closed'),
  ('B', '2026-10-01', 'USD', 900, 'closed');
INSERT INTO invoice_lines VALUES
  ('A', '2026-10-01', 1, 'base', 'free', 'free plan base price', 1, 0, 0),
  ('B', '2026-09-01', 1, 'base', 'free', 'free plan base price', 1, 0, 0),
  ('B', '2026-10-01', 1, 'base', 'pro',  'pro plan base price',  1, 900, 900);
INSERT INTO audit_log VALUES
  ('A', '2026-11-20 09:00Z', 'e1', 0, 10, 'monitor/m1', 1, 'user', 'u1', '10.0.0.1',
   'keepwatch.monitor.created.v1', 'monitor/m1', NULL, '{}', '', 'ha1'),
  ('B', '2026-11-20 09:00Z', 'e1', 1, 10, 'monitor/m1', 1, 'user', 'u1', '10.0.0.2',
   'keepwatch.monitor.created.v1', 'monitor/m1', NULL, '{}', '', 'hb1'),
  ('B', '2026-11-20 09:01Z', 'e2', 1, 11, 'monitor/m2', 1, 'user', 'u2', '10.0.0.2',
   'keepwatch.monitor.created.v1', 'monitor/m2', NULL, '{}', 'hb1', 'hb2');
INSERT INTO audit_entities VALUES
  ('A', 'monitor/m1', '{}'), ('B', 'monitor/m1', '{}'), ('B', 'monitor/m2', '{}');
)sql";

// ---------------------------------------------------------------- helpers

rows to_rows(const pqxx::result& r) {
  rows out;
  for (const auto& row : r) {
    std::string line;
    for (pqxx::row::size_type i = 0; i < row.size(); ++i) {
      if (i != 0) line += '|';
      line += row[i].is_null() ? "NULL" : row[i].c_str();
    }
    out.push_back(line);
  }
  return out;
}

// One query giving "table|count" for every tenant table, each filtered by
// `where(table)` (nullptr: unfiltered).
template <typename Where>
std::string counts_sql(Where where) {
  std::string sql;
  for (const auto& t : k_tables) {
    if (!sql.empty()) sql += " UNION ALL ";
    sql += std::string("SELECT '") + t.name + "', count(*) FROM " + t.name;
    if (const char* w = where(t)) sql += std::string(" WHERE ") + w;
  }
  return sql;
}
std::string counts_sql() {
  return counts_sql([](const tenant_table&) -> const char* { return nullptr; });
}

// "table|n" for every tenant table, n = count(table).
template <typename Count>
rows expected_counts(Count count) {
  rows out;
  for (const auto& t : k_tables) out.push_back(std::string(t.name) + "|" + std::to_string(count(t)));
  return out;
}
rows zero_counts() {
  return expected_counts([](const tenant_table&) { return 0; });
}

std::vector<std::string> table_names() {
  std::vector<std::string> out;
  for (const auto& t : k_tables) out.emplace_back(t.name);
  std::sort(out.begin(), out.end());
  return out;
}

// The owner's URL with the user replaced by `user` (the server trusts
// 127.0.0.1, so no password).
std::string url_as(const std::string& url, const std::string& user) {
  const auto scheme = url.find("://") + 3;
  const auto at = url.find('@', scheme);
  return url.substr(0, scheme) + user + url.substr(at);
}

constexpr const char* k_insufficient_privilege = "42501";

// The SQLSTATE of an error. libpqxx 6.4 leaves sqlstate() empty on some of the
// classes it throws, so those are mapped back from their type.
std::string sqlstate_of(const pqxx::sql_error& e) {
  if (!e.sqlstate().empty()) return e.sqlstate();
  if (dynamic_cast<const pqxx::insufficient_privilege*>(&e) != nullptr) return k_insufficient_privilege;
  if (dynamic_cast<const pqxx::undefined_column*>(&e) != nullptr) return "42703";
  if (dynamic_cast<const pqxx::check_violation*>(&e) != nullptr) return "23514";
  return std::string("unknown: ") + e.what();
}

// How the application holds its role.
enum class role_via {
  login,           // connects as keepwatch_app (the role has LOGIN)
  set_local_role,  // the owner's connection, SET LOCAL ROLE keepwatch_app: the gateway (0004)
};
// How a transaction sets the tenant.
enum class tenant_via { set_config, set_local };

struct app_mode {
  role_via role;
  tenant_via tenant;
};

// A connection of the application role. Each call is one transaction that
// takes the role (set_local_role), sets the tenant with SET LOCAL semantics
// unless it is std::nullopt, and runs the statements.
class app_session {
public:
  app_session(const std::string& owner_url, app_mode mode)
      : mode_(mode), c_(mode.role == role_via::login ? url_as(owner_url, "keepwatch_app") : owner_url) {}

  // The rows of the last statement; commits.
  rows run(const std::optional<std::string>& tenant, const std::vector<std::string>& statements) {
    pqxx::work tx(c_);
    enter(tx, tenant);
    pqxx::result last;
    for (const auto& s : statements) last = tx.exec(s);
    tx.commit();
    return to_rows(last);
  }
  rows query(const std::optional<std::string>& tenant, const std::string& sql) { return run(tenant, {sql}); }

  // The SQLSTATE with which `sql` fails ("" when it succeeds); rolls back.
  std::string refusal(const std::optional<std::string>& tenant, const std::string& sql) {
    pqxx::work tx(c_);
    enter(tx, tenant);
    try {
      tx.exec(sql);
    } catch (const pqxx::sql_error& e) {
      return sqlstate_of(e);
    }
    return "";
  }

private:
  void enter(pqxx::work& tx, const std::optional<std::string>& tenant) {
    if (mode_.role == role_via::set_local_role) tx.exec("SET LOCAL ROLE keepwatch_app");
    if (!tenant) return;
    if (mode_.tenant == tenant_via::set_config) {
      tx.exec("SELECT set_config('keepwatch.tenant_id', " + tx.quote(*tenant) + ", true)");
    } else {
      tx.exec("SET LOCAL keepwatch.tenant_id = " + tx.quote(*tenant));
    }
  }

  app_mode mode_;
  pqxx::connection c_;
};

// ---------------------------------------------------------------- fixtures

// A fresh database with the migrations applied and the two tenants seeded.
class SeededDatabase : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(kw::test::pg_server::get().url().empty()) << "ops/pg.sh start failed";
    url_ = kw::test::pg_server::get().fresh_database("kw_rls");
    auto applied = apply_migrations(url_);
    ASSERT_TRUE(applied.ok()) << applied.err().message;
    owner_exec(k_seed);
  }

  // As the owner, which bypasses row-level security.
  rows owner(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    return to_rows(tx.exec(sql));
  }
  void owner_exec(const std::string& sql) { (void)owner(sql); }

  std::string url_;
};

class TenantIsolation : public SeededDatabase, public ::testing::WithParamInterface<app_mode> {
protected:
  app_session app() { return app_session(url_, GetParam()); }
};

class RlsCatalog : public SeededDatabase {};
class RlsFindings : public SeededDatabase {};

const rows k_a = {"A"};

// ---------------------------------------------------------------- isolation by table

TEST_P(TenantIsolation, every_tenant_table_shows_only_the_tenants_rows) {
  ASSERT_EQ(owner(counts_sql()), expected_counts([](const tenant_table& t) { return t.a_rows + t.b_rows; }));
  auto s = app();
  EXPECT_EQ(s.query("A", counts_sql()), expected_counts([](const tenant_table& t) { return t.a_rows; }));
  EXPECT_EQ(s.query("A", counts_sql([](const tenant_table&) { return "tenant_id = 'B'"; })), zero_counts());
  EXPECT_EQ(s.query("A", counts_sql([](const tenant_table&) { return "tenant_id = 'A'"; })),
            expected_counts([](const tenant_table& t) { return t.a_rows; }));
  // and symmetrically for B, so the policy is not simply "tenant A"
  EXPECT_EQ(s.query("B", counts_sql()), expected_counts([](const tenant_table& t) { return t.b_rows; }));
  EXPECT_EQ(s.query("B", counts_sql([](const tenant_table&) { return "tenant_id = 'A'"; })), zero_counts());
}

TEST_P(TenantIsolation, another_tenants_ids_find_nothing) {
  const auto b_only = [](const tenant_table& t) { return t.b_only; };
  const auto shared = [](const tenant_table& t) { return t.shared; };
  for (const auto& r : owner(counts_sql(b_only))) {
    ASSERT_NE(r.substr(r.find('|')), "|0") << r << ": a b_only predicate must match B's rows";
  }
  ASSERT_EQ(owner(counts_sql(shared)), expected_counts([](const tenant_table&) { return 2; }));
  auto s = app();
  EXPECT_EQ(s.query("A", counts_sql(b_only)), zero_counts());
  EXPECT_EQ(s.query("A", counts_sql(shared)), expected_counts([](const tenant_table&) { return 1; }));
  for (const auto& t : k_tables) {
    EXPECT_EQ(s.query("A", std::string("SELECT tenant_id FROM ") + t.name + " WHERE " + t.shared), k_a) << t.name;
  }
  // by primary key, the way an API handler fetches one object
  EXPECT_EQ(s.query("A", "SELECT name FROM monitors WHERE monitor_id = 'm2'"), rows{});
  EXPECT_EQ(s.query("A", "SELECT key_hash FROM api_keys WHERE key_id = 'k2'"), rows{});
  EXPECT_EQ(s.query("A", "SELECT name FROM monitors WHERE monitor_id = 'm1'"), rows{"alpha api"});
  EXPECT_EQ(s.query("A", "SELECT key_hash FROM api_keys WHERE key_id = 'k1'"), rows{"hash-a-k1"});
}

// ---------------------------------------------------------------- isolation across queries

struct query_case {
  const char* what;
  const char* sql;
  rows as_a;  // what tenant A sees; the owner must see something else
};

TEST_P(TenantIsolation, joins_subqueries_unions_and_lateral_queries_see_one_tenant) {
  std::string every_tenant_id;  // the tenant ids of every table at once
  for (const auto& t : k_tables) {
    if (!every_tenant_id.empty()) every_tenant_id += " UNION ";
    every_tenant_id += std::string("SELECT tenant_id FROM ") + t.name;
  }
  every_tenant_id += " ORDER BY 1";

  const std::vector<query_case> cases = {
      {"join on tenant and monitor",
       "SELECT m.tenant_id || h.tenant_id, h.monitor_id, h.seq FROM monitors m"
       "  JOIN heartbeats h ON h.tenant_id = m.tenant_id AND h.monitor_id = m.monitor_id ORDER BY 2, 3",
       {"AA|m1|1", "AA|m1|2"}},
      {"join on monitor_id alone",
       "SELECT m.tenant_id || h.tenant_id, h.monitor_id, h.seq FROM monitors m"
       "  JOIN heartbeats h ON h.monitor_id = m.monitor_id ORDER BY 2, 3",
       {"AA|m1|1", "AA|m1|2"}},
      {"monitors join incidents on monitor_id alone",
       "SELECT m.tenant_id || i.tenant_id, i.incident_id, i.cause FROM monitors m"
       "  JOIN incidents i ON i.monitor_id = m.monitor_id ORDER BY 2",
       {"AA|i1|timeout"}},
      {"left join keeps no other tenant's matches",
       "SELECT m.monitor_id, count(c.*) FROM monitors m"
       "  LEFT JOIN monitor_last_check c ON c.monitor_id = m.monitor_id GROUP BY 1 ORDER BY 1",
       {"m1|1"}},
      {"IN subquery",
       "SELECT tenant_id, incident_id FROM incidents"
       " WHERE monitor_id IN (SELECT monitor_id FROM monitors WHERE name LIKE 'beta%')",
       {}},
      {"EXISTS on another tenant's id",
       "SELECT count(*) FROM monitors m WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.key_id = 'k2')",
       {"0"}},
      {"CTE asking for B",
       "WITH b AS (SELECT * FROM monitors WHERE tenant_id = 'B') SELECT count(*) FROM b",
       {"0"}},
      {"UNION of every tenant table", every_tenant_id.c_str(), {"A"}},
      {"LATERAL by monitor id",
       "SELECT v.id, x.n FROM (VALUES ('m1'), ('m2')) AS v (id)"
       " CROSS JOIN LATERAL (SELECT count(*) AS n FROM heartbeats h WHERE h.monitor_id = v.id) x ORDER BY 1",
       {"m1|2", "m2|0"}},
      {"aggregate by tenant", "SELECT tenant_id, count(*) FROM audit_log GROUP BY 1 ORDER BY 1", {"A|1"}},
      {"invoice lines join invoices on month alone",
       "SELECT i.tenant_id || l.tenant_id, l.month, l.amount_cents FROM invoices i"
       "  JOIN invoice_lines l ON l.month = i.month ORDER BY 2",
       {"AA|2026-10-01|0"}},
      {"view join on monitor_id alone",
       "SELECT o.tenant_id, o.monitor_id, i.incident_id FROM monitor_overview o"
       "  JOIN incidents i ON i.monitor_id = o.monitor_id ORDER BY 3",
       {"A|m1|i1"}},
  };
  auto s = app();
  for (const auto& c : cases) {
    EXPECT_NE(owner(c.sql), c.as_a) << c.what << ": the owner must see B through this query";
    EXPECT_EQ(s.query("A", c.sql), c.as_a) << c.what;
  }
}

// A predicate that fails on B's values would reveal them through an error if
// it ran before the policy; PostgreSQL must evaluate the policy first.
TEST_P(TenantIsolation, errors_in_a_predicate_reveal_nothing_of_another_tenant) {
  const std::vector<std::string> probes = {
      "SELECT count(*) FROM monitors WHERE 1 / (CASE WHEN tenant_id = 'B' THEN 0 ELSE 1 END) = 1",
      "SELECT count(*) FROM monitors WHERE 1 / (CASE WHEN name = 'beta db' THEN 0 ELSE 1 END) = 1",
      "SELECT count(*) FROM api_keys WHERE 1 / (CASE WHEN key_hash = 'hash-b-k2' THEN 0 ELSE 1 END) = 1",
      "SELECT count(*) FROM heartbeats WHERE 1 / (CASE WHEN error = 'boom' THEN 0 ELSE 1 END) = 1",
  };
  auto s = app();
  for (const auto& p : probes) {
    EXPECT_THROW(owner(p), pqxx::sql_error) << "the probe must fail on B's row: " << p;
    EXPECT_EQ(s.refusal("A", p), "") << p;
  }
}

TEST_P(TenantIsolation, planner_statistics_hide_other_tenants) {
  owner_exec("ANALYZE");
  std::string in;
  for (const auto& t : k_tables) in += std::string(in.empty() ? "" : ", ") + "'" + t.name + "'";
  const std::string sql = "SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND tablename IN (" + in + ")";
  ASSERT_NE(owner(sql), rows{"0"});
  EXPECT_EQ(app().query("A", sql), rows{"0"});
}

// ---------------------------------------------------------------- views and functions

TEST_P(TenantIsolation, monitor_overview_lists_only_the_tenants_monitors) {
  const std::string sql =
      "SELECT tenant_id, monitor_id, name, status, last_check_ok, uptime_24h, uptime_30d"
      "  FROM monitor_overview ORDER BY 1, 2";
  ASSERT_EQ(owner(sql), (rows{"A|m1|alpha api|up|t|0.900000|0.900000", "B|m1|beta api|down|f|0.500000|0.500000",
                              "B|m2|beta db|up|t|1.000000|1.000000"}));
  auto s = app();
  EXPECT_EQ(s.query("A", sql), rows{"A|m1|alpha api|up|t|0.900000|0.900000"});
  EXPECT_EQ(s.query("A", "SELECT count(*) FROM monitor_overview WHERE monitor_id = 'm2'"), rows{"0"});
}

TEST_P(TenantIsolation, usage_report_covers_only_the_tenant) {
  const std::string sql = "SELECT * FROM usage_report('2026-11-20', '2026-11-21')";
  ASSERT_EQ(owner(sql), (rows{"A|2026-11-20|12.000000|1|2|0|5", "B|2026-11-20|42.000000|2|3|1|7",
                              "B|2026-11-21|48.000000|2|4|0|1"}));
  auto s = app();
  EXPECT_EQ(s.query("A", sql), rows{"A|2026-11-20|12.000000|1|2|0|5"});
  EXPECT_EQ(s.query("A", "SELECT count(*) FROM usage_report('2026-11-20', '2026-11-21') WHERE tenant_id = 'B'"),
            rows{"0"});
}

// Public status pages are found before the tenant is known: the function
// names the tenant and page of a slug, any tenant's, and nothing more.
TEST_P(TenantIsolation, status_page_by_slug_answers_only_tenant_and_page) {
  auto s = app();
  EXPECT_EQ(s.query("A", "SELECT * FROM status_page_by_slug('beta-status')"), rows{"B|p1"});
  EXPECT_EQ(s.query("A", "SELECT * FROM status_page_by_slug('alpha-status')"), rows{"A|p1"});
  EXPECT_EQ(s.query(std::nullopt, "SELECT * FROM status_page_by_slug('beta-internal')"), rows{"B|p2"});
  EXPECT_EQ(s.query(std::nullopt, "SELECT * FROM status_page_by_slug('nope')"), rows{});
  EXPECT_EQ(s.query(std::nullopt, "SELECT * FROM status_page_by_slug('%')"), rows{});
  EXPECT_EQ(s.query(std::nullopt, "SELECT * FROM status_page_by_slug(NULL)"), rows{});
  // two columns, whatever is asked
  EXPECT_EQ(s.refusal(std::nullopt, "SELECT title FROM status_page_by_slug('beta-status')"), "42703");
  // and learning B's page grants nothing of B's: the session still sees A only
  EXPECT_EQ(s.run("A", {"SELECT * FROM status_page_by_slug('beta-status')",
                        "SELECT tenant_id, page_id FROM status_pages ORDER BY 1, 2"}),
            rows{"A|p1"});
}

// ---------------------------------------------------------------- no tenant

TEST_P(TenantIsolation, a_fresh_session_without_a_tenant_sees_nothing) {
  auto s = app();  // a new connection: keepwatch.tenant_id was never set in it
  EXPECT_EQ(s.query(std::nullopt, "SELECT current_setting('keepwatch.tenant_id', true) IS NULL"), rows{"t"});
  EXPECT_EQ(s.query(std::nullopt, counts_sql()), zero_counts());
  EXPECT_EQ(s.query(std::nullopt, "SELECT count(*) FROM monitor_overview"), rows{"0"});
  EXPECT_EQ(s.query(std::nullopt, "SELECT count(*) FROM usage_report('2026-11-20', '2026-11-21')"), rows{"0"});
}

TEST_P(TenantIsolation, an_empty_tenant_sees_nothing) {
  auto s = app();
  EXPECT_EQ(s.query("", counts_sql()), zero_counts());
  EXPECT_EQ(s.query("", "SELECT count(*) FROM monitor_overview"), rows{"0"});
  EXPECT_EQ(s.query("", "SELECT count(*) FROM usage_report('2026-11-20', '2026-11-21')"), rows{"0"});
}

TEST_P(TenantIsolation, a_reset_tenant_sees_nothing) {
  auto s = app();
  ASSERT_EQ(s.run("A", {"SELECT count(*) FROM monitors"}), rows{"1"});
  EXPECT_EQ(s.run("A", {"RESET keepwatch.tenant_id", counts_sql()}), zero_counts());
  EXPECT_EQ(s.run("A", {"RESET keepwatch.tenant_id", "SELECT count(*) FROM monitor_overview"}), rows{"0"});
}

// The gateway pools connections: what one request set must be gone for the next.
TEST_P(TenantIsolation, set_local_does_not_outlive_its_transaction) {
  auto s = app();
  ASSERT_EQ(s.query("A", counts_sql()), expected_counts([](const tenant_table& t) { return t.a_rows; }));
  EXPECT_EQ(s.query(std::nullopt, counts_sql()), zero_counts()) << "after a commit";
  EXPECT_EQ(s.refusal("A", "SELECT 1 / 0"), "22012");
  EXPECT_EQ(s.query(std::nullopt, counts_sql()), zero_counts()) << "after a rollback";
  EXPECT_EQ(s.query(std::nullopt, "SELECT coalesce(current_setting('keepwatch.tenant_id', true), 'NULL')"),
            rows{""});
  // The counter-example, so the checks above can see a leak: a plain SET
  // (session scope) does outlive its transaction.
  s.run(std::nullopt, {"SET keepwatch.tenant_id = 'A'"});
  EXPECT_EQ(s.query(std::nullopt, "SELECT count(*) FROM monitors"), rows{"1"});
}

// ---------------------------------------------------------------- no writes, no escape

TEST_P(TenantIsolation, the_app_role_cannot_write) {
  auto s = app();
  std::vector<std::string> relations = table_names();
  relations.emplace_back("plans");
  for (const auto& t : relations) {
    for (const std::string& sql :
         {"INSERT INTO " + t + " DEFAULT VALUES", "UPDATE " + t + " SET tenant_id = tenant_id",
          "DELETE FROM " + t, "TRUNCATE " + t, "SELECT 1 FROM " + t + " FOR UPDATE"}) {
      if (t == "plans" && sql.find("tenant_id") != std::string::npos) continue;
      EXPECT_EQ(s.refusal("A", sql), k_insufficient_privilege) << sql;
    }
  }
  EXPECT_EQ(s.refusal("A", "UPDATE plans SET base_price_cents = 0"), k_insufficient_privilege);
  EXPECT_EQ(owner(counts_sql()), expected_counts([](const tenant_table& t) { return t.a_rows + t.b_rows; }));
}

TEST_P(TenantIsolation, the_app_role_cannot_turn_row_level_security_off) {
  auto s = app();
  for (const auto& t : k_tables) {
    const std::string name = t.name;
    EXPECT_EQ(s.refusal("A", "ALTER TABLE " + name + " DISABLE ROW LEVEL SECURITY"), k_insufficient_privilege)
        << name;
    EXPECT_EQ(s.refusal("A", "DROP POLICY tenant_isolation ON " + name), k_insufficient_privilege) << name;
    EXPECT_EQ(s.refusal("A", "CREATE POLICY everyone ON " + name + " USING (true)"), k_insufficient_privilege)
        << name;
  }
  for (const char* sql : {
           "ALTER POLICY tenant_isolation ON monitors USING (true)",
           "DROP TABLE monitors",
           "ALTER TABLE monitors OWNER TO keepwatch_app",
           "ALTER ROLE keepwatch_app BYPASSRLS",
           "CREATE TABLE public.kw_scratch (tenant_id text)",
           "CREATE FUNCTION public.kw_scratch() RETURNS int LANGUAGE sql AS 'SELECT 1'",
           "CREATE OR REPLACE VIEW monitor_overview AS SELECT * FROM monitors",
           // with RLS on its tables, row_security = off is an error, not a bypass
           "SET LOCAL row_security = off; SELECT count(*) FROM monitors",
           // the owner's functions, as the app: refused, or writing nothing
           "SELECT billing_close_month('B', '2026-11-01')",
           "SELECT billing_close_partition(1, '2026-12-01')",
           "SELECT kw_purge_read_models('2100-01-01')",
           "SELECT kw_heartbeat_partition('2026-11-22')",
       }) {
    EXPECT_EQ(s.refusal("A", sql), k_insufficient_privilege) << sql;
  }
  // Only a role logged in as keepwatch_app is confined to it (a superuser's
  // connection that switched with SET LOCAL ROLE may switch back).
  if (GetParam().role == role_via::login) {
    EXPECT_EQ(s.refusal("A", "SET ROLE postgres"), k_insufficient_privilege);
    EXPECT_EQ(s.refusal("A", "SET SESSION AUTHORIZATION postgres"), k_insufficient_privilege);
  }
  EXPECT_EQ(owner("SELECT relrowsecurity FROM pg_class WHERE relname = 'monitors'"), rows{"t"});
}

// Not tenant data, hence no row-level security: projection_offsets (positions
// in the log; 0004 grants it for read-your-writes, so every tenant reads all of
// it) and plans (the public catalogue). schema_migrations is granted to no one.
TEST_P(TenantIsolation, the_app_role_reads_offsets_and_plans_whole_and_no_migrations) {
  owner_exec("INSERT INTO projection_offsets VALUES ('dashboard', 'keepwatch.events.v1', 0, 42)");
  auto s = app();
  EXPECT_EQ(s.query("A", "SELECT projection, next_offset FROM projection_offsets"), rows{"dashboard|42"});
  EXPECT_EQ(s.query(std::nullopt, "SELECT projection, next_offset FROM projection_offsets"), rows{"dashboard|42"});
  EXPECT_EQ(s.refusal("A", "SELECT count(*) FROM schema_migrations"), k_insufficient_privilege);
  EXPECT_EQ(s.query("A", "SELECT name FROM plans ORDER BY 1"), (rows{"free", "pro"}));
  EXPECT_EQ(s.query(std::nullopt, "SELECT name FROM plans ORDER BY 1"), (rows{"free", "pro"}));
}

// A heartbeat partition has no policy of its own: the app must not reach it
// except through the parent.
TEST_P(TenantIsolation, the_app_role_cannot_read_a_heartbeat_partition_directly) {
  ASSERT_EQ(owner("SELECT count(*) FROM heartbeats_20261120"), rows{"5"});
  EXPECT_EQ(app().refusal("A", "SELECT count(*) FROM heartbeats_20261120"), k_insufficient_privilege);
  EXPECT_EQ(app().query("A", "SELECT count(*) FROM heartbeats WHERE checked_at < '2026-11-21'"), rows{"2"});
}

INSTANTIATE_TEST_SUITE_P(
    Modes, TenantIsolation,
    ::testing::Values(app_mode{role_via::login, tenant_via::set_config},
                      app_mode{role_via::login, tenant_via::set_local},
                      app_mode{role_via::set_local_role, tenant_via::set_config},
                      app_mode{role_via::set_local_role, tenant_via::set_local}),
    [](const ::testing::TestParamInfo<app_mode>& i) {
      return std::string(i.param.role == role_via::login ? "login" : "set_local_role") + "_" +
             (i.param.tenant == tenant_via::set_config ? "set_config" : "set_local");
    });

// ---------------------------------------------------------------- catalog guard

// Tenant tables (a tenant_id column, in public, not a heartbeat partition)
// without row-level security, without a policy for SELECT, or with a
// permissive policy that does not compare tenant_id with the setting (one
// such policy opens the table: permissive policies are ORed).
constexpr const char* k_unprotected_tenant_tables = R"sql(
SELECT c.relname || ':' || concat_ws(',',
         CASE WHEN NOT c.relrowsecurity THEN 'rls off' END,
         CASE WHEN NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polcmd IN ('r', '*'))
              THEN 'no policy' END,
         (SELECT 'lax policy ' || string_agg(p.polname, ' ') FROM pg_policy p
           WHERE p.polrelid = c.oid AND p.polpermissive AND p.polcmd IN ('r', '*')
             AND coalesce(pg_get_expr(p.polqual, p.polrelid), '')
                 NOT LIKE '%tenant_id = %current_setting(''keepwatch.tenant_id''%'))
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
   AND EXISTS (SELECT 1 FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
   AND NOT (c.relispartition AND c.relname ~ '^heartbeats_[0-9]{8}$')
   AND (NOT c.relrowsecurity
        OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polcmd IN ('r', '*'))
        OR EXISTS (SELECT 1 FROM pg_policy p
                    WHERE p.polrelid = c.oid AND p.polpermissive AND p.polcmd IN ('r', '*')
                      AND coalesce(pg_get_expr(p.polqual, p.polrelid), '')
                          NOT LIKE '%tenant_id = %current_setting(''keepwatch.tenant_id''%'))
 ORDER BY 1
)sql";

// Tables with a tenant_id that are not tenant data and have no row-level
// security by design: the gateway's credentials (0004), which login reads by
// email before any tenant is known.
const std::vector<std::string> k_tenant_id_without_rls = {"users"};

rows without_exempt(rows unprotected) {
  unprotected.erase(std::remove_if(unprotected.begin(), unprotected.end(),
                                   [](const std::string& r) {
                                     const auto name = r.substr(0, r.find(':'));
                                     return std::find(k_tenant_id_without_rls.begin(), k_tenant_id_without_rls.end(),
                                                      name) != k_tenant_id_without_rls.end();
                                   }),
                    unprotected.end());
  return unprotected;
}

TEST_F(RlsCatalog, every_tenant_table_is_listed_here_and_has_row_level_security) {
  const rows tenant_tables = owner(
      "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
      "   AND EXISTS (SELECT 1 FROM pg_attribute a"
      "                WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)"
      "   AND NOT (c.relispartition AND c.relname ~ '^heartbeats_[0-9]{8}$')"
      " ORDER BY 1");
  rows expected_tables = table_names();
  expected_tables.insert(expected_tables.end(), k_tenant_id_without_rls.begin(), k_tenant_id_without_rls.end());
  std::sort(expected_tables.begin(), expected_tables.end());
  EXPECT_EQ(tenant_tables, expected_tables) << "a tenant table is missing from k_tables (seed and list it)";
  EXPECT_EQ(without_exempt(owner(k_unprotected_tenant_tables)), rows{});

  // The guard itself notices a table without row-level security, and a lax policy.
  owner_exec("CREATE TABLE kw_unprotected (tenant_id text)");
  owner_exec("CREATE POLICY everyone ON monitors USING (true)");
  EXPECT_EQ(without_exempt(owner(k_unprotected_tenant_tables)),
            (rows{"kw_unprotected:rls off,no policy", "monitors:lax policy everyone"}));
}

// Everything keepwatch_app can read is a tenant table under RLS, the plan
// catalogue, the projection offsets, a security_invoker view, or the gateway's
// credentials (0004, which it also writes, and nothing else); it reads no
// partition directly. A
// new relation granted to the app fails here until it is added (and argued
// for).
TEST_F(RlsCatalog, the_app_role_reads_only_protected_relations_and_writes_none) {
  const char* relations =
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')"
      "   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'";
  rows expected;
  for (const auto& name : table_names()) expected.push_back("public." + name + "|t|");
  expected.push_back("public.monitor_overview|f|{security_invoker=true}");
  expected.push_back("public.plans|f|");
  expected.push_back("public.projection_offsets|f|");
  for (const char* credentials : {"public.refresh_tokens", "public.revoked_access_tokens"}) {
    expected.push_back(std::string(credentials) + "|f|");
  }
  expected.push_back("public.users|t|");  // 0007: logins under row-level security
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(owner(std::string("SELECT n.nspname || '.' || c.relname, c.relrowsecurity,"
                              "       coalesce(c.reloptions::text, '') ") +
                  relations + " AND has_any_column_privilege('keepwatch_app', c.oid, 'SELECT') ORDER BY 1"),
            expected);

  // name|insert|update|delete|truncate|references|trigger of what the role may change
  const std::string writable =
      std::string("SELECT n.nspname || '.' || c.relname, has_any_column_privilege(%R, c.oid, 'INSERT'),"
                  " has_any_column_privilege(%R, c.oid, 'UPDATE'), has_table_privilege(%R, c.oid, 'DELETE'),"
                  " has_table_privilege(%R, c.oid, 'TRUNCATE'), has_any_column_privilege(%R, c.oid, 'REFERENCES'),"
                  " has_table_privilege(%R, c.oid, 'TRIGGER') ") +
      relations +
      " AND (has_any_column_privilege(%R, c.oid, 'INSERT, UPDATE, REFERENCES')"
      "      OR has_table_privilege(%R, c.oid, 'DELETE, TRUNCATE, TRIGGER')) ORDER BY 1";
  auto for_role = [&](const std::string& role) {
    std::string sql = writable;
    for (auto p = sql.find("%R"); p != std::string::npos; p = sql.find("%R")) sql.replace(p, 2, "'" + role + "'");
    return sql;
  };
  ASSERT_NE(owner(for_role("postgres")), rows{}) << "the owner may write: the query must see it";
  EXPECT_EQ(owner(for_role("keepwatch_app")),
            (rows{"public.refresh_tokens|t|t|t|f|f|f", "public.revoked_access_tokens|t|t|t|f|f|f",
                  "public.users|t|t|t|f|f|f"}));

  ASSERT_NE(owner("SELECT count(*) FROM pg_class WHERE relispartition"), rows{"0"});
  EXPECT_EQ(owner("SELECT relname FROM pg_class"
                  " WHERE relispartition AND has_any_column_privilege('keepwatch_app', oid, 'SELECT')"),
            rows{});
}

TEST_F(RlsCatalog, the_app_role_owns_nothing_and_cannot_bypass_row_level_security) {
  EXPECT_EQ(owner("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles"
                  " WHERE rolname = 'keepwatch_app'"),
            rows{"f|f|f|f"});
  EXPECT_EQ(owner("SELECT count(*) FROM pg_auth_members WHERE member = 'keepwatch_app'::regrole"), rows{"0"})
      << "keepwatch_app must inherit no role";
  // the owner of the tables is the migrating role: the query sees owners
  ASSERT_EQ(owner("SELECT count(*) FROM pg_class WHERE relname = 'monitors' AND relowner = current_user::regrole"),
            rows{"1"});
  EXPECT_EQ(owner("SELECT count(*) FROM pg_class WHERE relowner = 'keepwatch_app'::regrole"), rows{"0"});
  EXPECT_EQ(owner("SELECT count(*) FROM pg_proc WHERE proowner = 'keepwatch_app'::regrole"), rows{"0"});
  EXPECT_EQ(owner("SELECT count(*) FROM pg_namespace WHERE nspowner = 'keepwatch_app'::regrole"), rows{"0"});
  EXPECT_EQ(owner("SELECT count(*) FROM pg_database WHERE datdba = 'keepwatch_app'::regrole"), rows{"0"});
}

// A SECURITY DEFINER function runs as the owner, past row-level security: the
// app may call only status_page_by_slug (public status pages),
// platform_tenants (0005: the platform admin's list of tenants, the tenants
// table's own columns only) and the logins' lookups of 0007 (one user by the
// email or id the caller names, whether a platform admin exists, and the
// first one); the billing functions are not its. A new one must be added
// here on purpose.
TEST_F(RlsCatalog, the_only_security_definer_functions_the_app_can_call_are_the_chosen_two) {
  EXPECT_EQ(owner("SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                  " WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                  "   AND has_function_privilege('keepwatch_app', p.oid, 'EXECUTE') ORDER BY 1"),
            (rows{"auth_add_first_platform_admin(text,text,text)", "auth_any_platform_admin()",
                  "auth_user_by_email(text)", "auth_user_by_id(text)", "platform_tenants(text,text,integer)",
                  "status_page_by_slug(text)"}));
  EXPECT_EQ(owner("SELECT has_function_privilege('keepwatch_app', 'billing_close_month(text, date)', 'EXECUTE'),"
                  "       has_function_privilege('keepwatch_app', 'billing_close_partition(int, date)', 'EXECUTE'),"
                  "       has_function_privilege('keepwatch_app', 'usage_report(date, date)', 'EXECUTE')"),
            rows{"f|f|t"});
}

// ---------------------------------------------------------------- findings (failing)

// FINDING 1 (0002): status_page_by_slug is SECURITY DEFINER with
// `SET search_path = public`; pg_temp, not named, is then searched first for
// relations, so the app can put a temporary view named status_pages in front
// of the table and run its own code as the function's owner, past row-level
// security (here: every tenant's API key hashes; the owner could as well ALTER
// ROLE keepwatch_app BYPASSRLS). Fix: `SET search_path = pg_catalog, public,
// pg_temp` (pg_temp last) and/or `FROM public.status_pages`.
TEST_F(RlsFindings, status_page_by_slug_cannot_be_hijacked_through_pg_temp) {
  app_session s(url_, {role_via::login, tenant_via::set_config});
  try {
    const rows got = s.run(std::nullopt, {
        "CREATE FUNCTION pg_temp.steal()"
        " RETURNS TABLE (tenant_id text, page_id text, slug text, created_at timestamptz) LANGUAGE sql AS"
        " $$ SELECT current_user::text, string_agg(tenant_id || ':' || key_hash, ',' ORDER BY tenant_id, key_id),"
        "           'stolen', now() FROM public.api_keys $$",
        "CREATE TEMP VIEW status_pages AS SELECT * FROM pg_temp.steal()",
        "SELECT * FROM status_page_by_slug('stolen')"});
    EXPECT_EQ(got, rows{}) << "the app ran its own SQL as the owner of status_page_by_slug";
  } catch (const pqxx::sql_error& e) {
    EXPECT_EQ(sqlstate_of(e), k_insufficient_privilege) << e.what();  // no TEMP privilege: fine too
  }
  // every SECURITY DEFINER function pins a search_path with pg_temp last (or empty)
  EXPECT_EQ(owner("SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                  " WHERE p.prosecdef AND n.nspname = 'public'"
                  "   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c"
                  "                    WHERE c ~ '^search_path=(\"\"|.*pg_temp\\s*)$')"),
            rows{});
}

// FINDING 2 (0002): the comment of the policies says no policy grants anything
// when keepwatch.tenant_id is unset or empty, but `tenant_id =
// current_setting(...)` matches a row whose tenant_id is '' when the setting
// is '' — and '' is what the setting reads on every pooled connection once a
// SET LOCAL of it has ended. Nothing stops such a row (no CHECK; the event
// codec accepts an empty tenantid). Fix: `USING (tenant_id =
// nullif(current_setting('keepwatch.tenant_id', true), ''))`, and
// `CHECK (tenant_id <> '')` on the tenant tables.
TEST_F(RlsFindings, a_row_with_an_empty_tenant_id_is_visible_to_no_session) {
  std::vector<std::string> inserted;
  for (const auto& t : k_tables) {  // a copy of A's rows under tenant '' (invoices before their lines)
    const std::string name = t.name;
    try {
      owner_exec("INSERT INTO " + name + " SELECT (jsonb_populate_record(NULL::" + name +
                 ", to_jsonb(r) || '{\"tenant_id\": \"\"}')).* FROM " + name + " r WHERE tenant_id = 'A'");
      inserted.push_back(name);
    } catch (const pqxx::sql_error& e) {
      EXPECT_EQ(sqlstate_of(e), "23514") << name << ": " << e.what();  // refused by a CHECK: fine
    }
  }
  if (inserted.empty()) return;
  rows none;
  std::string sql;
  for (const auto& name : inserted) {
    none.push_back(name + "|0");
    sql += (sql.empty() ? "SELECT '" : " UNION ALL SELECT '") + name + "', count(*) FROM " + name;
  }
  app_session s(url_, {role_via::login, tenant_via::set_config});
  s.query("A", "SELECT 1");  // a request came and went on this pooled connection
  EXPECT_EQ(s.query(std::nullopt, sql), none) << "after a SET LOCAL ended";
  EXPECT_EQ(s.query("", sql), none) << "with an empty setting";
}

}  // namespace
