// The projection runner: reads one projection's topics through a consumer
// group and applies each batch to PostgreSQL in one transaction together
// with the consumed offsets (DESIGN.md, read side).
//
// Guarantees:
//  - Exactly once in effect. The offsets live in projection_offsets, written
//    in the batch's transaction; a crash at any point leaves the tables and
//    the offsets of the same last committed batch. On (re)assignment a
//    partition is read from the offset PostgreSQL holds, not the group's.
//  - Fenced. The offsets are moved only from the value this runner read
//    (UPDATE ... WHERE next_offset = expected). If another runner, or a
//    rebuild, moved them meanwhile, the batch is rolled back and the runner
//    starts again from what PostgreSQL holds: nothing is applied twice.
//  - Poison records do not stop it. A record that cannot be decoded, or
//    whose statements PostgreSQL rejects, is appended to the dead-letter
//    topic (keepwatch.deadletter.v1, same partition) with the reason, and
//    the projection carries on with the next record. The dead letter is
//    appended before the offsets move, so it may be written twice after a
//    crash, never lost.
//  - A database or log that is down is an error of step(); nothing is lost,
//    the next step() tries again.
//  - Never from a truncated log. When a partition of the events topic is
//    (re)assigned, its earliest offset is compared with the offset
//    PostgreSQL holds: if records in between are gone (retention, the dev
//    broker's limit), nothing of that batch is read or written, the runner
//    leaves its group and halts for good: every later step() returns the
//    error (errc::storage, naming the topic, partition and both offsets),
//    and halted() has it.
// One thread at a time (the projection's actor, service.hpp, or a CLI).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "events/result.hpp"
#include "projections/projection.hpp"
#include "storage/event_log.hpp"

namespace kw::storage {
struct kafka_options;
}

namespace kw::projections {

struct runner_options {
  std::string database_url;
  std::size_t max_batch = 4000;
  std::chrono::milliseconds poll_timeout{200};
  // The Kafka connection, when `log` is a kafka_log (its consumer group).
  const storage::kafka_options* kafka = nullptr;
};

struct runner_stats {
  std::int64_t records = 0;       // applied (or dead-lettered)
  std::int64_t batches = 0;
  std::int64_t dead_letters = 0;
  std::int64_t fenced = 0;        // batches rolled back: the offsets had moved
};

class runner {
public:
  // Connects to PostgreSQL and joins the projection's consumer group
  // ("projection.<name>"). `log` must outlive the runner.
  static result<std::unique_ptr<runner>> open(std::unique_ptr<projection> p, storage::event_log& log,
                                              runner_options o);
  ~runner();
  runner(const runner&) = delete;
  runner& operator=(const runner&) = delete;

  const projection& view() const;

  // Why the runner stopped for good (a truncated log), if it did.
  std::optional<error> halted() const;

  // One poll and the batch it brought. Returns how many records were
  // consumed (0: nothing new within the poll timeout).
  result<std::size_t> step();

  // Steps until every partition assigned to this member has been read to
  // the end the log had when the call began (or `timeout` passes:
  // errc::unavailable). Returns the records consumed.
  result<std::int64_t> catch_up(std::chrono::milliseconds timeout);

  // The time-dependent statements (projection::tick) as of `now`, in a
  // transaction of their own.
  status tick(timestamp now);

  const runner_stats& stats() const;

  // Leaves the consumer group. Idempotent.
  void close();

  struct impl;

private:
  explicit runner(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

// Mirrors the plan catalogue into the `plans` table (retention, invoices).
status sync_plans(const std::string& database_url, const plan_catalog& plans);

// Empties a projection's tables and forgets its offsets, in one
// transaction: every runner of it starts again from offset 0.
status reset_projection(const std::string& database_url, const projection& p);

// How far a projection has read each partition of its topics.
struct partition_lag {
  std::string projection;
  storage::topic t = storage::topic::events;
  partition_id partition{0};
  std::optional<log_offset> next;  // none: never read
  log_offset end{0};               // the log's end offset
  std::int64_t lag = 0;            // records (offsets) still to read; 0 when at the end
};
result<std::vector<partition_lag>> projection_status(const std::string& database_url,
                                                     storage::event_log& log);

}  // namespace kw::projections
