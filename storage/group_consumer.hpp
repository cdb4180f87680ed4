// The consumer-group port: one member of a named consumer group reading one
// or more topics of the log, for projections (DESIGN.md, read side).
//
// Contract:
//  - Ownership. The group divides the (topic, partition) pairs of its topics
//    among its members; a member reads only what is assigned to it.
//    Embedded log (rocks_group_consumer.hpp): the single member owns every
//    partition. Kafka (kafka_group_consumer.hpp): the Kafka group
//    coordinator, with the cooperative-sticky assignor, shares them among
//    the members; when a member joins or leaves, only the partitions that
//    move are revoked and assigned.
//  - Callbacks. `on_assigned` and `on_revoked` run inside poll() (and
//    close()), on the polling thread, never concurrently with the caller's
//    own use of the consumer. `on_revoked` runs before the partitions go:
//    the member may still commit them from inside it (flush before losing
//    a partition). A poll never returns a record of a partition after
//    `on_revoked` named it, nor before `on_assigned` did; records already
//    fetched for a revoked partition are dropped (the next owner reads them
//    from the committed offset).
//    `on_lost` (optional) is called instead of `on_revoked` when the
//    partitions were already taken away (the member was thrown out of the
//    group: session timeout, poll interval exceeded); committing them then
//    fails. If `on_lost` is empty, `on_revoked` is called for them.
//  - Where reading starts for a newly assigned partition: the group's
//    committed offset, or the earliest record if the group never committed
//    one; `seek` inside `on_assigned` overrides it (a projection that keeps
//    its offsets in PostgreSQL, or a rebuild from 0).
//  - Order. Within one (topic, partition), records come in log order, each
//    once per assignment. Across partitions there is no order. Delivery is
//    at-least-once: what was read but not committed is read again by the
//    next owner (or the next member after a restart). Readers deduplicate.
//  - Commit is synchronous: when it returns ok, the offsets are durable for
//    the group. Committed = the NEXT offset to read. Only partitions
//    currently assigned to this member may be committed (errc::conflict
//    otherwise, so a member that lost a partition cannot move back the
//    offset of its new owner).
//  - Threads: poll, commit, seek and close from one thread at a time (the
//    polling thread; the callbacks run on it). assignment() and group() from
//    any thread.
//  - Errors are kw::error values: errc::invalid (bad arguments: a topic not
//    subscribed, a negative offset), errc::conflict (a partition not
//    assigned to this member; on Kafka also a commit refused because the
//    group is rebalancing — poll, then commit again what is still
//    assigned), errc::unavailable (the cluster does not answer, or this
//    member is unusable), errc::storage (anything else the log refused).
//    A failed poll loses nothing: poll again.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "events/ids.hpp"
#include "events/result.hpp"
#include "storage/event_log.hpp"

namespace kw::storage {

struct topic_partition {
  topic t = topic::events;
  partition_id partition{0};

  friend bool operator==(const topic_partition& a, const topic_partition& b) {
    return a.t == b.t && a.partition == b.partition;
  }
  friend bool operator!=(const topic_partition& a, const topic_partition& b) { return !(a == b); }
  friend bool operator<(const topic_partition& a, const topic_partition& b) {
    return a.t != b.t ? a.t < b.t : a.partition < b.partition;
  }
};

// A position in a (topic, partition): for commit, the next offset to read;
// for seek, the next offset poll returns (or the first record past it).
struct partition_offset {
  topic t = topic::events;
  partition_id partition{0};
  log_offset next{0};
};

// A record as a group member receives it: the stored record (topic, offset,
// key, value, headers) and the partition it came from.
struct consumed_record : stored_record {
  partition_id partition{0};
};
using stored_record_with_partition = consumed_record;

using partition_list = std::vector<topic_partition>;

struct group_callbacks {
  std::function<void(const partition_list&)> on_assigned;
  std::function<void(const partition_list&)> on_revoked;
  std::function<void(const partition_list&)> on_lost;  // optional: see the contract
};

class group_consumer {
public:
  virtual ~group_consumer() = default;

  // The group's name as given at creation (without any Kafka prefix).
  virtual const std::string& group() const noexcept = 0;

  // Up to `max_records` records of the partitions assigned to this member;
  // waits up to `timeout` for the first one, then returns what is at hand.
  // Empty when nothing arrived in time. Runs the assignment callbacks.
  virtual result<std::vector<consumed_record>> poll(std::size_t max_records,
                                                    std::chrono::milliseconds timeout) = 0;

  // Commits, synchronously, the next offset to read of each given partition
  // (all of which must be assigned to this member). An empty list is ok.
  virtual status commit(const std::vector<partition_offset>& offsets) = 0;

  // Moves where poll reads each given (assigned) partition from next. Inside
  // on_assigned, it sets where the newly assigned partitions start.
  virtual status seek(const std::vector<partition_offset>& offsets) = 0;

  // The partitions assigned to this member now, sorted.
  virtual partition_list assignment() const = 0;

  // Leaves the group: calls on_revoked for everything still assigned (on
  // the calling thread), then releases it. Idempotent. After it, poll,
  // commit and seek fail with errc::unavailable. The destructor leaves the
  // group WITHOUT calling the callbacks.
  virtual void close() = 0;
};

struct kafka_options;

// Opens a member of `group` over `topics` on whatever `log` is: a rocks_log
// (the embedded single member; `log` must outlive it) or a kafka_log (which
// needs the kafka_options it was opened with, `kafka`: the consumer has its
// own connection and does not use `log` after this call). Any other log is
// errc::invalid.
result<std::unique_ptr<group_consumer>> open_group_consumer(event_log& log,
                                                            const std::string& group,
                                                            std::vector<topic> topics,
                                                            group_callbacks cb,
                                                            const kafka_options* kafka = nullptr);

}  // namespace kw::storage
