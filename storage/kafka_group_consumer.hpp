// The consumer-group port on Kafka: a librdkafka high-level consumer.
//
//  - group.id = topic_prefix + group (kafka_group_id), so that deployments
//    sharing a cluster under different prefixes never share a group. Note:
//    kafka_log::commit_offset / committed_offset take the Kafka group id as
//    is: pass kafka_group_id(prefix, group) to them to see this group.
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

// `options` are those the kafka_log was opened with (bootstrap servers,
// prefix, properties, timeout); only those are used.
result<std::unique_ptr<group_consumer>> open_kafka_group_consumer(const kafka_options& options,
                                                                  const std::string& group,
                                                                  std::vector<topic> topics,
                                                                  group_callbacks cb);

}  // namespace kw::storage
