// trust.recovery_after_kill: how long a node with 100,000 monitors takes to
// come back after kill -9.
//
// A child process starts a node (snapshots every 2 s), creates 100 tenants x
// 1,000 monitors, lets a few snapshot rounds pass and is then killed with
// SIGKILL at a random moment. The parent starts a node on the same directory and
// times node::start — recovery of every partition from its checkpoint and
// snapshots plus the log's tail, and every aggregate actor spawned, which is
// what /readyz waits for — and checks that all 100,000 monitors came back.
#include <csignal>
#include <random>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "bench_support.hpp"

namespace {

using namespace kw;
using namespace kw::bench;

constexpr int tenants = 100;
constexpr int monitors_per_tenant = 1000;

node_options child_options(const std::string& dir) {
  auto o = bench_options(dir, /*run_checks=*/false);
  o.snapshot_interval_s = 2;
  return o;
}

}  // namespace

int main() {
  temp_dir dir("recovery-kill-bench");
  int fds[2];
  if (::pipe(fds) != 0) fail("pipe");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    auto n = start_node(child_options(dir.path));
    create_fleet(*n, tenants, monitors_per_tenant, 60);
    if (::write(fds[1], "r", 1) != 1) ::_exit(3);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  char c = 0;
  if (::read(fds[0], &c, 1) != 1) fail("the child died before its fleet was created");
  std::mt19937 rng(std::random_device{}());
  std::this_thread::sleep_for(std::chrono::milliseconds(3000 + rng() % 4000));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);

  auto t0 = clock_type::now();
  auto n = start_node(bench_options(dir.path, /*run_checks=*/false));
  const double s = seconds_since(t0);
  const auto& r = n->recovery();
  std::fprintf(stderr, "recovered %lld monitors: %lld events replayed, %lld snapshots, %.2f s (%.2f s in recovery)\n",
               (long long)n->monitor_count(), (long long)r.events_replayed, (long long)r.snapshots_loaded, s,
               r.seconds);
  if (n->monitor_count() != std::int64_t(tenants) * monitors_per_tenant)
    fail("recovered " + std::to_string(n->monitor_count()) + " monitors, expected " +
         std::to_string(tenants * monitors_per_tenant));
  figure("trust.recovery_after_kill_100k_monitors", "seconds", s, "s", "<= 5");
  return 0;
}
