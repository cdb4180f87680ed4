// What the Kafka adapters (kafka_log, kafka_group_consumer) share about
// librdkafka's C API: owners that destroy what it hands out on every path,
// the milliseconds left before a deadline, and a consumed message as a
// stored_record. Private to storage/: it includes rdkafka.h.
#pragma once

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "storage/event_log.hpp"

namespace kw::storage {

struct message_guard {
  rd_kafka_message_t* m;
  ~message_guard() {
    if (m) rd_kafka_message_destroy(m);
  }
};
struct partitions_guard {
  rd_kafka_topic_partition_list_t* l;
  ~partitions_guard() {
    if (l) rd_kafka_topic_partition_list_destroy(l);
  }
};
struct metadata_guard {
  const rd_kafka_metadata_t* md = nullptr;
  ~metadata_guard() {
    if (md) rd_kafka_metadata_destroy(md);
  }
};

// Milliseconds until `deadline` (0 once past), as librdkafka's int timeouts.
inline int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, std::numeric_limits<int>::max()));
}

// Fills `r` (topic, offset, key, value, headers) from a consumed message.
inline void fill_record(stored_record& r, topic t, const rd_kafka_message_t* m) {
  r.t = t;
  r.offset = log_offset{m->offset};
  if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs) return;
  const char* name = nullptr;
  const void* value = nullptr;
  std::size_t size = 0;
  for (std::size_t i = 0;
       rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    header h;
    if (name) h.name = name;
    if (value) h.value.assign(static_cast<const char*>(value), size);
    r.headers.push_back(std::move(h));
  }
}

}  // namespace kw::storage
