// projections.check_throughput_{embedded,kafka}: how fast the dashboard
// projection's runner turns check results into heartbeats and stats.
//
// A fleet of 1,000 tenants x 10 monitors (tenant_created and monitor_created
// on the events topic, projected first, untimed: this also joins the
// consumer group), then 200,000 check results (20 per monitor, one a minute,
// ending now, about 1 in 100 failing, per-monitor seq increasing) appended
// straight to the log in large groups. Timed: the runner reading, decoding,
// projecting and committing every check result into heartbeats,
// monitor_stats_minute/_hour/_day and monitor_last_check with the offsets.
// Figure: check results / second, each log into its own database:
//  - embedded (RocksLog): all appended, then runner::catch_up from there;
//  - Kafka (the in-process dev broker): the dev broker keeps only the newest
//    5 MiB of a partition, so the checks are fed in rounds of 12,500 that
//    keep at most two rounds ahead of the runner, which steps until it has
//    them all (it never runs dry, and nothing is dropped under it).
//
// Then, on stderr only, where the time goes (embedded): the same checks
// pushed through the runner's stages by hand, each timed — read from the log,
// decode, projection::apply, render, and each statement on its own in
// PostgreSQL (and how much of it is reading its JSON) — into a fresh database.
// With "breakdown", also what-ifs: the runner's loop by hand with changes it
// does not have (a second connection over half the partitions, the next
// batch prepared while PostgreSQL applies this one, no minute stats, one
// statement per batch), each checked to give the same tables.
//
// Usage: projection_throughput_bench [checks [embedded|kafka|both|breakdown]]
//   (default 200000 both: both figures and the breakdown). For experiments,
//   PBENCH_MAX_BATCH overrides the runner's batch size and PBENCH_SETUP_SQL
//   runs on each new read-side database first.
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <tuple>

#include "projection_bench.hpp"
#include "projections/projection.hpp"
#include "storage/dev_broker.hpp"
#include "storage/kafka_log.hpp"
#include "storage/rocks_log.hpp"

namespace {

using namespace kw;
using namespace kw::pbench;
using namespace std::chrono_literals;

constexpr int tenants = 1000;
constexpr int monitors_each = 10;
constexpr std::int64_t minute_us = 60'000'000;

// `per_monitor` rounds of checks, one a minute, the last round ending about
// now; within a round the monitors' checks are spread over the minute.
partitioned_records check_records(const fleet& f, id_source& ids, int per_monitor) {
  partitioned_records out;
  const std::int64_t end = wall_now().get();
  const std::int64_t start = end - std::int64_t(per_monitor) * minute_us;
  const std::int64_t n_monitors = std::int64_t(f.tenants.size()) * monitors_each;
  for (int r = 0; r < per_monitor; ++r) {
    std::int64_t k = 0;
    for (auto& x : f.tenants)
      for (auto& m : x.monitors) {
        const timestamp t{start + r * minute_us + (k++ * minute_us) / n_monitors};
        out.add(x.partition, check_event(ids, x.id, m, r + 1, t, ids.rng() % 100 != 0));
      }
  }
  std::size_t bytes = 0;
  for (auto& v : out.p)
    for (auto& r : v) bytes += r.value.size() + r.key.size() + 120;  // + headers
  std::fprintf(stderr, "%zu check results, ~%zu bytes each with key and headers\n", out.size(),
               bytes / std::max<std::size_t>(1, out.size()));
  return out;
}

// Splits each partition's records into `n` consecutive slices: n rounds of
// appends that keep every partition's order.
std::vector<partitioned_records> split(partitioned_records all, int n) {
  std::vector<partitioned_records> out(static_cast<std::size_t>(n));
  for (int p = 0; p < partitions; ++p) {
    auto& v = all.p[std::size_t(p)];
    for (int i = 0; i < n; ++i) {
      const std::size_t from = v.size() * std::size_t(i) / std::size_t(n);
      const std::size_t to = v.size() * std::size_t(i + 1) / std::size_t(n);
      out[std::size_t(i)].p[std::size_t(p)].assign(std::make_move_iterator(v.begin() + long(from)),
                                                   std::make_move_iterator(v.begin() + long(to)));
    }
  }
  return out;
}

// Projects the fleet (untimed), then the check results (timed). With one
// round: all appended, then runner::catch_up from there. With more: the
// first two rounds appended, then the runner steps until it has every
// record while a feeder thread appends each next round as soon as the
// backlog is down to one round (so the runner never runs dry and the
// backlog never exceeds two rounds). Check results per second.
double project_checks(const char* label, storage::event_log& log, const std::string& db,
                      partitioned_records domain, std::vector<partitioned_records> rounds, std::size_t group,
                      projections::runner_options ro) {
  auto t0 = clock_type::now();
  append_all(log, std::move(domain), group);
  ro.database_url = db;
  auto runner = open_runner("dashboard", log, ro);
  must(runner->catch_up(120s), "catch_up (fleet)");
  std::fprintf(stderr, "%s: fleet appended and projected in %.1f s\n", label, seconds_since(t0));

  std::int64_t n_checks = 0;
  for (auto& r : rounds) n_checks += std::int64_t(r.size());
  std::atomic<std::int64_t> consumed{0}, appended{0};
  double secs = 0, append_secs = 0;
  const auto before = runner->stats();
  std::unique_ptr<cpu_meter> cpu;
  if (rounds.size() == 1) {
    t0 = clock_type::now();
    append_all(log, std::move(rounds[0]), group);
    append_secs = seconds_since(t0);
    cpu = std::make_unique<cpu_meter>();
    t0 = clock_type::now();
    consumed = must(runner->catch_up(600s), "catch_up (checks)");
    secs = seconds_since(t0);
  } else {
    const auto round_size = std::int64_t(rounds[0].size());
    std::size_t next = 0;
    for (; next < 2 && next < rounds.size(); ++next) {
      appended += std::int64_t(rounds[next].size());
      append_all(log, std::move(rounds[next]), group);
    }
    std::thread feeder([&] {
      for (; next < rounds.size(); ++next) {
        while (appended.load() - consumed.load() > round_size) std::this_thread::sleep_for(1ms);
        const auto a0 = clock_type::now();
        const auto n = std::int64_t(rounds[next].size());
        append_all(log, std::move(rounds[next]), group);
        appended += n;
        append_secs += seconds_since(a0);
      }
    });
    cpu = std::make_unique<cpu_meter>();
    t0 = clock_type::now();
    const auto deadline = t0 + 600s;
    while (consumed.load() < n_checks) {
      auto n = runner->step();
      if (!n) fail(std::string("step: ") + n.err().message);
      consumed += std::int64_t(*n);
      if (clock_type::now() > deadline) fail("the runner did not catch up in time");
    }
    secs = seconds_since(t0);
    feeder.join();
  }
  std::fprintf(stderr, "%s: %lld check results appended in %zu round(s), %.1f s of appending\n", label,
               (long long)n_checks, rounds.size(), append_secs);
  cpu->report(label);
  const auto after = runner->stats();
  const auto batches = std::max<std::int64_t>(1, after.batches - before.batches);
  std::fprintf(stderr, "%s: %lld records in %.2f s catching up, %lld batches (%.0f per batch, %.1f ms per batch), "
               "%lld dead letters\n",
               label, (long long)consumed.load(), secs, (long long)batches, double(consumed.load()) / double(batches),
               1000 * secs / double(batches), (long long)after.dead_letters);
  pqxx::connection c(db);
  {
    pqxx::nontransaction tx(c);
    for (const auto& row : tx.exec(
             "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, pg_total_relation_size(relid) / 1048576 "
             "FROM pg_stat_user_tables WHERE relname ~ '^(monitor_stats|monitor_last|heartbeats_)' ORDER BY 1"))
      std::fprintf(stderr, "  %-24s inserted %8s updated %8s (HOT %8s) %5s MB\n", row[0].c_str(), row[1].c_str(),
                   row[2].c_str(), row[3].c_str(), row[4].c_str());
  }
  const auto hb = std::stoll(scalar(c, "SELECT count(*) FROM heartbeats"));
  if (hb != n_checks || consumed.load() != n_checks)
    fail(std::string(label) + ": expected " + std::to_string(n_checks) + " heartbeats, found " +
         std::to_string(hb) + " (" + std::to_string(consumed.load()) + " consumed)");
  runner->close();
  return double(n_checks) / secs;
}

// ---- where the time goes ------------------------------------------------------------

struct sections {
  std::map<std::string, double> s;
  void add(const std::string& k, clock_type::time_point since) { s[k] += seconds_since(since); }
};

std::string kind_of(const std::string& sql) {
  for (const char* k : {"heartbeats", "monitor_stats_minute", "monitor_stats_hour", "monitor_stats_day",
                        "monitor_last_check", "kw_heartbeat_partition", "projection_offsets"})
    if (sql.find(k) != std::string::npos) return std::string("pg: ") + k;
  return "pg: other";
}

// Appends `v` as a JSON string.
void json_string(std::string& out, std::string_view v) {
  out += '"';
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += '"';
}

// What-if for projection::apply's cost: the same five JSON documents the
// dashboard builds for a batch of check results (heartbeat rows; minute,
// hour and day sums; each monitor's latest check), written straight into
// strings instead of through nlohmann::json values, with keys that point
// into the events instead of copying them. Returns the bytes written.
std::size_t direct_json(const std::vector<projections::projected_event>& batch) {
  struct sums {
    std::int64_t checks = 0, up = 0, lat = 0, lmin = INT64_MAX, lmax = INT64_MIN;
  };
  using key = std::tuple<std::string_view, std::string_view, std::int64_t>;
  std::map<key, sums> minute, hour, day;
  std::map<std::pair<std::string_view, std::string_view>, const event*> last;
  std::string hb = "[";
  for (auto& r : batch) {
    const auto* c = std::get_if<check_completed>(&r.e->data);
    if (c == nullptr) continue;
    const std::string_view t = r.e->meta.tenant.get(), m = c->monitor_id;
    const std::int64_t us = r.e->meta.time.get();
    if (hb.size() > 1) hb += ',';
    hb += "{\"t\":";
    json_string(hb, t);
    hb += ",\"m\":";
    json_string(hb, m);
    hb += ",\"at\":\"" + format_time(r.e->meta.time) + "\",\"s\":" + std::to_string(r.e->meta.seq.get()) +
          ",\"ok\":" + (c->ok ? "true" : "false") + ",\"l\":" + std::to_string(c->latency_us) +
          ",\"h\":" + std::to_string(c->http_status) + ",\"e\":";
    json_string(hb, c->error);
    hb += '}';
    for (auto [mp, unit] : {std::pair{&minute, std::int64_t(60'000'000)}, std::pair{&hour, std::int64_t(3'600'000'000)},
                            std::pair{&day, std::int64_t(86'400'000'000)}}) {
      auto& x = (*mp)[key{t, m, us - ((us % unit) + unit) % unit}];
      ++x.checks;
      if (c->ok) {
        ++x.up;
        x.lat += c->latency_us;
        x.lmin = std::min(x.lmin, c->latency_us);
        x.lmax = std::max(x.lmax, c->latency_us);
      }
    }
    auto& l = last[{t, m}];
    if (l == nullptr || l->meta.seq.get() < r.e->meta.seq.get()) l = r.e;
  }
  hb += ']';
  std::size_t bytes = hb.size();
  for (auto* mp : {&minute, &hour, &day}) {
    std::string out = "[";
    for (auto& [k, x] : *mp) {
      if (out.size() > 1) out += ',';
      out += "{\"t\":";
      json_string(out, std::get<0>(k));
      out += ",\"m\":";
      json_string(out, std::get<1>(k));
      out += ",\"b\":\"" + format_time(timestamp{std::get<2>(k)}) + "\",\"c\":" + std::to_string(x.checks) +
             ",\"u\":" + std::to_string(x.up) + ",\"ls\":" + std::to_string(x.lat) + ",\"ln\":" +
             (x.up ? std::to_string(x.lmin) : "null") + ",\"lx\":" + (x.up ? std::to_string(x.lmax) : "null") + "}";
    }
    bytes += out.size() + 1;
  }
  std::string lc = "[";
  for (auto& [k, e] : last) {
    const auto& c = std::get<check_completed>(e->data);
    if (lc.size() > 1) lc += ',';
    lc += "{\"t\":";
    json_string(lc, k.first);
    lc += ",\"m\":";
    json_string(lc, k.second);
    lc += ",\"s\":" + std::to_string(e->meta.seq.get()) + ",\"at\":\"" + format_time(e->meta.time) +
          "\",\"ok\":" + (c.ok ? "true" : "false") + ",\"l\":" + std::to_string(c.latency_us) +
          ",\"h\":" + std::to_string(c.http_status) + ",\"e\":";
    json_string(lc, c.error);
    lc += ",\"x\":" + (c.cert_expires_at ? "\"" + format_time(*c.cert_expires_at) + "\"" : std::string("null")) + "}";
  }
  return bytes + lc.size() + 1;
}

// The runner's stages by hand over the checks topic of `log`, in batches
// like the runner's (max_batch records, an even share from each
// partition), into `db`; prints each stage's share of the time.
void breakdown(storage::event_log& log, const std::string& db, std::size_t max_batch) {
  auto proj = projections::make_projection("dashboard");
  pqxx::connection c(db);
  sections t;
  std::vector<std::int64_t> pos(partitions, 0);
  std::int64_t total = 0;
  long batches = 0;
  const auto t_all = clock_type::now();
  for (;;) {
    auto t0 = clock_type::now();
    std::vector<storage::stored_record> recs;
    std::vector<int> from_partition;
    for (int p = 0; p < partitions; ++p) {
      auto rs = must(log.read(storage::topic::checks, partition_id{p}, log_offset{pos[std::size_t(p)]},
                              max_batch / partitions),
                     "read");
      if (!rs.empty()) pos[std::size_t(p)] = rs.back().offset.get() + 1;
      for (auto& r : rs) {
        recs.push_back(std::move(r));
        from_partition.push_back(p);
      }
    }
    t.add("log read", t0);
    if (recs.empty()) break;
    t0 = clock_type::now();
    std::vector<event> decoded(recs.size());
    for (std::size_t i = 0; i < recs.size(); ++i) decoded[i] = must(decode(recs[i].value), "decode");
    t.add("decode", t0);
    t0 = clock_type::now();
    std::vector<projections::projected_event> batch;
    for (std::size_t i = 0; i < recs.size(); ++i)
      batch.push_back({storage::topic::checks, partition_id{from_partition[i]}, recs[i].offset, &decoded[i]});
    projections::sql_batch stmts;
    proj->apply(batch, stmts);
    t.add("projection apply (build JSON)", t0);
    t0 = clock_type::now();
    direct_json(batch);
    t.add("(what-if: the same JSON written directly)", t0);
    t0 = clock_type::now();
    std::vector<std::string> sql;
    for (auto& s : stmts) sql.push_back(projections::render(s));
    t.add("render", t0);
    pqxx::work w(c);
    for (auto& s : sql) {
      // How much of a statement is reading its JSON: the same rows, typed,
      // counted instead of written.
      const auto from = s.find(" FROM json_to_recordset(");
      if (from != std::string::npos) {
        const auto end = s.find(" ON CONFLICT", from);
        t0 = clock_type::now();
        w.exec("SELECT count(*)" + s.substr(from, end == std::string::npos ? std::string::npos : end - from));
        t.add("(" + kind_of(s) + ": reading the JSON only)", t0);
      }
      t0 = clock_type::now();
      w.exec(s);
      t.add(kind_of(s), t0);
    }
    t0 = clock_type::now();
    w.exec("UPDATE projection_offsets SET next_offset = next_offset WHERE projection = 'none'");
    t.add("pg: projection_offsets", t0);
    t0 = clock_type::now();
    w.commit();
    t.add("pg: commit", t0);
    total += std::int64_t(recs.size());
    ++batches;
  }
  const double all = seconds_since(t_all);
  std::fprintf(stderr, "breakdown: %lld check results in %ld batches, %.2f s (%.0f/s); per stage:\n",
               (long long)total, batches, all, double(total) / all);
  for (auto& [k, v] : t.s)
    std::fprintf(stderr, "  %-32s %7.3f s  %5.1f%%  %6.2f us/record\n", k.c_str(), v, 100 * v / all,
                 1e6 * v / double(std::max<std::int64_t>(1, total)));
}

// A checksum of the check-result tables of the dashboard.
std::string read_model_checksums(const std::string& db) {
  pqxx::connection c(db);
  std::string out;
  for (const char* t : {"heartbeats", "monitor_stats_minute", "monitor_stats_hour", "monitor_stats_day",
                        "monitor_last_check"})
    out += scalar(c, std::string("SELECT md5(string_agg(r::text, '|' ORDER BY r::text)) FROM ") + t + " r") + " ";
  return out;
}

// ---- what-if: the runner's loop with changes it does not (yet) have ---------------

struct what_if {
  const char* name;
  int lanes = 1;           // connections, each with a disjoint set of partitions
  bool pipelined = false;  // the next batch prepared while PostgreSQL applies this one
  std::string skip;        // leave out the statements whose SQL contains this
  // The batch's check results sent once, as one JSON document written
  // directly, and every table derived from it in PostgreSQL by one statement
  // (one_statement_sql) instead of five documents built with nlohmann::json.
  bool one_statement = false;
};

// The check-results part of a dashboard batch as one statement: the rows
// read once; heartbeats inserted; minute, hour and day sums grouped and
// added (the same arithmetic as the projection's); the latest check per
// monitor kept when its seq is higher.
std::string one_statement_sql(const std::string& rows_json, bool minutes) {
  std::string sums;
  for (const char* unit : {"minute", "hour", "day"})
    if (minutes || std::string(unit) != "minute")
      sums += std::string(", ") + unit + "s AS (INSERT INTO monitor_stats_" + unit +
            " AS s (tenant_id, monitor_id, bucket, checks, up, latency_sum_us, latency_min_us, latency_max_us) "
            "SELECT t, m, date_trunc('" + unit + "', at, 'UTC'), count(*), count(*) FILTER (WHERE ok), "
            "coalesce(sum(l) FILTER (WHERE ok), 0), min(l) FILTER (WHERE ok), max(l) FILTER (WHERE ok) "
            "FROM x GROUP BY 1, 2, 3 "
            "ON CONFLICT (tenant_id, monitor_id, bucket) DO UPDATE SET "
            "checks = s.checks + excluded.checks, up = s.up + excluded.up, "
            "latency_sum_us = s.latency_sum_us + excluded.latency_sum_us, "
            "latency_min_us = least(s.latency_min_us, excluded.latency_min_us), "
            "latency_max_us = greatest(s.latency_max_us, excluded.latency_max_us))";
  return projections::render(
      {"WITH x AS MATERIALIZED (SELECT * FROM json_to_recordset($1::json) AS x(t text, m text, at timestamptz, "
       "s bigint, ok boolean, l bigint, h int, e text, cx timestamptz)), "
       "hb AS (INSERT INTO heartbeats (tenant_id, monitor_id, checked_at, seq, ok, latency_us, http_status, error) "
       "SELECT t, m, at, s, ok, l, h, e FROM x ON CONFLICT DO NOTHING)" + sums +
       " INSERT INTO monitor_last_check AS c (tenant_id, monitor_id, seq, checked_at, ok, latency_us, http_status, "
       "error, cert_expires_at) SELECT DISTINCT ON (t, m) t, m, s, at, ok, l, h, e, cx FROM x ORDER BY t, m, s DESC "
       "ON CONFLICT (tenant_id, monitor_id) DO UPDATE SET seq = excluded.seq, checked_at = excluded.checked_at, "
       "ok = excluded.ok, latency_us = excluded.latency_us, http_status = excluded.http_status, "
       "error = excluded.error, cert_expires_at = excluded.cert_expires_at WHERE excluded.seq > c.seq",
       {rows_json}});
}

// The check results of a batch as the JSON document one_statement_sql reads.
std::string check_rows_json(const std::vector<projections::projected_event>& batch, std::set<std::string>& days) {
  std::string out = "[";
  for (auto& r : batch) {
    const auto* c = std::get_if<check_completed>(&r.e->data);
    if (c == nullptr) continue;
    const std::string at = format_time(r.e->meta.time);
    days.insert(at.substr(0, 10));
    if (out.size() > 1) out += ',';
    out += "{\"t\":";
    json_string(out, r.e->meta.tenant.get());
    out += ",\"m\":";
    json_string(out, c->monitor_id);
    out += ",\"at\":\"" + at + "\",\"s\":" + std::to_string(r.e->meta.seq.get()) +
           ",\"ok\":" + (c->ok ? "true" : "false") + ",\"l\":" + std::to_string(c->latency_us) +
           ",\"h\":" + std::to_string(c->http_status) + ",\"e\":";
    json_string(out, c->error);
    out += ",\"cx\":" + (c->cert_expires_at ? "\"" + format_time(*c->cert_expires_at) + "\"" : std::string("null")) + "}";
  }
  return out + "]";
}

// One prepared batch: its SQL and where it ends.
struct prepared {
  std::string sql;
  std::map<int, std::int64_t> ends;
  std::size_t records = 0;
};

// The runner's loop by hand — read, decode, apply, render, one round trip
// with the offsets, commit — changed as `w` says, over the checks topic of
// `log` into `db`. Check results per second.
double run_what_if(storage::event_log& log, const std::string& db, std::size_t max_batch, const what_if& w) {
  {
    pqxx::connection c(db);
    pqxx::work tx(c);
    for (int p = 0; p < partitions; ++p)
      tx.exec("INSERT INTO projection_offsets VALUES ('dashboard', 'keepwatch.checks.v1', " + std::to_string(p) +
              ", 0)");
    tx.commit();
  }
  std::atomic<std::int64_t> total{0};
  // Opened here and closed after the CPU report, so that every backend's
  // CPU time is still there to count.
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  for (int l = 0; l < w.lanes; ++l) conns.push_back(std::make_unique<pqxx::connection>(db));
  auto lane = [&](int lane_no) {
    auto proj = projections::make_projection("dashboard");
    std::vector<int> mine;
    for (int p = lane_no; p < partitions; p += w.lanes) mine.push_back(p);
    std::map<int, std::int64_t> pos;
    for (int p : mine) pos[p] = 0;
    auto prepare = [&]() -> prepared {
      prepared out;
      std::vector<storage::stored_record> recs;
      std::vector<int> from;
      for (int p : mine) {
        auto rs = must(log.read(storage::topic::checks, partition_id{p}, log_offset{pos[p]}, max_batch / mine.size()),
                       "read");
        if (rs.empty()) continue;
        pos[p] = rs.back().offset.get() + 1;
        out.ends[p] = pos[p];
        for (auto& r : rs) {
          recs.push_back(std::move(r));
          from.push_back(p);
        }
      }
      out.records = recs.size();
      if (recs.empty()) return out;
      std::vector<event> decoded(recs.size());
      std::vector<projections::projected_event> batch;
      for (std::size_t i = 0; i < recs.size(); ++i) {
        decoded[i] = must(decode(recs[i].value), "decode");
        batch.push_back({storage::topic::checks, partition_id{from[i]}, recs[i].offset, &decoded[i]});
      }
      projections::sql_batch stmts;
      if (w.one_statement) {
        std::set<std::string> days;
        const auto rows = check_rows_json(batch, days);
        for (auto& d : days) out.sql += "SELECT kw_heartbeat_partition('" + d + "'::date);\n";
        out.sql += one_statement_sql(rows, w.skip != "monitor_stats_minute") + ";\n";
      } else {
        proj->apply(batch, stmts);
      }
      for (auto& st : stmts) {
        if (!w.skip.empty() && st.sql.find(w.skip) != std::string::npos) continue;
        out.sql += projections::render(st);
        out.sql += ";\n";
      }
      std::string values;
      for (auto& [p, end] : out.ends)
        values += (values.empty() ? "" : ", ") + std::string("(") + std::to_string(p) + ", " + std::to_string(end) + ")";
      out.sql += "UPDATE projection_offsets AS o SET next_offset = v.n FROM (VALUES " + values +
                 ") AS v(p, n) WHERE o.projection = 'dashboard' AND o.topic = 'keepwatch.checks.v1' "
                 "AND o.log_partition = v.p";
      return out;
    };
    pqxx::connection& c = *conns[std::size_t(lane_no)];
    auto apply = [&](const prepared& b) {
      pqxx::work tx(c);
      tx.exec(b.sql);
      tx.commit();
      total += std::int64_t(b.records);
    };
    if (!w.pipelined) {
      for (;;) {
        auto b = prepare();
        if (b.records == 0) break;
        apply(b);
      }
      return;
    }
    // One batch in flight: the preparer fills `slot`, the applier empties it.
    std::mutex mu;
    std::condition_variable cv;
    std::optional<prepared> slot;
    bool done = false;
    std::thread preparer([&] {
      for (;;) {
        auto b = prepare();
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return !slot; });
        if (b.records == 0) {
          done = true;
          cv.notify_all();
          return;
        }
        slot = std::move(b);
        cv.notify_all();
      }
    });
    for (;;) {
      prepared b;
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return slot || done; });
        if (!slot) break;
        b = std::move(*slot);
        slot.reset();
        cv.notify_all();
      }
      apply(b);
    }
    preparer.join();
  };
  const auto t0 = clock_type::now();
  cpu_meter cpu;
  std::vector<std::thread> threads;
  for (int l = 0; l < w.lanes; ++l) threads.emplace_back(lane, l);
  for (auto& t : threads) t.join();
  const double secs = seconds_since(t0);
  cpu.report((std::string("what-if ") + w.name).c_str());
  std::fprintf(stderr, "what-if %-44s %7.0f check results/s\n", w.name, double(total.load()) / secs);
  return double(total.load()) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  const int n_checks = argc > 1 ? std::atoi(argv[1]) : 200'000;
  const std::string only = argc > 2 ? argv[2] : "both";
  const int per_monitor = std::max(1, n_checks / (tenants * monitors_each));
  auto& pg = pg_server::get();  // before any other thread exists (it forks)

  const fleet f(tenants, monitors_each);
  id_source ids;
  projections::runner_options ro;
  ro.max_batch = 4000;
  // The last step of catch_up waits one poll timeout for nothing: keep that
  // tail short against the few seconds measured.
  ro.poll_timeout = 20ms;
  // Experiments (not part of the figures): PBENCH_MAX_BATCH overrides the
  // runner's batch size; PBENCH_SETUP_SQL runs on each new read-side database
  // before anything is projected (e.g. a fillfactor to try).
  if (const char* b = std::getenv("PBENCH_MAX_BATCH")) ro.max_batch = std::size_t(std::atol(b));
  auto read_side = [&pg](const std::string& name) {
    auto db = pg.create_read_side(name, bench_plans());
    if (const char* sql = std::getenv("PBENCH_SETUP_SQL")) {
      pqxx::connection c(db);
      pqxx::nontransaction(c).exec(sql);
    }
    return db;
  };

  auto domain = [&] {
    partitioned_records d;
    fleet_domain_events(f, ids, timestamp{wall_now().get() - 2 * 3'600'000'000LL}, d);
    return d;
  };

  if (only == "both" || only == "embedded" || only == "breakdown") {
    temp_dir dir("proj-tput");
    auto log = must(storage::rocks_log::open(dir.path, partitions, std::make_shared<event_sealer>()),
                    "rocks_log::open");
    std::vector<partitioned_records> rounds;
    rounds.push_back(check_records(f, ids, per_monitor));
    const double rate = project_checks("embedded", *log, read_side("kw_tput_embedded"), domain(),
                                       std::move(rounds), 5000, ro);
    if (only != "breakdown")
      figure("projections.check_throughput_embedded", "throughput", rate, "events/s", ">= 50000");
    if (only == "breakdown") breakdown(*log, read_side("kw_tput_breakdown"), ro.max_batch);
    if (only == "breakdown") {
      int k = 0;
      std::string reference;
      const std::vector<what_if> what_ifs = {
          {"as the runner (1 connection, sequential)", 1, false, "", false},
          {"without monitor_stats_minute", 1, false, "monitor_stats_minute", false},
          {"pipelined", 1, true, "", false},
          {"2 connections", 2, false, "", false},
          {"2 connections, pipelined", 2, true, "", false},
          {"2 connections, pipelined, no minute stats", 2, true, "monitor_stats_minute", false},
          {"one statement per batch", 1, false, "", true},
          {"one statement per batch, pipelined", 1, true, "", true},
          {"one statement per batch, 2 connections, pipelined", 2, true, "", true},
          {"one statement per batch, 2 connections, pipelined, no minute stats", 2, true, "monitor_stats_minute",
           true},
      };
      for (const what_if& w : what_ifs) {
        const auto db = read_side("kw_tput_whatif" + std::to_string(k++));
        run_what_if(*log, db, ro.max_batch, w);
        // The same tables as the runner's way, where nothing was left out.
        if (!w.skip.empty()) continue;
        auto sums = read_model_checksums(db);
        if (reference.empty()) reference = sums;
        if (sums != reference) fail(std::string("what-if ") + w.name + ": its tables differ from the runner's");
      }
    }
    log->close();
  }

  if (only == "both" || only == "kafka") {
    auto broker = must(storage::dev_broker::start(1), "dev_broker::start");
    storage::kafka_options ko;
    ko.bootstrap_servers = broker->bootstrap();
    ko.topic_prefix = "pbench" + std::to_string(::getpid()) + ".";
    ko.partitions = partitions;
    ko.node_name = "bench";
    ko.timeout = 30s;
    ko.append_timeout = 30s;
    ko.create_topic = [&broker](const storage::kafka_topic_spec& s) {
      return broker->create_topic(s.name, s.partitions, s.replication_factor);
    };
    auto log = must(storage::kafka_log::open(ko, std::make_shared<event_sealer>()), "kafka_log::open");
    // The dev broker (librdkafka's mock cluster) keeps only the newest 5 MiB
    // of each partition and drops older records silently: 200,000 check
    // results (~22 MB per partition) cannot wait for the runner at offset 0
    // all at once. So they are fed in rounds of ~12,500 with at most two
    // rounds ahead of the runner (<= ~3 MB in the fullest partition).
    const int n_rounds = std::max(2, (n_checks + 12'499) / 12'500);
    auto rounds = split(check_records(f, ids, per_monitor), n_rounds);
    auto kro = ro;
    kro.kafka = &ko;
    const double rate = project_checks("kafka", *log, read_side("kw_tput_kafka"), domain(), std::move(rounds),
                                       2000, kro);
    figure("projections.check_throughput_kafka", "throughput", rate, "events/s", ">= 50000");
    log->close();
  }
  return 0;
}
