// The parts of the event-log port that do not depend on a backend: topic
// names and the blocking `append_sync` over the asynchronous `append`.
// `append_sync` inherits the guarantees of `append`: when it returns a value
// the whole group is durable and carries its offsets; on error nothing of it
// is visible. It must not be called from a log callback (it would deadlock
// the writer it waits on).
#include "storage/event_log.hpp"

#include <future>

namespace kw::storage {

const char* topic_name(topic t) noexcept {
  switch (t) {
    case topic::events: return "keepwatch.events.v1";
    case topic::checks: return "keepwatch.checks.v1";
    case topic::deadletter: return "keepwatch.deadletter.v1";
  }
  return "keepwatch.unknown";
}

result<append_ack> event_log::append_sync(partition_id p, std::vector<record> records) {
  auto done = std::make_shared<std::promise<result<append_ack>>>();
  auto fut = done->get_future();
  append(p, std::move(records),
         [done](result<append_ack> r) { done->set_value(std::move(r)); });
  return fut.get();
}

status check_not_truncated(event_log& log, topic t, partition_id p, log_offset needed,
                           const std::string& who) {
  auto begin = log.begin_offset(t, p);
  if (!begin) return begin.err();
  if (begin->get() <= needed.get()) return ok_status();
  return error{errc::storage,
               std::string("the log is truncated: ") + topic_name(t) + " partition " +
                   std::to_string(p.get()) + " begins at offset " + std::to_string(begin->get()) +
                   " but " + who + " needs it from offset " + std::to_string(needed.get()) +
                   ": records were deleted (a finite retention.ms or retention.bytes, or the dev "
                   "broker's per-partition limit). Refusing to go on from a partial log: restore "
                   "the topic's records, or start over on an empty log and empty read models"};
}

}  // namespace kw::storage
