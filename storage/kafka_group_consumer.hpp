// The consumer-group port on Kafka: a librdkafka high-level consumer.
//
//  - group.id = topic_prefix + group (kafka_group_id), so that deployments
//    sharing a cluster under different prefixes never share a group. Note:
//    kafka_log::commit_offset / committed_offset take the Kafka group id as
//    is: pass kafka_group_id(prefix, group) to them to see this group.
//  - Static membership: group.instance.id = kafka_group_instance_id(prefix,
//    node name, group), stable across restarts and unique per node and
//    group. A node restarted after a crash rejoins as the same member: on a
//    real cluster the coordinator hands it its old partitions at once,
//    without a rebalance and without waiting for the dead process's session
//    to expire. Two live processes with the same node name fence each other
//    (FENCED_INSTANCE_ID: the older one's poll fails). A clean close()
//    leaves the group at once (unsubscribe, then LeaveGroup: librdkafka
//    sends none for a static member on close by itself).
//    The dev broker (librdkafka 2.0.2's mock cluster) ignores
//    group.instance.id: there a crashed member holds its partitions until
//    its session expires, and the mock waits session.timeout.ms - 1 s at
//    every rebalance; so on the dev broker open_group_consumer (group_
//    consumer.hpp) uses a 3 s session and 0.5 s heartbeats (measured: see
//    README, "Running on Kafka").
//  - session.timeout.ms = kafka_group_session_timeout_ms (6 s, the smallest
//    a Kafka broker accepts by default, group.min.session.timeout.ms) and
//    heartbeat.interval.ms = 2 s, unless kafka.properties set them. What it
//    trades: heartbeats come from librdkafka's own thread, so a busy node
//    keeps its session; a node that is gone for good (or cut off for 6 s)
//    has its partitions handed to the other members after 6 s rather than
//    45 s (librdkafka's default), and on the dev broker a crash costs about
//    that long. A longer timeout rides out longer network blips at the cost
//    of a longer stall when a member really is gone.
//  - partition.assignment.strategy = cooperative-sticky: when a member joins
//    or leaves, the others keep what they have except the partitions that
//    move, and only those are revoked (incremental rebalancing,
//    rd_kafka_incremental_assign / rd_kafka_incremental_unassign). Should a
//    property force an eager strategy, the EAGER protocol is handled too
//    (everything revoked, then the new assignment).
//  - isolation.level = read_committed (records of aborted or open
//    transactions are never returned), enable.auto.commit = false (commit()
//    is the only commit, synchronous, of explicit offsets),
//    auto.offset.reset = earliest (a partition the group never committed
//    starts at its first record).
//  - Topic names carry the prefix (kafka_topic_name).
//  - options.properties pass through (SASL, TLS, session.timeout.ms,
//    heartbeat.interval.ms, max.poll.interval.ms, ...); the settings above
//    win over them. options.timeout bounds open() (the topics are looked
//    up: a missing topic is errc::not_found) and seek().
//  - A member that does not poll within max.poll.interval.ms leaves the
//    group; its partitions are reported lost (on_lost, or on_revoked) by the
//    next poll, which then rejoins.
//  - Commits during a rebalance. librdkafka 2.0.2 (fixed upstream much
//    later: confluentinc/librdkafka#4059, PR #4908) treats an OffsetCommit
//    answered ILLEGAL_GENERATION as the loss of the whole assignment; that is
//    what a commit sent while this member's JoinGroup is in flight gets. So
//    commit() sends only in the steady join state (followed through
//    librdkafka's "cgrp" debug log, which is therefore always enabled and
//    forwarded to stderr only if kafka.properties asks for debug), or from
//    inside the callbacks (on_revoked: the generation is current and nothing
//    is in flight); otherwise, and after the coordinator answered
//    REBALANCE_IN_PROGRESS, it returns errc::conflict without sending. A
//    tiny window remains (a rejoin starting between that check and the
//    request): the member then gets on_lost and re-reads from the committed
//    offsets — duplicates, never a gap.
//  - Errors: librdkafka errors are classified once (kafka_errors.hpp) and
//    converted to kw::error here; a commit refused because the group is
//    rebalancing or this member's generation is stale is errc::conflict.
//
// No librdkafka header is included here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/group_consumer.hpp"
#include "storage/kafka_log.hpp"

namespace kw::storage {

std::string kafka_group_id(const std::string& prefix, const std::string& group);  // prefix + group
// prefix + "keepwatch-" + node ("node" if empty) + "-" + group
std::string kafka_group_instance_id(const std::string& prefix, const std::string& node,
                                    const std::string& group);
inline constexpr int kafka_group_session_timeout_ms = 6000;
inline constexpr int kafka_group_heartbeat_interval_ms = 2000;
// On the dev broker (open_group_consumer picks them when the log is there).
inline constexpr int kafka_dev_broker_session_timeout_ms = 3000;
inline constexpr int kafka_dev_broker_heartbeat_interval_ms = 500;

// `options` are those the kafka_log was opened with (bootstrap servers,
// prefix, properties, timeout); only those are used.
result<std::unique_ptr<group_consumer>> open_kafka_group_consumer(const kafka_options& options,
                                                                  const std::string& group,
                                                                  std::vector<topic> topics,
                                                                  group_callbacks cb);

}  // namespace kw::storage
