// core.command_append: latency and throughput of monitor commands through the
// whole node — routing by the partition host, the monitor actor's decide,
// the group-committed durable append (synced WAL) and evolve — with K
// record_check commands in flight over 200 tenants x 5 monitors, 8
// partitions, no probes (run_checks = false).
//
// Each of the K slots owns the monitors whose index is congruent to it, so
// no two slots wait on one monitor; a slot sends its next command from the
// previous one's reply. About one check in 50 fails, so monitors go down and
// up again now and then (status changes, incidents opened and closed: domain
// events in the hash chain), as in production. Latency = submit() to reply;
// throughput = replies per second over the measured window (after a warm-up).
// Prints core.command_append with K = 64 (enough load to pass the target
// throughput: the figure the issue sets) and core.command_append_512, a
// heavier offered load where latency is mostly queueing (512 / throughput).
#include "command_load.hpp"

using namespace kw;
using namespace kw::bench;

int main() {
  temp_dir dir("append-bench");
  {
    auto n = start_node(bench_options(dir.path, /*run_checks=*/false));
    create_fleet(*n, load_tenants, load_monitors_per_tenant, 60);
    auto targets = load_targets();
    if (n->monitor_count() != std::int64_t(targets.size())) fail("monitor count");
    run_command_load(*n, targets, 64, "core.command_append", ">= 50000", "<= 5");
    run_command_load(*n, targets, 512, "core.command_append_512", ">= 50000", "<= 5");
    auto t0 = clock_type::now();
    n->stop();
    std::fprintf(stderr, "node stopped in %.1f s\n", seconds_since(t0));
  }
  return 0;
}
