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
#include <cinttypes>
#include <random>

#include "bench_support.hpp"

namespace {

using namespace kw;
using namespace kw::bench;

constexpr int tenants = 200;
constexpr int monitors_per_tenant = 5;
constexpr auto warmup = std::chrono::seconds(1);
constexpr auto window = std::chrono::seconds(5);

struct run_state {
  node* n = nullptr;
  std::vector<std::pair<std::string, std::string>> targets;  // (tenant, monitor)
  int slots = 0;
  clock_type::time_point measure_from, deadline;
  std::atomic<long> completed{0};
  std::atomic<long> failures{0};
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
};

struct slot {
  run_state* rs = nullptr;
  int index = 0;
  std::size_t next_target = 0;  // index + k * slots
  std::mt19937 rng;
  std::vector<double> latencies_ms;

  void send() {
    auto& target = rs->targets[next_target];
    next_target += std::size_t(rs->slots);
    if (next_target >= rs->targets.size()) next_target = std::size_t(index);
    monitor::record_check rc;
    rc.ok = rng() % 50 != 0;
    rc.latency_us = 1000 + rng() % 50000;
    rc.http_status = rc.ok ? 200 : 503;
    if (!rc.ok) rc.error = "HTTP 503";
    rc.incident_id = new_id();
    auto start = clock_type::now();
    rs->n->submit(mcmd(std::move(rc)), tenant_id{target.first}, target.second,
                  [this, start](result<command_reply> r) {
                    auto done = clock_type::now();
                    if (!r.ok()) {
                      if (rs->failures++ == 0)
                        std::fprintf(stderr, "record_check: %s\n", r.err().message.c_str());
                    }
                    if (start >= rs->measure_from && done <= rs->deadline) {
                      latencies_ms.push_back(
                          std::chrono::duration<double, std::milli>(done - start).count());
                      rs->completed.fetch_add(1, std::memory_order_relaxed);
                    }
                    if (done < rs->deadline) return send();
                    std::lock_guard<std::mutex> lk(rs->mu);
                    if (--rs->running == 0) rs->cv.notify_all();
                  });
  }
};

void run(node& n, const std::vector<std::pair<std::string, std::string>>& targets, int k,
         const char* bench) {
  run_state rs;
  rs.n = &n;
  rs.targets = targets;
  rs.slots = k;
  auto begin = clock_type::now();
  rs.measure_from = begin + warmup;
  rs.deadline = rs.measure_from + window;
  rs.running = k;
  std::vector<std::unique_ptr<slot>> slots;
  for (int i = 0; i < k; ++i) {
    auto s = std::make_unique<slot>();
    s->rs = &rs;
    s->index = i;
    s->next_target = std::size_t(i);
    s->rng.seed(std::uint32_t(i * 7919 + 1));
    s->latencies_ms.reserve(200'000 / std::size_t(k) + 1024);
    slots.push_back(std::move(s));
  }
  for (auto& s : slots) s->send();
  {
    std::unique_lock<std::mutex> lk(rs.mu);
    rs.cv.wait(lk, [&] { return rs.running == 0; });
  }
  std::vector<double> all;
  for (auto& s : slots) all.insert(all.end(), s->latencies_ms.begin(), s->latencies_ms.end());
  const double secs = std::chrono::duration<double>(window).count();
  const double throughput = double(rs.completed.load()) / secs;
  const double p50 = percentile(all, 50), p99 = percentile(all, 99);
  std::fprintf(stderr, "%s: %d in flight, %ld commands measured in %.1f s, %ld failures, max %.2f ms\n",
               bench, k, rs.completed.load(), secs, rs.failures.load(),
               all.empty() ? 0.0 : all.back());
  figure(bench, "throughput", throughput, "commands/s", ">= 50000");
  figure(bench, "p99_ms", p99, "ms", "<= 5");
  figure(bench, "p50_ms", p50, "ms", "-");
}

}  // namespace

int main() {
  temp_dir dir("append-bench");
  {
    auto n = start_node(bench_options(dir.path, /*run_checks=*/false));
    create_fleet(*n, tenants, monitors_per_tenant, 60);
    std::vector<std::pair<std::string, std::string>> targets;
    // Interleave tenants so that neighbouring targets sit on different partitions.
    for (int m = 0; m < monitors_per_tenant; ++m)
      for (int t = 0; t < tenants; ++t) targets.emplace_back(tenant_name(t), monitor_name(t, m));
    if (n->monitor_count() != std::int64_t(targets.size())) fail("monitor count");
    run(*n, targets, 64, "core.command_append");
    run(*n, targets, 512, "core.command_append_512");
    auto t0 = clock_type::now();
    n->stop();
    std::fprintf(stderr, "node stopped in %.1f s\n", seconds_since(t0));
  }
  return 0;
}
