// Snapshot store over RocksDB: see rocks_snapshot_store.hpp for guarantees.
// Value = format u8 | events_offset u64 | checks_offset u64 | state (rest).
#include "storage/rocks_snapshot_store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <string_view>

#include "storage/byte_order.hpp"

namespace kw::storage {

namespace {

namespace bo = byte_order;
constexpr std::uint8_t snapshot_format_v1 = 1;  // persisted: never reuse

error storage_error(std::string_view what, const rocksdb::Status& s) {
  return error{errc::storage, std::string(what) + ": " + s.ToString()};
}

std::string prefix(partition_id p) {
  std::string k;
  bo::put_u32(k, static_cast<std::uint32_t>(p.get()));
  return k;
}

std::string encode(const snapshot& s) {
  std::string v;
  v.reserve(17 + s.state.size());
  bo::put_u8(v, snapshot_format_v1);
  bo::put_u64(v, static_cast<std::uint64_t>(s.events_offset.get()));
  bo::put_u64(v, static_cast<std::uint64_t>(s.checks_offset.get()));
  v += s.state;
  return v;
}

result<snapshot> decode(std::string aggregate, std::string_view in) {
  std::uint8_t format = 0;
  std::uint64_t events = 0, checks = 0;
  if (!bo::get_u8(in, format) || format != snapshot_format_v1 || !bo::get_u64(in, events) ||
      !bo::get_u64(in, checks))
    return error{errc::decode, "snapshot of " + aggregate + " does not decode"};
  snapshot s;
  s.aggregate = std::move(aggregate);
  s.events_offset = log_offset{static_cast<std::int64_t>(events)};
  s.checks_offset = log_offset{static_cast<std::int64_t>(checks)};
  s.state.assign(in.data(), in.size());
  return s;
}

status check(partition_id p) {
  if (p.get() < 0) return error{errc::invalid, "negative partition"};
  return ok_status();
}

}  // namespace

rocks_snapshot_store::rocks_snapshot_store(std::string dir) : dir_(std::move(dir)) {}

result<std::unique_ptr<rocks_snapshot_store>> rocks_snapshot_store::open(const std::string& dir) {
  std::unique_ptr<rocks_snapshot_store> store(new rocks_snapshot_store(dir));
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_background_jobs = 2;
  // A share of the process's descriptors, not all of them (the log, the
  // gateway and the prober need theirs): table files beyond it are reopened.
  options.max_open_files = 256;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return storage_error("snapshot dir " + dir, s);
  store->db_.reset(raw);
  return store;
}

result<std::unique_ptr<rocks_snapshot_store>> rocks_snapshot_store::open_read_only(const std::string& dir) {
  std::unique_ptr<rocks_snapshot_store> store(new rocks_snapshot_store(dir));
  rocksdb::Options options;
  options.max_open_files = 256;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::OpenForReadOnly(options, dir, &raw);
  if (!s.ok()) return storage_error("snapshot dir " + dir, s);
  store->db_.reset(raw);
  return store;
}

rocks_snapshot_store::~rocks_snapshot_store() {
  if (db_) db_->Close();
}

status rocks_snapshot_store::save(partition_id p, const snapshot& s) {
  return save_many(p, {s});
}

status rocks_snapshot_store::save_many(partition_id p, const std::vector<snapshot>& snaps) {
  if (auto c = check(p); !c) return c;
  rocksdb::WriteBatch batch;
  for (const auto& s : snaps) batch.Put(prefix(p) + s.aggregate, encode(s));
  auto st = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!st.ok()) return storage_error("saving snapshots", st);
  return ok_status();
}

result<std::optional<snapshot>> rocks_snapshot_store::load(partition_id p,
                                                           const std::string& aggregate) {
  if (auto c = check(p); !c) return c.err();
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions(), prefix(p) + aggregate, &v);
  if (st.IsNotFound()) return std::optional<snapshot>();
  if (!st.ok()) return storage_error("loading snapshot of " + aggregate, st);
  auto s = decode(aggregate, v);
  if (!s) return s.err();
  return std::optional<snapshot>(std::move(s.value()));
}

result<std::vector<snapshot>> rocks_snapshot_store::load_all(partition_id p) {
  if (auto c = check(p); !c) return c.err();
  const std::string pre = prefix(p);
  std::vector<snapshot> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(pre); it->Valid() && it->key().starts_with(pre); it->Next()) {
    std::string aggregate(it->key().data() + pre.size(), it->key().size() - pre.size());
    auto s = decode(std::move(aggregate), std::string_view(it->value().data(), it->value().size()));
    if (!s) return s.err();
    out.push_back(std::move(s.value()));
  }
  if (!it->status().ok()) return storage_error("loading snapshots", it->status());
  return out;
}

}  // namespace kw::storage
