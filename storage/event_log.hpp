// The event-log port: what Keepwatch needs from a log, whatever runs it.
//
// Contract:
//  - `append` writes a group of records to ONE partition, possibly across
//    topics, atomically: all or none. When `done` receives a value, every
//    record is durable (RocksLog: WAL synced; Kafka: acks=all) and carries its
//    offset. On an error nothing of the group is visible to readers.
//  - Offsets increase per (topic, partition), from 0, in append order, and
//    `read` returns every committed record: nothing is missing. They are
//    dense on the embedded log; on Kafka they have gaps (each transaction's
//    control marker takes an offset), so never compute with them.
//  - Records with `chained = true` are sealed into the hash chain of their
//    key (the tenant) by the log's single writer, in log order, through the
//    `chain_sealer` given at open; a failed append leaves the chain as it was.
//  - `done` may run on a thread of the log's own: it must not block.
// Adapters: RocksLog (embedded, storage/rocks_log.hpp); KafkaLog (Apache
// Kafka, storage/kafka_log.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "events/ids.hpp"
#include "events/result.hpp"

namespace kw::storage {

// Persisted discriminators: never renumber, never reuse.
enum class topic : std::uint8_t { events = 1, checks = 2, deadletter = 3 };

const char* topic_name(topic t) noexcept;  // "keepwatch.events.v1", ...

inline bool valid_topic(topic t) noexcept {
  return t == topic::events || t == topic::checks || t == topic::deadletter;
}

struct header {
  std::string name;
  std::string value;
};

struct record {
  topic t = topic::events;
  std::string key;    // the tenant id (the Kafka key)
  std::string value;  // the encoded event
  std::vector<header> headers;
  bool chained = false;  // seal into the key's hash chain at append
};

struct stored_record {
  topic t = topic::events;
  log_offset offset{0};
  std::string key;
  std::string value;
  std::vector<header> headers;
};

// What an append returns: per record, in the order given, its offset and
// (for chained records) the sealed value.
struct append_ack {
  std::vector<log_offset> offsets;
  std::vector<std::string> values;  // the values as stored (sealed if chained)
};

using append_callback = std::function<void(result<append_ack>)>;

// Seals one record into a hash chain: given the chain's previous hash (empty
// for the first record), rewrites `value` to carry prevhash and hash, and
// returns the new hash. Implemented by events/ (hash_chain.hpp).
class chain_sealer {
public:
  virtual ~chain_sealer() = default;
  virtual result<std::string> seal(const std::string& prev_hash, std::string& value) = 0;
};

// Refuses to go on from a truncated log: ok when (t, p) still holds every
// record from `needed` on; otherwise errc::storage naming the topic, the
// partition, both offsets, `who` needs them, and what to do. Nothing may be
// recovered, projected or verified from a log whose needed records are gone.
class event_log;
status check_not_truncated(event_log& log, topic t, partition_id p, log_offset needed,
                           const std::string& who);

class event_log {
public:
  virtual ~event_log() = default;

  virtual int partitions() const noexcept = 0;

  // Asynchronous, group-committed append (see the contract above).
  virtual void append(partition_id p, std::vector<record> records, append_callback done) = 0;

  // Blocking convenience over `append`.
  result<append_ack> append_sync(partition_id p, std::vector<record> records);

  // Up to `max` records of (t, p) from offset `from` on, in order (the
  // first may have an offset above `from` where offsets have gaps).
  virtual result<std::vector<stored_record>> read(topic t, partition_id p, log_offset from,
                                                  std::size_t max) = 0;

  // An offset past every committed record of (t, p): on the embedded log the
  // offset the next append will get (= number of records); on Kafka the last
  // stable offset.
  virtual result<log_offset> end_offset(topic t, partition_id p) = 0;

  // The offset of the earliest record (t, p) still holds: 0 on the embedded
  // log, which never deletes; on Kafka the low watermark, above 0 once
  // retention (or the dev broker's per-partition limit) deleted records.
  virtual result<log_offset> begin_offset(topic, partition_id) { return log_offset{0}; }

  // How long after an append failed with errc::unavailable ("outcome
  // unknown") its outcome is settled for every reader: by then the group is
  // either readable or never will be. 0 where outcomes are always known.
  virtual std::chrono::milliseconds settle_time() const { return std::chrono::milliseconds(0); }

  // The current head of a hash chain (empty if the chain has no record).
  virtual result<std::string> chain_head(partition_id p, const std::string& key) = 0;

  // Consumer-group offsets: the next offset the group will read.
  virtual status commit_offset(const std::string& group, topic t, partition_id p,
                               log_offset next) = 0;
  virtual result<std::optional<log_offset>> committed_offset(const std::string& group, topic t,
                                                             partition_id p) = 0;
};

}  // namespace kw::storage
