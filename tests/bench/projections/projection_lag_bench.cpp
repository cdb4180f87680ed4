// projections.lag_p99: how long a check result takes from its append to the
// log until the dashboard shows it, at a steady 10,000 check results/s.
//
// A fleet of 1,000 tenants x 100 monitors (tenant_created, monitor_created)
// on the embedded log, projected first. Then the projection service runs
// the dashboard and usage projections (one actor each, as `keepwatch serve`
// does, with the runner's default batch and poll settings) while a producer
// thread appends check results at a paced 10,000/s for 20 s — every 2 ms
// the ones due, grouped by partition, each group one asynchronous append,
// each monitor checked every 10 s with its seq increasing. A sampler reads
// projection_offsets every 10 ms; a check result's lag is the time from the
// append call to the sample that first saw its offset committed (the sample's
// start: the commit was visible then), i.e. append + fsync + poll + apply +
// commit, give or take the 10 ms sampling.
//
// Figures: projections.lag_p99 (dashboard; target <= 1000 ms), and beside
// it the p50 and max, the usage projection's p99, and the append's own p99
// (append call -> durable acknowledgement).
//
// Usage: projection_lag_bench [rate [seconds]]   (default 10000 20)
#include <map>
#include <thread>

#include "projection_bench.hpp"
#include "projections/service.hpp"
#include "storage/rocks_log.hpp"

namespace {

using namespace kw;
using namespace kw::pbench;
using namespace std::chrono_literals;

constexpr int tenants = 1000;
constexpr int monitors_each = 100;
const char* const watched[] = {"dashboard", "usage"};

std::int64_t since_epoch_ns(clock_type::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int rate = argc > 1 ? std::atoi(argv[1]) : 10'000;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 20;
  auto& pg = pg_server::get();  // before any other thread exists (it forks)
  const auto db = pg.create_read_side("kw_lag", bench_plans());

  temp_dir dir("proj-lag");
  auto log = must(storage::rocks_log::open(dir.path, partitions, std::make_shared<event_sealer>()),
                  "rocks_log::open");
  const fleet f(tenants, monitors_each);
  id_source ids;
  {
    partitioned_records d;
    fleet_domain_events(f, ids, timestamp{wall_now().get() - 3'600'000'000LL}, d);
    append_all(*log, std::move(d), 5000);
  }

  projections::service_options so;
  so.runner.database_url = db;
  so.projections = {"dashboard", "usage"};
  auto t0 = clock_type::now();
  auto svc = must(projections::service::start(*log, so), "service::start");
  pqxx::connection probe(db);
  const auto fleet_events = std::to_string(tenants * (monitors_each + 1));
  for (;;) {
    const auto done = scalar(probe,
                             "SELECT count(*) FROM (SELECT projection FROM projection_offsets "
                             "WHERE topic = 'keepwatch.events.v1' GROUP BY projection "
                             "HAVING sum(next_offset) = " + fleet_events + ") x");
    if (done == "2") break;
    if (seconds_since(t0) > 300) fail("the fleet was not projected within 300 s");
    std::this_thread::sleep_for(50ms);
  }
  std::fprintf(stderr, "fleet of %d monitors projected in %.1f s\n", tenants * monitors_each, seconds_since(t0));

  // Append times (steady clock, ns) per partition and checks offset: the
  // producer writes an entry before appending it, the sampler reads it once
  // PostgreSQL shows it committed.
  const std::size_t capacity = std::size_t(rate) * std::size_t(seconds) + 10'000;
  std::vector<std::unique_ptr<std::atomic<std::int64_t>[]>> appended_at;
  for (int p = 0; p < partitions; ++p) appended_at.emplace_back(new std::atomic<std::int64_t>[capacity]);
  std::vector<std::int64_t> next_offset(partitions, 0);
  std::atomic<std::int64_t> produced_end[partitions];
  for (auto& e : produced_end) e = 0;

  std::mutex ack_mu;
  std::vector<double> ack_ms;
  std::atomic<long> failures{0};
  std::atomic<std::int64_t> acked{0};
  std::atomic<bool> sampling{true};

  // The sampler: every 10 ms, which offsets each projection has committed.
  std::map<std::string, std::vector<double>> lag_ms;
  std::thread sampler([&] {
    pqxx::connection c(db);
    std::map<std::pair<std::string, int>, std::int64_t> seen;
    while (sampling.load()) {
      const auto at = clock_type::now();
      pqxx::result rows;
      {
        pqxx::nontransaction tx(c);
        rows = tx.exec(
            "SELECT projection, log_partition, next_offset FROM projection_offsets "
            "WHERE topic = 'keepwatch.checks.v1'");
      }
      for (const auto& row : rows) {
        const std::string proj = row[0].as<std::string>();
        const int p = row[1].as<int>();
        const auto next = std::min<std::int64_t>(row[2].as<std::int64_t>(), std::int64_t(capacity));
        auto& from = seen[{proj, p}];
        for (std::int64_t o = from; o < next; ++o)
          lag_ms[proj].push_back(double(since_epoch_ns(at) - appended_at[std::size_t(p)][o].load()) / 1e6);
        from = std::max(from, next);
      }
      std::this_thread::sleep_until(at + 10ms);
    }
  });

  // The producer: paced, every 2 ms whatever is due by then.
  std::int64_t produced = 0;
  cpu_meter cpu;
  std::thread producer([&] {
    const auto start = clock_type::now();
    const std::int64_t total = std::int64_t(rate) * seconds;
    const std::int64_t n_monitors = std::int64_t(tenants) * monitors_each;
    std::vector<std::int64_t> seq(std::size_t(n_monitors), 0);
    std::int64_t k = 0;  // round-robin over the monitors
    auto tick = start;
    while (produced < total) {
      tick += 2ms;
      std::this_thread::sleep_until(tick);
      const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
      const std::int64_t due = std::min(total, std::int64_t(elapsed * rate)) - produced;
      if (due <= 0) continue;
      std::vector<std::vector<storage::record>> groups(partitions);
      const timestamp t = wall_now();
      for (std::int64_t i = 0; i < due; ++i, ++k) {
        const auto m = std::size_t(k % n_monitors);
        const auto& x = f.tenants[m / monitors_each];
        groups[std::size_t(x.partition.get())].push_back(
            to_record(check_event(ids, x.id, x.monitors[m % monitors_each], ++seq[m], t, ids.rng() % 100 != 0)));
      }
      produced += due;
      for (int p = 0; p < partitions; ++p) {
        auto& g = groups[std::size_t(p)];
        if (g.empty()) continue;
        const auto now = clock_type::now();
        const std::int64_t first = next_offset[std::size_t(p)];
        if (first + std::int64_t(g.size()) > std::int64_t(capacity)) fail("lag bench: capacity");
        for (std::size_t i = 0; i < g.size(); ++i) appended_at[std::size_t(p)][first + std::int64_t(i)] = since_epoch_ns(now);
        next_offset[std::size_t(p)] += std::int64_t(g.size());
        log->append(partition_id{p}, std::move(g), [&, now, first, p](result<storage::append_ack> a) {
          // Offsets are dense and this thread is the only appender of checks:
          // the group must have landed where it was expected.
          if (!a || a->offsets.empty() || a->offsets.front().get() != first) {
            ++failures;
            return;
          }
          produced_end[p] = a->offsets.back().get() + 1;
          acked += std::int64_t(a->offsets.size());
          std::lock_guard<std::mutex> lk(ack_mu);
          ack_ms.push_back(ms_between(now, clock_type::now()));
        });
      }
    }
  });
  producer.join();
  const double produce_secs = seconds_since(cpu.t0);

  // Let the projections finish what was appended, then stop sampling.
  t0 = clock_type::now();
  while (acked.load() < produced && failures.load() == 0) {
    if (seconds_since(t0) > 60) fail("appends not acknowledged within 60 s");
    std::this_thread::sleep_for(1ms);
  }
  for (;;) {
    std::string cond;
    for (int p = 0; p < partitions; ++p)
      cond += (cond.empty() ? "" : " OR ") + std::string("(log_partition = ") + std::to_string(p) +
              " AND next_offset < " + std::to_string(produced_end[p].load()) + ")";
    const auto behind =
        scalar(probe, "SELECT count(*) FROM projection_offsets WHERE topic = 'keepwatch.checks.v1' AND (" + cond + ")");
    const auto rows = scalar(probe, "SELECT count(*) FROM projection_offsets WHERE topic = 'keepwatch.checks.v1'");
    if (behind == "0" && rows == std::to_string(2 * partitions)) break;
    if (seconds_since(t0) > 120) fail("the projections did not catch up within 120 s of the end");
    std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(30ms);  // one more sample
  sampling = false;
  sampler.join();
  cpu.report("lag run");
  svc->stop();
  log->close();
  if (failures) fail(std::to_string(failures.load()) + " appends failed or landed elsewhere");

  std::fprintf(stderr, "produced %lld check results in %.1f s (%.0f/s); drained %.2f s after the producer ended\n",
               (long long)produced, produce_secs, double(produced) / produce_secs, seconds_since(t0));
  for (const char* proj : watched) {
    auto& v = lag_ms[proj];
    if (std::int64_t(v.size()) != produced)
      fail(std::string(proj) + ": saw " + std::to_string(v.size()) + " of " + std::to_string(produced));
    const double p50 = percentile(v, 50), p90 = percentile(v, 90), p99 = percentile(v, 99), max = v.back();
    std::fprintf(stderr, "%s lag: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\n", proj, p50, p90, p99, max);
    if (std::string(proj) == "dashboard") {
      figure("projections.lag_p99", "p99_ms", p99, "ms", "<= 1000");
      figure("projections.lag_p50", "p50_ms", p50, "ms", "-");
      figure("projections.lag_max", "max_ms", max, "ms", "-");
    } else {
      figure("projections.lag_p99_usage", "p99_ms", p99, "ms", "<= 1000");
    }
  }
  figure("projections.lag_append_p99", "p99_ms", percentile(ack_ms, 99), "ms", "-");
  return 0;
}
