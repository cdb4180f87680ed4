// projections.dashboard_query: how long the dashboard's monitor list takes —
// one tenant's monitors with their status, last check and uptime over 24 h,
// 7 d and 30 d (the monitor_overview view) — read the way the gateway reads:
// as keepwatch_app, in a transaction that sets the tenant with
// SET LOCAL ROLE and set_config('keepwatch.tenant_id', tenant, true), so that
// row-level security picks the rows.
//
// The read side is filled directly with SQL (generate_series, as the owner):
// 1,000 tenants x 100 monitors, each with its last check, hourly stats for
// the last 7 days (one check a minute: 60 per hour), daily stats for the last
// 30 days, then VACUUM ANALYZE. Then 100 queries to warm up and 2,000 for
// random tenants, one at a time, each timed from BEGIN to COMMIT.
//
// Figures: p99 (target <= 20 ms) and p50 of the whole transaction; on stderr
// the SELECT alone and the plan of one query.
//
// Usage: dashboard_query_bench [queries [tenants [monitors_per_tenant [whatif]]]]
//   (default 2000 1000 100; "whatif" then also times variants that would be
//   faster: see the end of main).
#include <cstring>
#include <random>
#include <thread>

#include "projection_bench.hpp"

namespace {

using namespace kw;
using namespace kw::pbench;

// The monitor list as the dashboard asks for it.
constexpr const char* overview_sql =
    "SELECT monitor_id, name, kind, target, interval_s, tags, active, status, status_since, status_reason, "
    "last_check_at, last_check_ok, last_latency_us, last_http_status, last_error, cert_expires_at, "
    "uptime_24h, uptime_7d, uptime_30d, avg_latency_us_24h FROM monitor_overview ORDER BY name, monitor_id";

void exec_timed(pqxx::connection& c, const char* what, const std::string& sql) {
  const auto t0 = clock_type::now();
  pqxx::nontransaction(c).exec(sql);
  std::fprintf(stderr, "  %-44s %6.1f s\n", what, seconds_since(t0));
}

// Fills the read side of `db` for `tenants` x `monitors` (ids: UUIDs from md5).
void fill(const std::string& db, int tenants, int monitors) {
  pqxx::connection c(db);
  const std::string T = std::to_string(tenants), M = std::to_string(monitors);
  const std::string tenant_id = "md5('t' || t)::uuid::text";
  const std::string monitor_id = "md5('m' || t || '/' || m)::uuid::text";
  const std::string fleet = "generate_series(1, " + T + ") t CROSS JOIN generate_series(1, " + M + ") m";
  pqxx::nontransaction(c).exec("SET maintenance_work_mem = '1GB'");
  std::fprintf(stderr, "filling %d tenants x %d monitors:\n", tenants, monitors);
  exec_timed(c, "tenants", "INSERT INTO tenants SELECT " + tenant_id +
                               ", 'Tenant ' || t, 'bench', 'active', now() - interval '90 days', now() "
                               "FROM generate_series(1, " + T + ") t");
  exec_timed(c, "monitors",
             "INSERT INTO monitors SELECT " + tenant_id + ", " + monitor_id +
                 ", 'site ' || m, 'http', 'https://site' || m || '.example.com/health', 60, '{prod}', "
                 "jsonb_build_object('name', 'site ' || m, 'kind', 'http', 'url', "
                 "'https://site' || m || '.example.com/health', 'interval_s', 60, 'timeout_ms', 10000), "
                 "true, CASE WHEN m % 50 = 0 THEN 'down' ELSE 'up' END, now() - interval '3 days', '', "
                 "now() - interval '60 days', now() FROM " + fleet);
  exec_timed(c, "monitor_last_check",
             "INSERT INTO monitor_last_check SELECT " + tenant_id + ", " + monitor_id +
                 ", 43200 * 2, now() - interval '20 seconds', m % 50 <> 0, 20000 + (m * 7919) % 280000, "
                 "CASE WHEN m % 50 = 0 THEN 0 ELSE 200 END, "
                 "CASE WHEN m % 50 = 0 THEN 'timeout after 10000 ms' ELSE '' END, now() + interval '60 days' "
                 "FROM " + fleet);
  // Stats, in the order production writes them: bucket after bucket (a
  // monitor's rows an hour or a day apart), and within a bucket the monitors
  // in check order, which interleaves the tenants (each monitor checks at
  // its own phase of the minute) — here monitor number major, tenant minor,
  // so a tenant's rows of one bucket are on as many pages as it has
  // monitors. (The "+ 0 * ..." pins the nesting order of the loops.) The
  // primary keys are dropped while filling and built again after, which is
  // much faster than inserting into them; the tables end up the same. Two
  // connections fill the two halves of the buckets at once.
  const auto stats = [&](const char* table, const std::string& first_bucket, int n_buckets, const char* step,
                         int per_bucket) {
    const std::string P = std::to_string(per_bucket);
    pqxx::nontransaction(c).exec(std::string("ALTER TABLE ") + table + " DROP CONSTRAINT " + table + "_pkey");
    const auto fill_half = [&](int from, int to) {
      pqxx::connection h(db);
      pqxx::nontransaction(h).exec(
          std::string("INSERT INTO ") + table + " SELECT " + tenant_id + ", " + monitor_id + ", b, " + P + ", " + P +
          " - (CASE WHEN (m + extract(epoch FROM b)::bigint / 3600) % 97 = 0 THEN 3 ELSE 0 END), (" + P +
          "::bigint * (20000 + (m * 7919) % 280000)), 15000, 400000 "
          "FROM generate_series(" + std::to_string(from) + ", " + std::to_string(to) + ") i, "
          "LATERAL (SELECT " + first_bucket + " + i * interval '" + step + "' AS b) bb, "
          "LATERAL generate_series(1, " + M + " + 0 * i) m, "
          "LATERAL generate_series(1, " + T + " + 0 * m) t");
    };
    const auto t0 = clock_type::now();
    std::thread other([&] { fill_half(n_buckets / 2, n_buckets - 1); });
    fill_half(0, n_buckets / 2 - 1);
    other.join();
    std::fprintf(stderr, "  %-44s %6.1f s\n", table, seconds_since(t0));
    exec_timed(c, (std::string(table) + " primary key").c_str(),
               std::string("ALTER TABLE ") + table + " ADD PRIMARY KEY (tenant_id, monitor_id, bucket)");
  };
  // 169 hourly buckets (the last 7 days and the current hour), 30 daily
  // (the 30 the view reads, today's included).
  stats("monitor_stats_hour", "date_trunc('hour', now()) - interval '168 hours'", 169, "1 hour", 60);
  stats("monitor_stats_day", "date_trunc('day', now(), 'UTC') - interval '29 days'", 30, "1 day", 1440);
  // The steady state of rows written long ago: hint bits set, pages
  // all-visible. (Commits are asynchronous on the throwaway server, and a
  // first VACUUM right after the fill leaves many pages not all-visible.)
  exec_timed(c, "CHECKPOINT", "CHECKPOINT");
  exec_timed(c, "VACUUM ANALYZE", "VACUUM ANALYZE");
  exec_timed(c, "VACUUM", "VACUUM");
  std::fprintf(stderr, "  one tenant's hourly rows (%d monitors x 169) are on %s heap pages\n", monitors,
               scalar(c, "SELECT count(DISTINCT (ctid::text::point)[0]) FROM monitor_stats_hour "
                         "WHERE tenant_id = md5('t1')::uuid::text")
                   .c_str());
  std::fprintf(stderr, "  database size %s\n",
               scalar(c, "SELECT pg_size_pretty(pg_database_size(current_database()))").c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const int queries = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int tenants = argc > 2 ? std::atoi(argv[2]) : 1000;
  const int monitors = argc > 3 ? std::atoi(argv[3]) : 100;
  const bool what_if = argc > 4 && std::string(argv[4]) == "whatif";
  auto& pg = pg_server::get();
  const auto db = pg.create_read_side("kw_query", bench_plans());
  auto t0 = clock_type::now();
  fill(db, tenants, monitors);
  std::fprintf(stderr, "filled in %.1f s\n", seconds_since(t0));

  pqxx::connection c(db);  // as the owner, which SET LOCAL ROLE leaves
  std::vector<std::string> ids;
  {
    pqxx::nontransaction tx(c);
    for (const auto& row : tx.exec("SELECT tenant_id FROM tenants ORDER BY tenant_id"))
      ids.push_back(row[0].as<std::string>());
  }
  // The gateway's transaction: the role and the tenant are set locally, so
  // they end with it.
  auto one = [&](const std::string& sql, const std::string& tenant, double* select_ms) -> std::size_t {
    pqxx::work tx(c);
    tx.exec("SET LOCAL ROLE keepwatch_app");
    tx.exec_params("SELECT set_config('keepwatch.tenant_id', $1, true)", tenant);
    const auto s0 = clock_type::now();
    auto rows = tx.exec(sql);
    if (select_ms != nullptr) *select_ms = ms_between(s0, clock_type::now());
    tx.commit();
    return rows.size();
  };
  auto explain = [&](const std::string& sql) {
    pqxx::work tx(c);
    tx.exec("SET LOCAL ROLE keepwatch_app");
    tx.exec_params("SELECT set_config('keepwatch.tenant_id', $1, true)", ids[ids.size() / 2]);
    for (const auto& row : tx.exec("EXPLAIN (ANALYZE, BUFFERS) " + sql))
      std::fprintf(stderr, "  %s\n", row[0].c_str());
    tx.commit();
  };
  // `n` queries for random tenants (after 100 to warm up); p50 and p99 of the
  // whole transaction, in ms.
  std::mt19937_64 rng(1);
  auto measure = [&](const char* label, const std::string& sql, int n, bool same_tenant) {
    for (int i = 0; i < 100; ++i) one(sql, ids[same_tenant ? 0 : rng() % ids.size()], nullptr);
    std::vector<double> total_ms, select_ms;
    cpu_meter cpu;
    for (int i = 0; i < n; ++i) {
      double s = 0;
      const auto q0 = clock_type::now();
      const auto rows = one(sql, ids[same_tenant ? 0 : rng() % ids.size()], &s);
      total_ms.push_back(ms_between(q0, clock_type::now()));
      select_ms.push_back(s);
      if (rows != std::size_t(monitors))
        fail("a tenant's overview has " + std::to_string(rows) + " rows, expected " + std::to_string(monitors));
    }
    cpu.report(label);
    const std::pair<double, double> p{percentile(total_ms, 50), percentile(total_ms, 99)};
    std::fprintf(stderr,
                 "%s: transaction p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; SELECT alone p50 %.2f ms, "
                 "p99 %.2f ms\n",
                 label, p.first, percentile(total_ms, 90), p.second, total_ms.back(), percentile(select_ms, 50),
                 percentile(select_ms, 99));
    return p;
  };

  std::fprintf(stderr, "plan of one query:\n");
  explain(overview_sql);
  const auto [p50, p99] = measure("queries", overview_sql, queries, false);
  figure("projections.dashboard_query", "p99_ms", p99, "ms", "<= 20");
  figure("projections.dashboard_query_p50", "p50_ms", p50, "ms", "-");

  // The dashboard projection's tick (retention), which its actor runs every
  // minute between batches — the projection stands still meanwhile. Nothing
  // here is old enough to go: this is the cost of looking.
  auto purge = [&]() {
    const auto t0 = clock_type::now();
    const auto n = scalar(c, "SELECT kw_purge_read_models(now())");
    const double secs = seconds_since(t0);
    std::fprintf(stderr, "kw_purge_read_models: %.2f s, %s rows deleted\n", secs, n.c_str());
    return secs;
  };
  purge();
  figure("projections.purge_tick", "seconds", purge(), "s", "-");
  if (!what_if) return 0;
  // With a BRIN index on the stats' buckets (rows arrive in bucket order).
  for (const char* t : {"monitor_stats_minute", "monitor_stats_hour", "monitor_stats_day"})
    pqxx::nontransaction(c).exec(std::string("CREATE INDEX ON ") + t + " USING brin (bucket)");
  pqxx::nontransaction(c).exec("ANALYZE");
  purge();
  std::fprintf(stderr, "what-if BRIN on bucket: kw_purge_read_models %.2f s\n", purge());

  // What would help (stderr only): the same tenant over and over (as many
  // of its pages in shared buffers as fit); 7-day uptime from the daily stats; the stats'
  // primary keys covering the summed columns (INCLUDE), so the stats are
  // read from the index alone.
  measure("what-if one tenant over and over", overview_sql, 500, true);
  pqxx::nontransaction(c).exec(
      "CREATE VIEW bench_overview_7d_daily WITH (security_invoker = true) AS "
      "SELECT m.tenant_id, m.monitor_id, m.name, m.kind, m.target, m.interval_s, m.tags, m.active, m.status, "
      "m.status_since, m.status_reason, c.checked_at AS last_check_at, c.ok AS last_check_ok, "
      "c.latency_us AS last_latency_us, c.http_status AS last_http_status, c.error AS last_error, "
      "c.cert_expires_at, round(h24.up::numeric / nullif(h24.checks, 0), 6) AS uptime_24h, "
      "round(d7.up::numeric / nullif(d7.checks, 0), 6) AS uptime_7d, "
      "round(d30.up::numeric / nullif(d30.checks, 0), 6) AS uptime_30d, "
      "(h24.latency_sum_us / nullif(h24.up, 0))::bigint AS avg_latency_us_24h "
      "FROM monitors m LEFT JOIN monitor_last_check c ON c.tenant_id = m.tenant_id AND c.monitor_id = m.monitor_id "
      "LEFT JOIN LATERAL (SELECT sum(checks) AS checks, sum(up) AS up, sum(latency_sum_us) AS latency_sum_us "
      "FROM monitor_stats_hour s WHERE s.tenant_id = m.tenant_id AND s.monitor_id = m.monitor_id "
      "AND s.bucket > now() - interval '24 hours') h24 ON true "
      "LEFT JOIN LATERAL (SELECT sum(checks) AS checks, sum(up) AS up FROM monitor_stats_day s "
      "WHERE s.tenant_id = m.tenant_id AND s.monitor_id = m.monitor_id AND s.bucket > now() - interval '7 days') d7 ON true "
      "LEFT JOIN LATERAL (SELECT sum(checks) AS checks, sum(up) AS up FROM monitor_stats_day s "
      "WHERE s.tenant_id = m.tenant_id AND s.monitor_id = m.monitor_id AND s.bucket > now() - interval '30 days') d30 ON true; "
      "GRANT SELECT ON bench_overview_7d_daily TO keepwatch_app");
  std::string daily = overview_sql;
  daily.replace(daily.find("monitor_overview"), std::strlen("monitor_overview"), "bench_overview_7d_daily");
  measure("what-if 7-day uptime from daily stats", daily, 500, false);
  auto t1 = clock_type::now();
  for (const char* sql :
       {"SET maintenance_work_mem = '1GB'",
        "ALTER TABLE monitor_stats_hour DROP CONSTRAINT monitor_stats_hour_pkey, ADD CONSTRAINT "
        "monitor_stats_hour_pkey PRIMARY KEY (tenant_id, monitor_id, bucket) INCLUDE (checks, up, latency_sum_us)",
        "ALTER TABLE monitor_stats_day DROP CONSTRAINT monitor_stats_day_pkey, ADD CONSTRAINT "
        "monitor_stats_day_pkey PRIMARY KEY (tenant_id, monitor_id, bucket) INCLUDE (checks, up)",
        "VACUUM ANALYZE monitor_stats_hour, monitor_stats_day"})
    pqxx::nontransaction(c).exec(sql);
  std::fprintf(stderr, "covering primary keys built in %.1f s; plan now:\n", seconds_since(t1));
  explain(overview_sql);
  measure("what-if covering primary keys", overview_sql, 500, false);
  measure("what-if covering primary keys + 7-day from daily", daily, 500, false);
  return 0;
}
