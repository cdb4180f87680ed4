// The snapshot store over its own RocksDB directory (separate from the log,
// because Kafka mode has snapshots but no RocksLog).
//
// Guarantees: a save replaces the aggregate's previous snapshot atomically;
// `save_many` replaces all of its snapshots in one WriteBatch (all or none).
// Writes are not fsynced: they survive a process crash (the WAL is in the OS
// at once) but a power loss may lose the latest ones, which costs a longer
// replay and never correctness (see snapshot_store.hpp).
// Key = partition u32 (big-endian) | aggregate, so one partition's snapshots
// are one contiguous range for `load_all`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/snapshot_store.hpp"

namespace rocksdb {
class DB;
}

namespace kw::storage {

class rocks_snapshot_store final : public snapshot_store {
public:
  static result<std::unique_ptr<rocks_snapshot_store>> open(const std::string& dir);
  // Reads the store as it is now, beside a node that keeps writing it (tools:
  // `keepwatch audit verify`). Saves fail.
  static result<std::unique_ptr<rocks_snapshot_store>> open_read_only(const std::string& dir);
  ~rocks_snapshot_store() override;

  status save(partition_id p, const snapshot& s) override;
  result<std::optional<snapshot>> load(partition_id p, const std::string& aggregate) override;

  // Saves every snapshot of `snaps` in one atomic batch.
  status save_many(partition_id p, const std::vector<snapshot>& snaps);
  // Every snapshot of partition `p`, ordered by aggregate.
  result<std::vector<snapshot>> load_all(partition_id p);

private:
  explicit rocks_snapshot_store(std::string dir);
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace kw::storage
