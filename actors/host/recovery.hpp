// Recovery of one partition's aggregates: the latest snapshots, then the
// log's tail after the offsets each snapshot covers.
//
// Where the tail starts. A snapshot only speaks for its own aggregate: an
// aggregate that has none (a tenant created since the last full snapshot,
// say) must be replayed from its first event. So recovery starts from the
// partition's checkpoint — a record saved in the same atomic batch as a
// complete set of snapshots (every live aggregate answered; see
// partition_host's snapshot_all), promising that every aggregate with an
// event before the checkpoint's offsets has a snapshot in the store — or
// from the oldest snapshot if that is older. Without a checkpoint, from
// offset 0. Whatever the snapshot set, every aggregate's events are applied
// exactly once, and the result equals a replay of the whole log
// (recovery_differences checks it; `keepwatch audit verify` runs it).
//
// Pure with respect to actors: it reads the log and the snapshot store and
// returns plain state, so the node can recover partitions in parallel and the
// benchmarks can measure it alone. Records that cannot be decoded stop
// recovery with an error naming the offset: the system of record is never
// silently skipped; nor is a truncated log: if the events topic no longer
// holds the records from where the replay must start (its earliest offset is
// above it), recovery fails with an error naming the partition and both
// offsets (storage::check_not_truncated) and the node does not start.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/monitor/monitor_decider.hpp"
#include "actors/tenant/tenant_decider.hpp"
#include "events/event.hpp"
#include "storage/event_log.hpp"
#include "storage/rocks_snapshot_store.hpp"

namespace kw {

// An aggregate's state and the log offsets it has applied up to.
template <class State>
struct recovered {
  State st;
  std::int64_t events_next = 0;  // next events-topic offset not yet applied
  std::int64_t checks_next = 0;  // next checks-topic offset not yet applied
  std::string tenant;            // owning tenant (monitors)
};

struct partition_state {
  std::unordered_map<std::string, recovered<tenant::state>> tenants;    // by tenant id
  std::unordered_map<std::string, recovered<monitor::state>> monitors;  // by monitor_slot
  std::int64_t events_end = 0;
  std::int64_t checks_end = 0;
  std::int64_t replayed = 0;
  std::int64_t snapshots = 0;
};

// Snapshot keys and payloads. A monitor's payload carries its tenant.
std::string tenant_key(const std::string& tenant);
std::string monitor_key(const std::string& monitor);  // the event aggregate, monitor/<id>
// Monitor ids are unique within a tenant only: every map and snapshot key of
// a monitor is its slot, (tenant, monitor).
std::string monitor_slot(const std::string& tenant, const std::string& monitor);
// The partition's checkpoint: its snapshot key, and the record itself
// (offsets only). Saved only with a complete set of snapshots.
extern const char* const checkpoint_key;
storage::snapshot make_checkpoint(std::int64_t events_next, std::int64_t checks_next);
storage::snapshot make_snapshot(const std::string& tenant, const tenant::state& st,
                                std::int64_t events_next, std::int64_t checks_next);
storage::snapshot make_snapshot(const std::string& tenant, const std::string& monitor,
                                const monitor::state& st, std::int64_t events_next,
                                std::int64_t checks_next);

result<partition_state> recover_partition(storage::event_log& log, storage::rocks_snapshot_store* snaps,
                                          partition_id p);

// Where `a` (recovered from snapshots) and `b` (replayed from offset 0)
// disagree: one line per aggregate missing from either or in another state.
// Empty when the write side equals a full replay.
std::vector<std::string> recovery_differences(const partition_state& a, const partition_state& b);

// Applies one decoded record to the partition state (used by recovery and by
// re-activation of a passivated tenant). `offset` is the record's offset.
void apply_recovered(partition_state& ps, const event& e, storage::topic t, std::int64_t offset);

// The monitor id of an aggregate name "monitor/<id>", or of the subject of a
// tenant-decided monitor event.
std::string monitor_of(const event& e);

}  // namespace kw
