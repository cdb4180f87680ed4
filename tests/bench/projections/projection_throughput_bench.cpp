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
// On stderr: the CPU of the bench and of PostgreSQL, batches, and the rows
// each read-model table took.
//
// Usage: projection_throughput_bench [checks [embedded|kafka|both]]
//   (default 200000 both). For experiments,
//   PBENCH_MAX_BATCH overrides the runner's batch size and PBENCH_SETUP_SQL
//   runs on each new read-side database first.
#include <thread>

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

  if (only == "both" || only == "embedded") {
    temp_dir dir("proj-tput");
    auto log = must(storage::rocks_log::open(dir.path, partitions, std::make_shared<event_sealer>()),
                    "rocks_log::open");
    std::vector<partitioned_records> rounds;
    rounds.push_back(check_records(f, ids, per_monitor));
    const double rate = project_checks("embedded", *log, read_side("kw_tput_embedded"), domain(),
                                       std::move(rounds), 5000, ro);
    figure("projections.check_throughput_embedded", "throughput", rate, "events/s", ">= 50000");
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
