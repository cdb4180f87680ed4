// RocksLog: the embedded event log, one RocksDB directory per node.
//
// Guarantees (on top of the event_log contract):
//  - Durability: an append is acknowledged only after the WriteBatch holding
//    it was written with a synced WAL (WriteOptions.sync), so an acknowledged
//    record survives kill -9 and power loss.
//  - Atomicity: one append = records of one partition across any topics plus
//    the chain heads they move, all in one WriteBatch: after a crash either
//    all of it is there or none. Chain heads and records never disagree.
//  - Ordering: a single writer thread assigns offsets; offsets are dense per
//    (topic, partition) from 0, in the order appends were queued.
//  - Group commit: the writer drains every queued append into one batch and
//    one fsync. An append whose sealing fails fails alone; if the batch write
//    fails, every append of the group fails with errc::storage and offsets
//    and chain heads stay as they were.
//  - Callbacks run on the writer thread, in queue order, after the write; they
//    must not block (never call append_sync from one). Appends after close()
//    fail at once, on the caller's thread, with errc::unavailable.
//
// Layout (column families): "log" key = topic u8 | partition u32 | offset u64
// (big-endian), value = framed key, headers and value; "offsets" consumer
// group offsets; "chains" key = partition u32 | chain key, value = head hash;
// "meta" the partition count, fixed at creation.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "storage/event_log.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace kw::storage {

class rocks_log final : public event_log {
public:
  // Opens (creating if missing) the log in `dir`. A log keeps the partition
  // count it was created with: opening with another count is an error.
  // `sealer` may be null: chained records are then stored as given and no
  // chain head moves.
  static result<std::unique_ptr<rocks_log>> open(const std::string& dir, int partitions,
                                                 std::shared_ptr<chain_sealer> sealer);

  // Opens an existing log for reading only, beside the process that writes
  // it (RocksDB's read-only mode takes no lock): reads, end offsets and
  // committed offsets as of the moment it opened. append fails with
  // errc::unavailable, commit_offset with errc::storage. For tools such as `projections status`.
  static result<std::unique_ptr<rocks_log>> open_read_only(const std::string& dir, int partitions);

  ~rocks_log() override;
  rocks_log(const rocks_log&) = delete;
  rocks_log& operator=(const rocks_log&) = delete;

  // Drains the queue (every queued append gets its callback), stops the
  // writer and closes the database. Idempotent. Not from a callback. After
  // it, every call fails with errc::unavailable.
  void close();

  int partitions() const noexcept override { return partitions_; }
  void append(partition_id p, std::vector<record> records, append_callback done) override;
  result<std::vector<stored_record>> read(topic t, partition_id p, log_offset from,
                                          std::size_t max) override;
  result<log_offset> end_offset(topic t, partition_id p) override;
  result<std::string> chain_head(partition_id p, const std::string& key) override;
  status commit_offset(const std::string& group, topic t, partition_id p,
                       log_offset next) override;
  result<std::optional<log_offset>> committed_offset(const std::string& group, topic t,
                                                     partition_id p) override;

  // Test hook: while set, every batch write fails with errc::storage without
  // writing anything.
  void inject_failure(bool fail) noexcept { inject_failure_.store(fail); }

private:
  struct pending {
    partition_id p;
    std::vector<record> records;
    append_callback done;
  };
  using chain_key = std::pair<std::int32_t, std::string>;  // (partition, key)

  rocks_log(std::string dir, int partitions, std::shared_ptr<chain_sealer> sealer);
  void run_writer();
  void commit_group(std::deque<pending>& group);
  result<std::string> load_head(const chain_key& k);  // writer thread only
  std::size_t slot(topic t, partition_id p) const noexcept;
  status check(topic t, partition_id p) const;

  std::string dir_;
  int partitions_;
  std::shared_ptr<chain_sealer> sealer_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;  // default, log, offsets, chains, meta

  // Next offset per (topic, partition) as committed: written by the writer
  // after a successful batch, read by anyone.
  std::unique_ptr<std::atomic<std::int64_t>[]> next_;
  // Committed chain heads cached by the writer (the "chains" column family
  // is the truth). Writer thread only.
  std::map<chain_key, std::string> heads_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<pending> queue_;
  static result<std::unique_ptr<rocks_log>> open_impl(const std::string& dir, int partitions,
                                                      std::shared_ptr<chain_sealer> sealer, bool read_only);

  bool stopping_ = false;
  bool read_only_ = false;
  std::thread writer_;
  std::atomic<bool> inject_failure_{false};
};

}  // namespace kw::storage
