// A read-only view of Keepwatch's Kafka topics, for tools that run beside a
// node (`keepwatch audit …`): it reads committed records of one partition
// from an offset to the partition's end, and nothing else.
//
// Guarantees:
//  - It never writes and never joins a consumer group: no transactional
//    producer (which would fence the node's), no offset commits. Records are
//    read with isolation.level=read_committed, so aborted appends are never
//    seen and a scan ends at the last stable offset.
//  - scan() delivers every committed record of (t, p) from `from` (or from the
//    earliest offset still held, if that is later; the caller sees the first
//    offset and can tell a truncated partition) in offset order, then returns.
//    A broker that stops answering fails the scan with errc::unavailable
//    after the timeout; the callback returning false stops it early.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "storage/event_log.hpp"

namespace kw::storage {

struct kafka_reader_options {
  std::string bootstrap_servers;
  std::string topic_prefix;
  std::map<std::string, std::string> properties;  // SASL, TLS, ...
  std::chrono::milliseconds timeout{30000};       // without progress, per scan
};

class kafka_reader {
public:
  static result<std::unique_ptr<kafka_reader>> open(kafka_reader_options options);
  ~kafka_reader();
  kafka_reader(const kafka_reader&) = delete;
  kafka_reader& operator=(const kafka_reader&) = delete;

  // Partitions of the events topic.
  result<int> partitions(topic t);
  // The earliest offset still held and the offset past the last record.
  result<std::pair<std::int64_t, std::int64_t>> watermarks(topic t, partition_id p);
  status scan(topic t, partition_id p, log_offset from,
              const std::function<bool(const stored_record&)>& fn);

private:
  struct impl;
  explicit kafka_reader(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace kw::storage
