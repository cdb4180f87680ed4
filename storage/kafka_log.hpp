// KafkaLog: the event log of a real deployment, on Apache Kafka (librdkafka).
//
// Guarantees (on top of the event_log contract):
//  - Atomicity and durability: one group commit = one Kafka transaction
//    (transactional producer: idempotent, acks=all). The partitions are
//    split among `producers` transactional units (producer + writer thread),
//    p mod producers; units commit in parallel, and a group holds appends of
//    its unit's partitions only (each append: one partition, across topics).
//    An append is acknowledged only after its records' delivery reports and
//    the commit:
//    then every record is on all in-sync replicas. A failed group is aborted:
//    nothing of it is visible to read_committed readers (the only kind this
//    class uses), on a real cluster. (The dev broker is not a real cluster:
//    see dev_broker.hpp.)
//  - Offsets: from the delivery reports. They increase in append order per
//    (topic, partition) but are NOT dense: every transaction leaves a
//    control marker that takes an offset. read() skips markers; end_offset()
//    is the last stable offset (the high watermark once no transaction is
//    open), past every committed record.
//  - Hash chains: sealed in log order by the single writer thread of the
//    partition's unit, with in-memory heads;
//    each group also writes the heads it moved to the compacted chains topic
//    in the same transaction, so heads and records never disagree. Heads are
//    loaded at open (and reloaded after an ambiguous commit) by reading the
//    chains topic to its end.
//  - Reads see the caller's own acknowledged appends (read-your-writes).
//  - Failure: every librdkafka error is classified once (kafka_errors.hpp).
//    An abortable or retriable failure fails its group (errc::storage, or
//    errc::unavailable when the cluster did not answer within
//    append_timeout) and the producer is re-created for the next group, so
//    work resumes when the cluster returns. A fatal error of any unit's
//    producer (fenced by another node with the same transactional.id, ...)
//    makes the log refuse every later append, on every partition, with
//    errc::unavailable and healthy() false.
//  - A commit that timed out after being sent has an unknown outcome: the
//    group is failed with errc::unavailable ("outcome unknown") yet may be
//    visible; the unit's chain heads are reloaded from Kafka before its next
//    group.
//  - Callbacks run on the writer thread of the partition's unit, in queue
//    order per unit (an append to a partition out of range fails on unit
//    0's); they must not block.
//
// Topics (names prefixed by topic_prefix): keepwatch.events.v1 (kept
// forever: an existing one whose retention.ms, retention.bytes or
// cleanup.policy would delete records is refused at open, except on the dev
// broker, which cannot be asked), keepwatch.checks.v1 (checks_retention_ms),
// keepwatch.deadletter.v1 (kept forever), keepwatch.chains.v1 (compacted:
// key = chain key, value = head hash, partition = the log partition). Created
// at open with the configured partitions and replication factor; an existing
// topic with another partition count or replication factor is an error.
//
// One node owns every partition. A unit's transactional.id names its
// partitions: <topic_prefix>keepwatch-<node_name>-p<N>[_<M>...] (with
// producers = partitions, one unit per partition: -p<N>, the unit that can
// move when partitions are later shared among nodes). Two logs opened with
// the same prefix, node name and producer count fence each other (the older
// one turns unhealthy); a node restarted with another producer count does not
// fence, so stop the old one first.
//
// Producers: 2 by default, measured on the 2-core reference machine against
// the dev broker (kafka_command_bench, 256 in flight): 1 → ~50k commands/s,
// 2 → ~55k, 4 → ~33k, 8 (one per partition) → ~23k and p99 > 20 ms. Each
// transaction costs its producer's librdkafka main thread up to ~1 ms of
// busy-waiting (librdkafka 2.0.2 registers the transaction's partitions on a
// 1 ms timer and spins for the sub-millisecond rest), so more units mean
// more, smaller transactions and that CPU, not the broker, becomes the
// limit. On more cores, or a librdkafka without that spin, more producers
// (up to one per partition) may pay.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/event_log.hpp"

namespace kw::storage {

struct kafka_topic_spec {
  std::string name;
  int partitions = 0;
  int replication_factor = 1;
  std::map<std::string, std::string> configs;  // retention.ms, cleanup.policy, ...
};

struct kafka_options {
  std::string bootstrap_servers;
  std::string topic_prefix;  // prepended to every topic name, and to the transactional.id
  int partitions = 8;
  int replication_factor = 1;
  std::int64_t checks_retention_ms = -1;  // -1: forever
  // Passed through to every librdkafka handle (SASL, TLS, ...); Keepwatch's
  // own settings (transactional.id, isolation.level, ...) win over them.
  std::map<std::string, std::string> properties;
  std::string node_name;  // part of the transactional.id; "node" if empty
  // Transactional producers, each with its writer thread, each owning the
  // partitions p with p mod producers == its index (capped at `partitions`;
  // = partitions: one per partition). Part of the transactional.ids: change
  // it only with the node stopped. Why 2: see "Producers" below.
  int producers = 2;
  // Bounds open() and each read, end_offset and offset call.
  std::chrono::milliseconds timeout{30000};
  // Bounds each group commit: past it the group fails with errc::unavailable.
  std::chrono::milliseconds append_timeout{5000};
  // Creates a missing topic. Empty: the admin API (CreateTopics). The dev
  // broker, which has no CreateTopics, passes dev_broker::create_topic here.
  std::function<status(const kafka_topic_spec&)> create_topic;
};

std::string kafka_topic_name(const std::string& prefix, topic t);  // prefix + topic_name(t)
std::string kafka_chain_topic_name(const std::string& prefix);     // prefix + "keepwatch.chains.v1"
// The events topic's configuration (as DescribeConfigs gives it) keeps every
// record forever: retention.ms=-1, retention.bytes=-1 (or unset),
// cleanup.policy=delete. Otherwise errc::invalid, saying how to fix it.
status kafka_check_kept_forever(const std::string& topic_name,
                                const std::map<std::string, std::string>& configs);
// Every topic the log needs, as open() creates them.
std::vector<kafka_topic_spec> kafka_topic_specs(const kafka_options& options);

class kafka_log final : public event_log {
public:
  // Connects, creates or checks the topics, initialises one transactional
  // producer per partition (each aborts any transaction a previous instance
  // left open on its partition), loads the chain heads. Fails with a clear error (errc::unavailable) if
  // no broker answers within options.timeout. `sealer` may be null: chained
  // records are then stored as given and no head moves.
  static result<std::unique_ptr<kafka_log>> open(kafka_options options,
                                                 std::shared_ptr<chain_sealer> sealer);

  ~kafka_log() override;
  kafka_log(const kafka_log&) = delete;
  kafka_log& operator=(const kafka_log&) = delete;

  // Answers every queued append, stops the writer, closes the clients.
  // Idempotent; not from a callback. After it every call fails with
  // errc::unavailable.
  void close();

  // False once the producer hit a fatal error: the node must stop taking
  // writes (/readyz red). Stays false until the log is reopened.
  bool healthy() const noexcept;

  // A transaction whose commit timed out is, after transaction.timeout.ms
  // (plus a margin for the markers), either committed or aborted by the
  // coordinator: only then may "not in the log" be trusted.
  std::chrono::milliseconds settle_time() const override;

  int partitions() const noexcept override;
  void append(partition_id p, std::vector<record> records, append_callback done) override;
  result<std::vector<stored_record>> read(topic t, partition_id p, log_offset from,
                                          std::size_t max) override;
  result<log_offset> end_offset(topic t, partition_id p) override;
  // The low watermark: above 0 once records were deleted.
  result<log_offset> begin_offset(topic t, partition_id p) override;
  // The cluster is librdkafka's mock cluster (keepwatch dev-broker).
  bool on_dev_broker() const noexcept;
  result<std::string> chain_head(partition_id p, const std::string& key) override;
  // Kafka consumer-group offsets of `group` (the admin API; no member joins).
  status commit_offset(const std::string& group, topic t, partition_id p,
                       log_offset next) override;
  result<std::optional<log_offset>> committed_offset(const std::string& group, topic t,
                                                     partition_id p) override;

  struct impl;

private:
  explicit kafka_log(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace kw::storage
