// The offsets the projections of this process have committed, announced as
// each batch commits, so that a reader in the same process (the gateway's
// read-your-writes, `?wait_for=`) can wait for one on a condition variable
// instead of polling PostgreSQL.
//
// One board per database (keyed by its URL as configured): two nodes in one
// process on two databases — as tests run them — never see each other's
// offsets. What a board holds is a hint that only ever lags PostgreSQL:
//  - the runner sets an offset after its transaction has committed, so a
//    board never says more than PostgreSQL holds, except
//  - after a rebuild moved PostgreSQL's offsets back: the runner sets the
//    value it re-reads (set, not max), and a reader that must be exact asks
//    PostgreSQL itself.
// Thread-safe; boards live as long as the process (one small map each).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "events/ids.hpp"
#include "storage/event_log.hpp"

namespace kw::projections {

class offsets_reached {
public:
  using clock = std::chrono::steady_clock;

  // The board of the database at `database_url`.
  static offsets_reached& of(const std::string& database_url);

  // `projection` has committed (t, p) up to `next_offset` (the next record
  // it will read). Wakes every waiter.
  void set(const std::string& projection, storage::topic t, partition_id p, std::int64_t next_offset);

  // What the board holds for (projection, t, p); -1 when nothing yet.
  std::int64_t next_offset(const std::string& projection, storage::topic t, partition_id p) const;

  // Blocks until `projection` has committed the record at `offset` of
  // (t, p) — its next offset is past it — or until `deadline`. True when it
  // has.
  bool wait_past(const std::string& projection, storage::topic t, partition_id p, std::int64_t offset,
                 clock::time_point deadline) const;

private:
  using key = std::tuple<std::string, int, int>;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<key, std::int64_t> next_;
};

}  // namespace kw::projections
