// See notary.hpp.
#include "actors/host/notary.hpp"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "actors/host/node.hpp"
#include "events/codec.hpp"
#include "storage/byte_order.hpp"

namespace kw {
namespace bo = storage::byte_order;

namespace {

// Keys: "o" u32 partition → u64 next offset of the events topic;
//       "s" bytes tenant → u64 tree size, u8 unsigned events since the last head;
//       "n" bytes tenant, u8 level, u64 index → 32-byte subtree hash.
std::string offset_key(int p) {
  std::string k = "o";
  bo::put_u32(k, static_cast<std::uint32_t>(p));
  return k;
}
std::string size_key(const std::string& tenant) {
  std::string k = "s";
  bo::put_bytes(k, tenant);
  return k;
}
std::string node_key(const std::string& tenant, unsigned level, std::uint64_t index) {
  std::string k = "n";
  bo::put_bytes(k, tenant);
  bo::put_u8(k, static_cast<std::uint8_t>(level));
  bo::put_u64(k, index);
  return k;
}

constexpr std::string_view head_type = "\"type\":\"keepwatch.tenant.tree_head_signed.v1\"";

// A tenant's tree as the store holds it, for roots and proofs.
class stored_tree final : public merkle::subtrees {
public:
  stored_tree(rocksdb::DB* db, std::string tenant, std::uint64_t size)
      : db_(db), tenant_(std::move(tenant)), size_(size) {}
  std::uint64_t size() const override { return size_; }
  merkle::hash node(unsigned level, std::uint64_t index) const override {
    std::string v;
    merkle::hash h{};
    auto s = db_->Get(rocksdb::ReadOptions(), node_key(tenant_, level, index), &v);
    if (!s.ok() || v.size() != h.size()) {
      // Cannot happen for a complete subtree below a stored size; a proof
      // built on it will not verify, which is the honest outcome.
      spdlog::error("notary: tenant {}: subtree ({}, {}) unreadable: {}", tenant_, level, index, s.ToString());
      return h;
    }
    std::copy(v.begin(), v.end(), h.begin());
    return h;
  }

private:
  rocksdb::DB* db_;
  std::string tenant_;
  std::uint64_t size_;
};

}  // namespace

struct notary::impl {
  node& n;
  notary_options opt;
  std::unique_ptr<rocksdb::DB> db;

  struct tenant_tree {
    merkle::frontier edge;
    bool unsigned_events = false;
  };
  std::map<std::string, tenant_tree> trees;  // the writer's cache (its thread only)
  std::vector<std::int64_t> next;            // per partition

  std::mutex mu;  // serialises catch-up and signing (the thread and callers)
  std::mutex wake_mu;
  std::condition_variable wake;
  bool stopping = false;
  std::thread thread;
  std::atomic<std::int64_t> heads{0};

  impl(node& node_, notary_options o) : n(node_), opt(std::move(o)) {}

  std::uint64_t stored_size(const std::string& tenant, bool* unsigned_events = nullptr) const {
    std::string v;
    if (!db->Get(rocksdb::ReadOptions(), size_key(tenant), &v).ok()) return 0;
    std::string_view in(v);
    std::uint64_t size = 0;
    std::uint8_t dirty = 0;
    if (!bo::get_u64(in, size) || !bo::get_u8(in, dirty)) return 0;
    if (unsigned_events) *unsigned_events = dirty != 0;
    return size;
  }

  tenant_tree& tree_of(const std::string& tenant) {
    auto it = trees.find(tenant);
    if (it != trees.end()) return it->second;
    tenant_tree t;
    stored_tree st(db.get(), tenant, stored_size(tenant, &t.unsigned_events));
    t.edge = merkle::frontier(st);
    return trees.emplace(tenant, std::move(t)).first->second;
  }

  std::string size_value(const tenant_tree& t) {
    std::string v;
    bo::put_u64(v, t.edge.size());
    bo::put_u8(v, t.unsigned_events ? 1 : 0);
    return v;
  }

  // Reads partition p's new records into the trees, one batch per chunk.
  status catch_up(int p) {
    for (;;) {
      auto recs = n.log().read(storage::topic::events, partition_id{p}, log_offset{next[p]}, 4096);
      if (!recs) return recs.err();
      if (recs->empty()) return ok_status();
      rocksdb::WriteBatch batch;
      std::map<std::string, tenant_tree*> touched;
      for (const auto& r : *recs) {
        auto& t = tree_of(r.key);
        // A head that covers every leaf before it leaves nothing unsigned
        // (so a store rebuilt from the log owes no head); anything else does.
        const std::uint64_t index = t.edge.size();
        bool covers_all = false;
        if (r.value.find(head_type) != std::string::npos)
          if (auto e = decode(r.value); e)
            if (auto* h = std::get_if<tree_head_signed>(&e->data))
              covers_all = static_cast<std::uint64_t>(h->tree_size) >= index;
        t.unsigned_events = !covers_all;
        for (const auto& c : t.edge.append(merkle::leaf_hash(r.value)))
          batch.Put(node_key(r.key, c.level, c.index),
                    rocksdb::Slice(reinterpret_cast<const char*>(c.h.data()), c.h.size()));
        touched[r.key] = &t;
      }
      for (auto& [tenant, t] : touched) batch.Put(size_key(tenant), size_value(*t));
      const std::int64_t after = recs->back().offset.get() + 1;
      std::string off;
      bo::put_u64(off, static_cast<std::uint64_t>(after));
      batch.Put(offset_key(p), off);
      auto s = db->Write(rocksdb::WriteOptions(), &batch);
      if (!s.ok()) {
        trees.clear();  // the cache ran ahead of the store: reload it from there
        return make_error(errc::storage, "notary: writing the trees: " + s.ToString());
      }
      next[p] = after;
    }
  }

  status catch_up_all() {
    for (int p = 0; p < n.partitions(); ++p)
      if (auto st = catch_up(p); !st) return st;
    return ok_status();
  }

  void sign_all() {
    const std::string key_id = opt.signer->key_id();
    for (auto& [tenant, t] : trees) {
      if (!t.unsigned_events) continue;
      const auto size = t.edge.size();
      stored_tree st(db.get(), tenant, size);
      auto root = merkle::root_of(st, size);
      if (!root) continue;
      const timestamp at = now();
      const std::string root_hex = merkle::to_hex(*root);
      tenant::command cmd;
      cmd.meta.command_id = "tree-head:" + std::to_string(size);
      cmd.meta.actor = system_actor();
      cmd.meta.time = at;
      cmd.b = tenant::record_tree_head{static_cast<std::int64_t>(size), root_hex, key_id,
                                       opt.signer->sign(tree_head_message(tenant, size, root_hex, at)), at};
      auto r = n.execute(std::move(cmd), tenant_id{tenant}, std::chrono::seconds(10));
      if (!r && (r.err().code == errc::unavailable || r.err().code == errc::timeout)) {
        spdlog::warn("notary: tenant {}: head at {} events not recorded yet: {}", tenant, size, r.err().message);
        continue;  // the next round tries again
      }
      if (!r) spdlog::warn("notary: tenant {}: head at {} events refused: {}", tenant, size, r.err().message);
      else if (!r->duplicate) heads.fetch_add(1);
      t.unsigned_events = false;
      db->Put(rocksdb::WriteOptions(), size_key(tenant), size_value(t));
    }
  }

  void run() {
    auto next_heads = std::chrono::steady_clock::now() + opt.head_interval;
    std::unique_lock<std::mutex> wl(wake_mu);
    while (!stopping) {
      wl.unlock();
      {
        std::lock_guard<std::mutex> lk(mu);
        if (auto st = catch_up_all(); !st) spdlog::error("{}", st.err().message);
        if (std::chrono::steady_clock::now() >= next_heads) {
          sign_all();
          next_heads = std::chrono::steady_clock::now() + opt.head_interval;
        }
      }
      wl.lock();
      wake.wait_for(wl, opt.poll, [&] { return stopping; });
    }
  }
};

notary::notary(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

notary::~notary() { stop(); }

result<std::unique_ptr<notary>> notary::start(node& n, notary_options o) {
  if (!o.signer) return make_error(errc::invalid, "notary: no signing key");
  auto i = std::make_unique<impl>(n, std::move(o));
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 64;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, i->opt.dir, &raw);
  if (!s.ok()) return make_error(errc::storage, "notary: opening " + i->opt.dir + ": " + s.ToString());
  i->db.reset(raw);
  i->next.assign(static_cast<std::size_t>(n.partitions()), 0);
  for (int p = 0; p < n.partitions(); ++p) {
    std::string v;
    if (i->db->Get(rocksdb::ReadOptions(), offset_key(p), &v).ok()) {
      std::string_view in(v);
      std::uint64_t off = 0;
      if (bo::get_u64(in, off)) i->next[p] = static_cast<std::int64_t>(off);
    }
  }
  // Tenants left with unsigned events by the last run get their head too.
  std::unique_ptr<rocksdb::Iterator> it(i->db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("s"); it->Valid() && it->key().starts_with("s"); it->Next()) {
    std::string_view k(it->key().data() + 1, it->key().size() - 1);
    std::string tenant;
    if (bo::get_bytes(k, tenant)) i->tree_of(tenant);
  }
  it.reset();
  auto* self = i.get();
  i->thread = std::thread([self] { self->run(); });
  return std::unique_ptr<notary>(new notary(std::move(i)));
}

void notary::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  {
    std::lock_guard<std::mutex> lk(impl_->wake_mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->thread.join();
}

status notary::catch_up_and_sign() {
  std::lock_guard<std::mutex> lk(impl_->mu);
  if (auto st = impl_->catch_up_all(); !st) return st;
  impl_->sign_all();
  return ok_status();
}

std::uint64_t notary::size(const std::string& tenant) const { return impl_->stored_size(tenant); }

result<merkle::hash> notary::root(const std::string& tenant, std::uint64_t tree_size) const {
  stored_tree st(impl_->db.get(), tenant, impl_->stored_size(tenant));
  return merkle::root_of(st, tree_size);
}

result<std::vector<merkle::hash>> notary::inclusion_proof(const std::string& tenant, std::uint64_t index,
                                                          std::uint64_t tree_size) const {
  stored_tree st(impl_->db.get(), tenant, impl_->stored_size(tenant));
  return merkle::inclusion_proof(st, index, tree_size);
}

result<std::vector<merkle::hash>> notary::consistency_proof(const std::string& tenant, std::uint64_t old_size,
                                                            std::uint64_t new_size) const {
  stored_tree st(impl_->db.get(), tenant, impl_->stored_size(tenant));
  return merkle::consistency_proof(st, old_size, new_size);
}

const tree_head_signer& notary::signer() const { return *impl_->opt.signer; }

std::int64_t notary::heads_issued() const { return impl_->heads.load(); }

}  // namespace kw
