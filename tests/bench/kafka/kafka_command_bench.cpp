// kafka.command_append: command -> durable append -> reply through the actors
// on Kafka. As core.command_append (tests/bench/core/actor_append_bench.cpp),
// but the node's log is KafkaLog on an in-process dev broker (librdkafka's
// mock cluster, 1 broker): routing by the partition host, the monitor
// actor's decide, the group-committed transactional append (acks=all) and
// evolve, with K record_check commands in flight over 200 tenants x 5
// monitors, 8 partitions, no probes.
//
// Each of the K slots owns the monitors whose index is congruent to it, so
// no two slots wait on one monitor; a slot sends its next command from the
// previous one's reply. About one check in 50 fails (status changes,
// incidents: domain events in the hash chain). Latency = submit() to reply;
// throughput = replies per second over the measured window (after a warm-up).
//
// Usage: kafka_command_bench [K [producers]]   (default 256 in flight, the
// log's default producer count)
#include <unistd.h>

#include <cinttypes>
#include <random>

#include "bench_support.hpp"
#include "storage/dev_broker.hpp"

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
  if (rs.failures) fail(std::to_string(rs.failures.load()) + " commands failed");
  figure(bench, "throughput", throughput, "commands/s", ">= 30000");
  figure(bench, "p99_ms", p99, "ms", "<= 20");
  figure(bench, "p50_ms", p50, "ms", "-");
}

}  // namespace

int main(int argc, char** argv) {
  const int k = argc > 1 ? std::atoi(argv[1]) : 256;
  if (k <= 0) fail("K must be positive");
  const int producers = argc > 2 ? std::atoi(argv[2]) : storage::kafka_options{}.producers;
  auto broker = storage::dev_broker::start(1);
  if (!broker) fail("dev broker: " + broker.err().message);
  storage::dev_broker& b = *broker.value();
  temp_dir dir("kafka-command-bench");
  {
    auto o = bench_options(dir.path, /*run_checks=*/false);
    storage::kafka_options ko;
    ko.bootstrap_servers = b.bootstrap();
    ko.topic_prefix = "bench" + std::to_string(::getpid()) + ".";
    ko.timeout = std::chrono::seconds(20);
    ko.append_timeout = std::chrono::seconds(10);
    ko.producers = producers;
    ko.create_topic = [&b](const storage::kafka_topic_spec& s) {
      return b.create_topic(s.name, s.partitions, s.replication_factor);
    };
    o.kafka = ko;
    auto t0 = clock_type::now();
    auto n = start_node(std::move(o));
    std::fprintf(stderr, "node started on %s (%d producers) in %.1f s\n", b.bootstrap().c_str(),
                 producers, seconds_since(t0));
    create_fleet(*n, tenants, monitors_per_tenant, 60);
    std::vector<std::pair<std::string, std::string>> targets;
    // Interleave tenants so that neighbouring targets sit on different partitions.
    for (int m = 0; m < monitors_per_tenant; ++m)
      for (int t = 0; t < tenants; ++t) targets.emplace_back(tenant_name(t), monitor_name(t, m));
    if (n->monitor_count() != std::int64_t(targets.size())) fail("monitor count");
    run(*n, targets, k, "kafka.command_append");
    t0 = clock_type::now();
    n->stop();
    std::fprintf(stderr, "node stopped in %.1f s\n", seconds_since(t0));
  }
  return 0;
}
