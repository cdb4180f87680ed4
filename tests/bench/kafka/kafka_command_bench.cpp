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

#include "command_load.hpp"
#include "storage/dev_broker.hpp"

using namespace kw;
using namespace kw::bench;

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
    create_fleet(*n, load_tenants, load_monitors_per_tenant, 60);
    auto targets = load_targets();
    if (n->monitor_count() != std::int64_t(targets.size())) fail("monitor count");
    run_command_load(*n, targets, k, "kafka.command_append", ">= 30000", "<= 20");
    t0 = clock_type::now();
    n->stop();
    std::fprintf(stderr, "node stopped in %.1f s\n", seconds_since(t0));
  }
  return 0;
}
