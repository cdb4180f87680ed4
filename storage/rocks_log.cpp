// RocksLog implementation: see rocks_log.hpp for the guarantees.
//
// Invariants the code below keeps:
//  - Only the writer thread assigns offsets, seals, and writes the "log" and
//    "chains" column families; so offsets and chain heads need no lock.
//  - `next_` and `heads_` change only after a batch write succeeded; a group
//    works on overlays that are dropped if the write fails, which is the
//    rollback. An append whose sealing fails drops its own overlay only.
//  - RocksDB inserts into the memtable after the WAL is synced, so a record is
//    readable only once durable; reads are also capped at `next_`, so a
//    reader never sees a record before `end_offset` counts it.
#include "storage/rocks_log.hpp"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

#include <exception>
#include <limits>
#include <string_view>

#include "storage/byte_order.hpp"

namespace kw::storage {

namespace {

namespace bo = byte_order;

enum cf_index : std::size_t { cf_default = 0, cf_log, cf_offsets, cf_chains, cf_meta, cf_count };
constexpr const char* cf_names[cf_count] = {"default", "log", "offsets", "chains", "meta"};
constexpr std::uint8_t record_format_v1 = 1;  // persisted: never reuse
constexpr const char* meta_partitions_key = "partitions";
// Bounds one batch so that a flood of appends cannot build an unbounded one.
constexpr std::size_t max_group_appends = 4096;

error storage_error(std::string_view what, const rocksdb::Status& s) {
  return error{errc::storage, std::string(what) + ": " + s.ToString()};
}

std::string log_prefix(topic t, partition_id p) {
  std::string k;
  k.reserve(13);
  bo::put_u8(k, static_cast<std::uint8_t>(t));
  bo::put_u32(k, static_cast<std::uint32_t>(p.get()));
  return k;
}

std::string log_key(topic t, partition_id p, std::int64_t offset) {
  std::string k = log_prefix(t, p);
  bo::put_u64(k, static_cast<std::uint64_t>(offset));
  return k;
}

std::string chain_db_key(std::int32_t p, const std::string& key) {
  std::string k;
  bo::put_u32(k, static_cast<std::uint32_t>(p));
  k += key;
  return k;
}

std::string offset_key(const std::string& group, topic t, partition_id p) {
  std::string k;
  bo::put_bytes(k, group);
  bo::put_u8(k, static_cast<std::uint8_t>(t));
  bo::put_u32(k, static_cast<std::uint32_t>(p.get()));
  return k;
}

std::string encode_record(const std::string& key, const std::vector<header>& headers,
                          const std::string& value) {
  std::string out;
  out.reserve(1 + 4 + key.size() + 4 + 4 + value.size() + headers.size() * 32);
  bo::put_u8(out, record_format_v1);
  bo::put_bytes(out, key);
  bo::put_u32(out, static_cast<std::uint32_t>(headers.size()));
  for (const auto& h : headers) {
    bo::put_bytes(out, h.name);
    bo::put_bytes(out, h.value);
  }
  bo::put_bytes(out, value);
  return out;
}

bool decode_record(std::string_view in, stored_record& r) {
  std::uint8_t format = 0;
  std::uint32_t n = 0;
  if (!bo::get_u8(in, format) || format != record_format_v1) return false;
  if (!bo::get_bytes(in, r.key) || !bo::get_u32(in, n)) return false;
  if (n > in.size() / 8) return false;  // each header takes at least 8 bytes
  r.headers.resize(n);
  for (auto& h : r.headers)
    if (!bo::get_bytes(in, h.name) || !bo::get_bytes(in, h.value)) return false;
  return bo::get_bytes(in, r.value) && in.empty();
}

}  // namespace

rocks_log::rocks_log(std::string dir, int partitions, std::shared_ptr<chain_sealer> sealer)
    : dir_(std::move(dir)), partitions_(partitions), sealer_(std::move(sealer)) {}

result<std::unique_ptr<rocks_log>> rocks_log::open_read_only(const std::string& dir, int partitions) {
  return open_impl(dir, partitions, nullptr, true);
}

result<std::unique_ptr<rocks_log>> rocks_log::open(const std::string& dir, int partitions,
                                                   std::shared_ptr<chain_sealer> sealer) {
  return open_impl(dir, partitions, std::move(sealer), false);
}

result<std::unique_ptr<rocks_log>> rocks_log::open_impl(const std::string& dir, int partitions,
                                                        std::shared_ptr<chain_sealer> sealer,
                                                        bool read_only) {
  if (partitions <= 0)
    return error{errc::invalid, "data dir " + dir + ": partition count must be positive, got " +
                                    std::to_string(partitions)};
  std::unique_ptr<rocks_log> log(new rocks_log(dir, partitions, std::move(sealer)));

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // A bounded share of the process's descriptors (the gateway and the
  // prober's connections need theirs): RocksDB's default keeps every table
  // file open forever. Beyond it, table files are reopened through its cache.
  db_options.max_open_files = 1024;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : cf_names) {
    rocksdb::ColumnFamilyOptions cf_options;
    // Appends to one (topic, partition) arrive in key order: a per-prefix
    // insert hint makes each memtable insert start where the last one ended.
    if (std::string_view(name) == "log")
      cf_options.memtable_insert_with_hint_prefix_extractor.reset(
          rocksdb::NewFixedPrefixTransform(5));
    descriptors.emplace_back(name, cf_options);
  }
  rocksdb::DB* raw = nullptr;
  log->read_only_ = read_only;
  auto s = read_only ? rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &log->cfs_, &raw)
                     : rocksdb::DB::Open(db_options, dir, descriptors, &log->cfs_, &raw);
  if (!s.ok()) return storage_error("data dir " + dir, s);
  log->db_.reset(raw);

  // The partition count is part of the data: keys are partitioned by it.
  std::string stored;
  s = log->db_->Get(rocksdb::ReadOptions(), log->cfs_[cf_meta], meta_partitions_key, &stored);
  if (s.IsNotFound() && read_only) {
    return error{errc::not_found, "data dir " + dir + " holds no log"};
  } else if (s.IsNotFound()) {
    std::string v;
    bo::put_u32(v, static_cast<std::uint32_t>(partitions));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = log->db_->Put(wo, log->cfs_[cf_meta], meta_partitions_key, v);
    if (!s.ok()) return storage_error("data dir " + dir + ": writing meta", s);
  } else if (!s.ok()) {
    return storage_error("data dir " + dir + ": reading meta", s);
  } else {
    std::string_view in(stored);
    std::uint32_t n = 0;
    if (!bo::get_u32(in, n))
      return error{errc::decode, "data dir " + dir + ": corrupt partition count in meta"};
    if (static_cast<int>(n) != partitions)
      return error{errc::invalid, "data dir " + dir + " holds a log of " + std::to_string(n) +
                                      " partitions; cannot open it with " +
                                      std::to_string(partitions)};
  }

  // Next offsets: one past the last key of each (topic, partition).
  const std::size_t slots = 3 * static_cast<std::size_t>(partitions);
  log->next_.reset(new std::atomic<std::int64_t>[slots]);
  std::unique_ptr<rocksdb::Iterator> it(
      log->db_->NewIterator(rocksdb::ReadOptions(), log->cfs_[cf_log]));
  for (topic t : {topic::events, topic::checks, topic::deadletter}) {
    for (int i = 0; i < partitions; ++i) {
      partition_id p{i};
      const std::string prefix = log_prefix(t, p);
      it->SeekForPrev(log_key(t, p, std::numeric_limits<std::int64_t>::max()));
      std::int64_t next = 0;
      if (it->Valid() && it->key().starts_with(prefix)) {
        std::string_view k(it->key().data(), it->key().size());
        k.remove_prefix(prefix.size());
        std::uint64_t last = 0;
        if (!bo::get_u64(k, last))
          return error{errc::decode, "data dir " + dir + ": corrupt log key"};
        next = static_cast<std::int64_t>(last) + 1;
      }
      log->next_[log->slot(t, p)].store(next);
    }
  }
  if (!it->status().ok()) return storage_error("data dir " + dir + ": scanning log", it->status());
  it.reset();

  if (!read_only) log->writer_ = std::thread([l = log.get()] { l->run_writer(); });
  return log;
}

rocks_log::~rocks_log() { close(); }

void rocks_log::close() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (db_) {
    for (auto* h : cfs_) db_->DestroyColumnFamilyHandle(h);
    cfs_.clear();
    db_->Close();
    db_.reset();
  }
}

std::size_t rocks_log::slot(topic t, partition_id p) const noexcept {
  return (static_cast<std::size_t>(t) - 1) * static_cast<std::size_t>(partitions_) +
         static_cast<std::size_t>(p.get());
}

status rocks_log::check(topic t, partition_id p) const {
  if (!db_) return error{errc::unavailable, "log " + dir_ + " is closed"};
  if (!valid_topic(t))
    return error{errc::invalid, "unknown topic " + std::to_string(static_cast<int>(t))};
  if (p.get() < 0 || p.get() >= partitions_)
    return error{errc::invalid, "partition " + std::to_string(p.get()) + " out of range [0, " +
                                    std::to_string(partitions_) + ")"};
  return ok_status();
}

void rocks_log::append(partition_id p, std::vector<record> records, append_callback done) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!stopping_ && !read_only_) {
      queue_.push_back(pending{p, std::move(records), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(error{errc::unavailable, "log " + dir_ + (read_only_ ? " is open read-only" : " is closed")});
}

void rocks_log::run_writer() {
  std::deque<pending> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued was answered
      if (queue_.size() <= max_group_appends) {
        group.swap(queue_);
      } else {
        for (std::size_t i = 0; i < max_group_appends; ++i) {
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
    }
    commit_group(group);
    group.clear();
  }
}

result<std::string> rocks_log::load_head(const chain_key& k) {
  auto it = heads_.find(k);
  if (it != heads_.end()) return it->second;
  std::string v;
  auto s = db_->Get(rocksdb::ReadOptions(), cfs_[cf_chains], chain_db_key(k.first, k.second), &v);
  if (s.IsNotFound()) v.clear();
  else if (!s.ok()) return storage_error("reading chain head", s);
  heads_.emplace(k, v);
  return v;
}

void rocks_log::commit_group(std::deque<pending>& group) {
  rocksdb::WriteBatch batch;
  std::map<std::size_t, std::int64_t> group_next;       // slot -> next offset
  std::map<chain_key, std::string> group_heads;         // chain -> head
  std::vector<std::optional<result<append_ack>>> outcomes(group.size());
  bool any_write = false;

  for (std::size_t i = 0; i < group.size(); ++i) {
    pending& a = group[i];
    // This append's own overlays: merged into the group's only if all of its
    // records are accepted, so a failed seal leaves no trace.
    std::map<std::size_t, std::int64_t> local_next;
    std::map<chain_key, std::string> local_heads;
    std::vector<std::pair<std::string, std::string>> puts;
    append_ack ack;
    std::optional<error> failed;

    for (auto& rec : a.records) {
      if (auto c = check(rec.t, a.p); !c) { failed = c.err(); break; }
      const std::size_t s = slot(rec.t, a.p);
      std::int64_t off;
      if (auto l = local_next.find(s); l != local_next.end()) off = l->second;
      else if (auto g = group_next.find(s); g != group_next.end()) off = g->second;
      else off = next_[s].load(std::memory_order_acquire);
      local_next[s] = off + 1;

      std::string value = std::move(rec.value);
      if (rec.chained && sealer_) {
        chain_key k{a.p.get(), rec.key};
        std::string prev;
        if (auto l = local_heads.find(k); l != local_heads.end()) prev = l->second;
        else if (auto g = group_heads.find(k); g != group_heads.end()) prev = g->second;
        else {
          auto h = load_head(k);
          if (!h) { failed = h.err(); break; }
          prev = std::move(h.value());
        }
        result<std::string> sealed = error{errc::internal, "sealer did not run"};
        try {
          sealed = sealer_->seal(prev, value);
        } catch (const std::exception& e) {
          sealed = error{errc::internal, std::string("chain sealer threw: ") + e.what()};
        } catch (...) {
          sealed = error{errc::internal, "chain sealer threw"};
        }
        if (!sealed) { failed = sealed.err(); break; }
        local_heads[k] = std::move(sealed.value());
      }
      puts.emplace_back(log_key(rec.t, a.p, off), encode_record(rec.key, rec.headers, value));
      ack.offsets.emplace_back(off);
      ack.values.push_back(std::move(value));
    }

    if (failed) {
      outcomes[i] = std::move(*failed);
      continue;
    }
    for (auto& [s, n] : local_next) group_next[s] = n;
    for (auto& [k, h] : local_heads) group_heads[k] = std::move(h);
    for (auto& [k, v] : puts) batch.Put(cfs_[cf_log], k, v);
    any_write = any_write || !puts.empty();
    outcomes[i] = std::move(ack);
  }

  if (any_write) {
    for (auto& [k, h] : group_heads) batch.Put(cfs_[cf_chains], chain_db_key(k.first, k.second), h);
    rocksdb::Status s;
    if (inject_failure_.load()) {
      s = rocksdb::Status::IOError("injected failure");
    } else {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      s = db_->Write(wo, &batch);
    }
    if (s.ok()) {
      for (auto& [slot_, n] : group_next) next_[slot_].store(n, std::memory_order_release);
      for (auto& [k, h] : group_heads) heads_[k] = std::move(h);
    } else {
      // Overlays are dropped: offsets and heads stay as they were.
      const error e = storage_error("log " + dir_ + ": write", s);
      for (auto& o : outcomes)
        if (o->ok()) o = e;
    }
  }

  for (std::size_t i = 0; i < group.size(); ++i) {
    try {
      group[i].done(std::move(*outcomes[i]));
    } catch (...) {
      // A callback must not throw; the writer must outlive a faulty one.
    }
  }
}

result<std::vector<stored_record>> rocks_log::read(topic t, partition_id p, log_offset from,
                                                   std::size_t max) {
  if (auto c = check(t, p); !c) return c.err();
  if (from.get() < 0) return error{errc::invalid, "negative offset"};
  std::vector<stored_record> out;
  const std::int64_t end = next_[slot(t, p)].load(std::memory_order_acquire);
  if (from.get() >= end || max == 0) return out;

  out.reserve(static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(std::min<std::size_t>(max, 1u << 16)), end - from.get())));
  const std::string upper = log_key(t, p, end);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  if (max >= 1024) {
    // A scan (recovery, a projection catching up, an audit): read ahead in
    // large reads, and leave the block cache to the recent blocks that
    // tailing readers come back to.
    ro.readahead_size = 4u << 20;
    ro.fill_cache = false;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cfs_[cf_log]));
  std::int64_t expect = from.get();
  for (it->Seek(log_key(t, p, from.get())); it->Valid() && out.size() < max; it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    k.remove_prefix(5);
    std::uint64_t off = 0;
    if (!bo::get_u64(k, off) || static_cast<std::int64_t>(off) != expect)
      return error{errc::storage, std::string(topic_name(t)) + "/" + std::to_string(p.get()) +
                                      ": offset " + std::to_string(expect) + " missing"};
    stored_record r;
    r.t = t;
    r.offset = log_offset{expect};
    if (!decode_record(std::string_view(it->value().data(), it->value().size()), r))
      return error{errc::decode, std::string(topic_name(t)) + "/" + std::to_string(p.get()) +
                                     ": record at offset " + std::to_string(expect) +
                                     " does not decode"};
    out.push_back(std::move(r));
    ++expect;
  }
  if (!it->status().ok()) return storage_error("reading log", it->status());
  if (out.size() < max && expect < end)
    return error{errc::storage, std::string(topic_name(t)) + "/" + std::to_string(p.get()) +
                                    ": offset " + std::to_string(expect) + " missing"};
  return out;
}

result<log_offset> rocks_log::end_offset(topic t, partition_id p) {
  if (auto c = check(t, p); !c) return c.err();
  return log_offset{next_[slot(t, p)].load(std::memory_order_acquire)};
}

result<std::string> rocks_log::chain_head(partition_id p, const std::string& key) {
  if (auto c = check(topic::events, p); !c) return c.err();
  std::string v;
  auto s = db_->Get(rocksdb::ReadOptions(), cfs_[cf_chains], chain_db_key(p.get(), key), &v);
  if (s.IsNotFound()) return std::string();
  if (!s.ok()) return storage_error("reading chain head", s);
  return v;
}

// Consumer offsets are written without fsync: the WAL reaches the OS at once,
// so they survive a process crash; after a power loss a group may re-read a
// little, which at-least-once consumers already tolerate.
status rocks_log::commit_offset(const std::string& group, topic t, partition_id p,
                                log_offset next) {
  if (auto c = check(t, p); !c) return c.err();
  if (next.get() < 0) return error{errc::invalid, "negative offset"};
  std::string v;
  bo::put_u64(v, static_cast<std::uint64_t>(next.get()));
  auto s = db_->Put(rocksdb::WriteOptions(), cfs_[cf_offsets], offset_key(group, t, p), v);
  if (!s.ok()) return storage_error("committing offset", s);
  return ok_status();
}

result<std::optional<log_offset>> rocks_log::committed_offset(const std::string& group, topic t,
                                                              partition_id p) {
  if (auto c = check(t, p); !c) return c.err();
  std::string v;
  auto s = db_->Get(rocksdb::ReadOptions(), cfs_[cf_offsets], offset_key(group, t, p), &v);
  if (s.IsNotFound()) return std::optional<log_offset>();
  if (!s.ok()) return storage_error("reading committed offset", s);
  std::string_view in(v);
  std::uint64_t n = 0;
  if (!bo::get_u64(in, n)) return error{errc::decode, "corrupt committed offset"};
  return std::optional<log_offset>(log_offset{static_cast<std::int64_t>(n)});
}

}  // namespace kw::storage
