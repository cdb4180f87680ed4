// core.monitor_memory: resident memory per idle monitor actor, at 100,000
// monitors.
//
// Phase 1: a node without probes creates the fleet (tenants x monitors, HTTP
// checks every hour) and stops. Phase 2, same process: a node with probes
// (run_checks = true, one prober thread, so every monitor actor has its
// check timer scheduled, as in production) is started on that directory;
// once node::monitor_count() reaches the fleet size, malloc_trim(0) and
// /proc/self/statm give the RSS.
//  - bytes_per_monitor = (RSS with the node up - RSS before it started) /
//    monitors. It includes everything the node holds for them: actors, state,
//    timers, mailboxes, what recovery left behind, RocksDB's caches.
//  - bytes_per_monitor_net subtracts what an empty node (same options, empty
//    directory) costs, measured just before: threads, RocksDB, CAF.
// The first checks of hourly monitors are spread over six minutes, so a few
// probes (to a closed local port: they fail at once) run during the
// measurement; their count is printed on stderr.
//
// Usage: monitor_memory_bench [tenants monitors_per_tenant]  (default 1000 100)
#include <thread>

#include "bench_support.hpp"
#include "storage/event_log.hpp"

namespace {

using namespace kw;
using namespace kw::bench;

struct sample {
  std::int64_t rss, heap;
};

sample measure() {
  ::malloc_trim(0);
  return sample{rss_bytes(), heap_in_use()};
}

std::int64_t check_records(node& n) {
  std::int64_t total = 0;
  for (int p = 0; p < n.partitions(); ++p)
    if (auto e = n.log().end_offset(storage::topic::checks, partition_id{p})) total += e->get();
  return total;
}

double mib(std::int64_t b) { return double(b) / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
  int tenants = 1000, per_tenant = 100;
  if (argc == 3) {
    tenants = std::atoi(argv[1]);
    per_tenant = std::atoi(argv[2]);
  }
  const std::int64_t monitors = std::int64_t(tenants) * per_tenant;
  temp_dir dir("memory-bench");

  // ---- phase 1: the fleet
  {
    auto n = start_node(bench_options(dir.path, /*run_checks=*/false));
    create_fleet(*n, tenants, per_tenant, 3600);
    if (n->monitor_count() != monitors) fail("monitor count after creation");
    auto t0 = clock_type::now();
    n->stop();
    std::fprintf(stderr, "phase 1 node stopped in %.1f s\n", seconds_since(t0));
  }

  auto with_probes = [](const std::string& d) {
    auto o = bench_options(d, /*run_checks=*/true);
    o.prober_threads = 1;
    return o;
  };

  // ---- what an empty node costs
  const sample before_empty = measure();
  sample empty_up{};
  {
    temp_dir empty("memory-bench-empty");
    auto n = start_node(with_probes(empty.path));
    if (n->monitor_count() != 0) fail("the empty node has monitors");
    empty_up = measure();
    n->stop();
  }

  // ---- phase 2: the fleet, idle, with timers scheduled
  const sample before = measure();
  auto t0 = clock_type::now();
  auto n = start_node(with_probes(dir.path));
  while (n->monitor_count() < monitors) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double up_s = seconds_since(t0);
  const std::int64_t checks_before = check_records(*n);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let spawning and first timers settle
  const sample after = measure();
  const std::int64_t checks_after = check_records(*n);
  if (n->monitor_count() != monitors) fail("monitor count after start");

  const std::int64_t empty_cost = empty_up.rss - before_empty.rss;
  const double per_monitor = double(after.rss - before.rss) / double(monitors);
  const double per_monitor_net = double(after.rss - before.rss - empty_cost) / double(monitors);
  std::fprintf(stderr,
               "%lld monitors up in %.1f s (recovery %.1f s, %lld events, %lld snapshots)\n"
               "RSS: baseline %.1f MiB; empty node +%.1f MiB; before fleet node %.1f MiB; "
               "with fleet %.1f MiB (+%.1f MiB)\n"
               "heap in use: before %.1f MiB, with fleet %.1f MiB: %.0f bytes per monitor\n"
               "check results appended during the measurement: %lld\n",
               (long long)monitors, up_s, n->recovery().seconds,
               (long long)n->recovery().events_replayed, (long long)n->recovery().snapshots_loaded,
               mib(before_empty.rss), mib(empty_cost), mib(before.rss), mib(after.rss),
               mib(after.rss - before.rss), mib(before.heap), mib(after.heap),
               double(after.heap - before.heap) / double(monitors),
               (long long)(checks_after - checks_before));
  figure("core.monitor_memory", "bytes_per_monitor", per_monitor, "bytes", "<= 4096");
  figure("core.monitor_memory", "bytes_per_monitor_net", per_monitor_net, "bytes", "-");
  t0 = clock_type::now();
  n->stop();
  std::fprintf(stderr, "phase 2 node stopped in %.1f s\n", seconds_since(t0));
  return 0;
}
