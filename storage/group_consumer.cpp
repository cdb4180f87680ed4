// open_group_consumer: picks the adapter by the log's dynamic type. See
// group_consumer.hpp for the contract.
#include "storage/group_consumer.hpp"

#include "storage/kafka_group_consumer.hpp"
#include "storage/kafka_log.hpp"
#include "storage/rocks_group_consumer.hpp"
#include "storage/rocks_log.hpp"

namespace kw::storage {

result<std::unique_ptr<group_consumer>> open_group_consumer(event_log& log,
                                                            const std::string& group,
                                                            std::vector<topic> topics,
                                                            group_callbacks cb,
                                                            const kafka_options* kafka) {
  if (auto* r = dynamic_cast<rocks_log*>(&log))
    return open_rocks_group_consumer(*r, group, std::move(topics), std::move(cb));
  if (auto* k = dynamic_cast<kafka_log*>(&log)) {
    if (kafka == nullptr)
      return error{errc::invalid,
                   "consumer group " + group + ": a Kafka log needs its kafka_options"};
    if (!k->on_dev_broker())
      return open_kafka_group_consumer(*kafka, group, std::move(topics), std::move(cb));
    // The dev broker ignores group.instance.id: a member restarted after a
    // crash waits for the dead one's session to expire, and the mock
    // cluster waits session.timeout.ms - 1 s at every rebalance. Shorter
    // group timers there (unless kafka.properties set them) keep a restart
    // to seconds (kafka_group_consumer.hpp).
    kafka_options o = *kafka;
    o.properties.emplace("session.timeout.ms", std::to_string(kafka_dev_broker_session_timeout_ms));
    o.properties.emplace("heartbeat.interval.ms",
                         std::to_string(kafka_dev_broker_heartbeat_interval_ms));
    return open_kafka_group_consumer(o, group, std::move(topics), std::move(cb));
  }
  return error{errc::invalid, "consumer group " + group + ": this log has no consumer groups"};
}

}  // namespace kw::storage
