// The command load of core.command_append and kafka.command_append: K
// record_check commands in flight through a node, each of K slots owning the
// monitors whose index is congruent to it (no two slots wait on one monitor),
// sending its next command from the previous one's reply. About one check in
// 50 fails, so monitors go down and up (status changes, incidents: domain
// events in the hash chain). Latency = submit() to reply; throughput =
// replies per second over the measured window, after a warm-up.
#pragma once

#include <cinttypes>
#include <random>

#include "bench_support.hpp"

namespace kw::bench {

constexpr int load_tenants = 200;
constexpr int load_monitors_per_tenant = 5;

// (tenant, monitor) pairs of the fleet, tenants interleaved so that
// neighbouring targets sit on different partitions.
inline std::vector<std::pair<std::string, std::string>> load_targets() {
  std::vector<std::pair<std::string, std::string>> targets;
  for (int m = 0; m < load_monitors_per_tenant; ++m)
    for (int t = 0; t < load_tenants; ++t) targets.emplace_back(tenant_name(t), monitor_name(t, m));
  return targets;
}

constexpr auto load_warmup = std::chrono::seconds(1);
constexpr auto load_window = std::chrono::seconds(5);

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

inline void run_command_load(node& n, const std::vector<std::pair<std::string, std::string>>& targets,
                             int k, const char* bench, const char* throughput_target,
                             const char* p99_target) {
  run_state rs;
  rs.n = &n;
  rs.targets = targets;
  rs.slots = k;
  auto begin = clock_type::now();
  rs.measure_from = begin + load_warmup;
  rs.deadline = rs.measure_from + load_window;
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
  const double secs = std::chrono::duration<double>(load_window).count();
  const double throughput = double(rs.completed.load()) / secs;
  const double p50 = percentile(all, 50), p99 = percentile(all, 99);
  std::fprintf(stderr, "%s: %d in flight, %ld commands measured in %.1f s, %ld failures, max %.2f ms\n",
               bench, k, rs.completed.load(), secs, rs.failures.load(),
               all.empty() ? 0.0 : all.back());
  if (rs.failures) fail(std::to_string(rs.failures.load()) + " commands failed");
  figure(bench, "throughput", throughput, "commands/s", throughput_target);
  figure(bench, "p99_ms", p99, "ms", p99_target);
  figure(bench, "p50_ms", p50, "ms", "-");
}


}  // namespace kw::bench
