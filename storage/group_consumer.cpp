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
  if (dynamic_cast<kafka_log*>(&log) != nullptr) {
    if (kafka == nullptr)
      return error{errc::invalid,
                   "consumer group " + group + ": a Kafka log needs its kafka_options"};
    return open_kafka_group_consumer(*kafka, group, std::move(topics), std::move(cb));
  }
  return error{errc::invalid, "consumer group " + group + ": this log has no consumer groups"};
}

}  // namespace kw::storage
