// core.recovery: how fast a node rebuilds its aggregates from the log alone.
//
// Builds a data directory of about 1,000,000 events the honest way — 100
// tenants x 10 monitors, then record_check commands through the node, 512 in
// flight, about one in 50 failing (so the log also holds status changes and
// incidents in the tenants' hash chains) — and stops the node. Then:
//  - core.recovery: snapshots deleted, a node started on the directory
//    replays the whole log; figure = events_replayed / seconds, both from
//    node::recovery();
//  - core.recovery_with_snapshots: that node stopped (snapshotting every
//    aggregate), a node started again: seconds to recover from snapshots.
// Both restarts are checked against the monitors' states before the first
// stop (status, check_seq, version); a mismatch is reported on stderr.
#include <random>

#include "bench_support.hpp"

namespace {

using namespace kw;
using namespace kw::bench;

constexpr int tenants = 100;
constexpr int monitors_per_tenant = 10;
constexpr std::int64_t target_events = 1'000'000;
constexpr int in_flight = 512;

using target = std::pair<std::string, std::string>;  // (tenant, monitor)

struct fill_state {
  node* n = nullptr;
  std::vector<target> targets;
  std::atomic<std::int64_t> events{0};
  std::atomic<long> failures{0};
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
};

struct filler {
  fill_state* fs = nullptr;
  std::size_t index = 0, next = 0;
  std::mt19937 rng;

  void send() {
    auto& t = fs->targets[next];
    next += in_flight;
    if (next >= fs->targets.size()) next = index;
    monitor::record_check rc;
    rc.ok = rng() % 50 != 0;
    rc.latency_us = 1000 + rng() % 50000;
    rc.http_status = rc.ok ? 200 : 503;
    if (!rc.ok) rc.error = "HTTP 503";
    rc.incident_id = new_id();
    fs->n->submit(mcmd(std::move(rc)), tenant_id{t.first}, t.second,
                  [this](result<command_reply> r) {
                    std::int64_t total = 0;
                    if (r.ok()) {
                      total = fs->events += std::int64_t(r->event_ids.size());
                    } else if (fs->failures++ == 0) {
                      std::fprintf(stderr, "record_check: %s\n", r.err().message.c_str());
                    }
                    if (r.ok() && total + in_flight < target_events) return send();
                    std::lock_guard<std::mutex> lk(fs->mu);
                    if (--fs->running == 0) fs->cv.notify_all();
                  });
  }
};

std::vector<monitor::state> states_of(node& n, const std::vector<target>& targets) {
  std::vector<monitor::state> out;
  for (auto& [t, m] : targets) {
    auto st = n.monitor_state(tenant_id{t}, m);
    if (!st) fail("monitor_state " + m + ": " + st.err().message);
    out.push_back(std::move(*st));
  }
  return out;
}

void compare(const char* when, const std::vector<monitor::state>& before,
             const std::vector<monitor::state>& after, const std::vector<target>& targets) {
  int bad = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    auto& a = before[i];
    auto& b = after[i];
    if (a.status == b.status && a.check_seq == b.check_seq && a.version == b.version &&
        a.incident == b.incident)
      continue;
    if (bad++ < 5)
      std::fprintf(stderr,
                   "MISMATCH %s: monitor %s: status %d/%d check_seq %lld/%lld version %lld/%lld\n",
                   when, targets[i].second.c_str(), int(a.status), int(b.status),
                   (long long)a.check_seq, (long long)b.check_seq, (long long)a.version,
                   (long long)b.version);
  }
  if (bad) std::fprintf(stderr, "%s: %d of %zu monitors differ from before the restart\n", when, bad,
                        before.size());
}

}  // namespace

// Profiling aid: `recovery_bench <dir>` replays an existing data directory
// (its snapshots deleted) and prints core.recovery only; the directory is kept.
int replay_only(const std::string& dir) {
  std::filesystem::remove_all(dir + "/snapshots");
  auto n = start_node(bench_options(dir, /*run_checks=*/false));
  auto& r = n->recovery();
  std::fprintf(stderr, "recovery without snapshots: %lld events, %.2f s\n",
               (long long)r.events_replayed, r.seconds);
  figure("core.recovery", "throughput", double(r.events_replayed) / r.seconds, "events/s",
         ">= 500000");
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1) return replay_only(argv[1]);
  temp_dir dir("recovery-bench");
  if (std::getenv("KW_BENCH_KEEP")) dir.keep = true;
  std::vector<target> targets;
  for (int m = 0; m < monitors_per_tenant; ++m)
    for (int t = 0; t < tenants; ++t) targets.emplace_back(tenant_name(t), monitor_name(t, m));
  std::vector<monitor::state> before;

  // ---- build the log
  {
    auto n = start_node(bench_options(dir.path, /*run_checks=*/false));
    create_fleet(*n, tenants, monitors_per_tenant, 60);
    fill_state fs;
    fs.n = n.get();
    fs.targets = targets;
    fs.running = in_flight;
    auto t0 = clock_type::now();
    std::vector<std::unique_ptr<filler>> fillers;
    for (int i = 0; i < in_flight; ++i) {
      auto f = std::make_unique<filler>();
      f->fs = &fs;
      f->index = f->next = std::size_t(i);
      f->rng.seed(std::uint32_t(i + 1));
      fillers.push_back(std::move(f));
    }
    for (auto& f : fillers) f->send();
    {
      std::unique_lock<std::mutex> lk(fs.mu);
      fs.cv.wait(lk, [&] { return fs.running == 0; });
    }
    if (fs.failures) fail("record_check failures: " + std::to_string(fs.failures.load()));
    std::fprintf(stderr, "appended %lld check events through the node in %.1f s\n",
                 (long long)fs.events.load(), seconds_since(t0));
    before = states_of(*n, targets);
    n->stop();
  }

  // ---- recovery from the log alone
  std::filesystem::remove_all(dir.path + "/snapshots");
  {
    auto t0 = clock_type::now();
    auto n = start_node(bench_options(dir.path, /*run_checks=*/false));
    const double wall = seconds_since(t0);
    auto& r = n->recovery();
    std::fprintf(stderr,
                 "recovery without snapshots: %lld events, %lld snapshots, %.2f s "
                 "(node::start wall %.2f s)\n",
                 (long long)r.events_replayed, (long long)r.snapshots_loaded, r.seconds, wall);
    if (r.events_replayed < target_events * 9 / 10) fail("too few events replayed");
    figure("core.recovery", "throughput", double(r.events_replayed) / r.seconds, "events/s",
           ">= 500000");
    compare("after replay", before, states_of(*n, targets), targets);
    n->stop();  // snapshots every aggregate
  }

  // ---- recovery from snapshots
  {
    auto t0 = clock_type::now();
    auto n = start_node(bench_options(dir.path, /*run_checks=*/false));
    const double wall = seconds_since(t0);
    auto& r = n->recovery();
    std::fprintf(stderr,
                 "recovery with snapshots: %lld events, %lld snapshots, %.3f s "
                 "(node::start wall %.2f s)\n",
                 (long long)r.events_replayed, (long long)r.snapshots_loaded, r.seconds, wall);
    figure("core.recovery_with_snapshots", "seconds", r.seconds, "s", "-");
    compare("after snapshots", before, states_of(*n, targets), targets);
    n->stop();
  }
  if (dir.keep) std::fprintf(stderr, "kept %s\n", dir.path.c_str());
  return 0;
}
