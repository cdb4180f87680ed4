// The dev broker: librdkafka's mock cluster — a Kafka-protocol broker held in
// memory — on 127.0.0.1, for development and tests. NOT a Kafka: nothing is
// persisted, and (librdkafka 2.0.2) it does not implement CreateTopics, nor
// transaction markers: records of an aborted transaction that reached it stay
// visible to read_committed readers. It keeps at most 5 MiB or 100,000
// message sets per partition and drops the oldest beyond that, without an
// error (a reader then jumps past the gap). librdkafka 2.0.2 has no way to
// raise that limit (rd_kafka_mock_partition_init fixes max_size and max_cnt,
// and no mock API sets them), so dropped() reports it: `keepwatch
// dev-broker` checks it every second and says so loudly, and the node's
// truncation checks (check_not_truncated) refuse the partial log.
// Keepwatch's topics must be created on it
// with create_topic (kafka_topic_specs() lists them); `keepwatch dev-broker`
// does that.
//
// Fault injection for tests passes straight through to the mock cluster:
// brokers down and up, partition leaders moved, protocol requests failed with
// chosen Kafka error codes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "events/result.hpp"

namespace kw::storage {

class dev_broker {
public:
  // Kafka protocol error codes (the wire values) that tests inject.
  enum class kafka_error : int {
    not_leader_for_partition = 6,   // retriable: the client refreshes metadata
    request_timed_out = 7,          // retriable
    not_enough_replicas = 19,       // retriable
    not_enough_replicas_after_append = 20,
    invalid_record = 87,            // not retriable: the transaction is aborted
    producer_fenced = 90,           // fatal: another producer took the transactional.id
    disconnect = -195,              // the broker drops the connection
  };
  // Kafka protocol request types (ApiKey).
  enum class request : std::int16_t {
    produce = 0,
    fetch = 1,
    list_offsets = 2,
    metadata = 3,
    offset_commit = 8,
    offset_fetch = 9,
    find_coordinator = 10,
    init_producer_id = 22,
    add_partitions_to_txn = 24,
    end_txn = 26,
  };

  // Starts `brokers` brokers (ids 1..brokers), each listening on 127.0.0.1.
  static result<std::unique_ptr<dev_broker>> start(int brokers = 1);

  ~dev_broker();
  dev_broker(const dev_broker&) = delete;
  dev_broker& operator=(const dev_broker&) = delete;

  // "127.0.0.1:port,127.0.0.1:port,...": what a client's bootstrap.servers takes.
  std::string bootstrap() const;
  int brokers() const noexcept;

  // Creates a topic (an existing one is an error: errc::conflict).
  status create_topic(const std::string& name, int partitions, int replication_factor = 1);

  // A partition whose oldest records the mock cluster has dropped: its
  // earliest offset is above 0.
  struct dropped_records {
    std::string topic;
    int partition = 0;
    std::int64_t earliest = 0;  // every record below it is gone
  };
  // Every partition of the topics made with create_topic that lost records
  // (asked over the Kafka protocol, as any client would).
  result<std::vector<dropped_records>> dropped();

  status broker_down(int id);  // drops its connections and refuses new ones
  status broker_up(int id);
  status set_leader(const std::string& topic, int partition, int broker_id);
  status set_rtt(int broker_id, std::chrono::milliseconds rtt);

  // The next `count` requests of type `r` (to any broker) fail with `e`.
  void push_request_errors(request r, std::size_t count, kafka_error e);
  void push_produce_errors(std::size_t count, kafka_error e) {
    push_request_errors(request::produce, count, e);
  }
  // Forgets the errors still pushed for `r`.
  void clear_request_errors(request r);

private:
  struct impl;
  explicit dev_broker(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace kw::storage
