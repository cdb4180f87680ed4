// The notary against a real node on the embedded log: the heads it records
// in a tenant's chain sign the RFC 9162 root of the events before them (as an
// in-memory tree over the log's records computes it), verify with the
// exported public key, and come with inclusion and consistency proofs that
// the RFC's verification accepts; it resumes after a restart without
// counting a record twice, rebuilds the same trees from the log when its
// store is deleted, issues no head when only heads were added, and signs on
// its own at the configured interval.
#include "actors/host/notary.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "actors/host/node.hpp"
#include "actors/host/node_fixture.hpp"
#include "events/codec.hpp"
#include "storage/partitioner.hpp"

namespace kw {
namespace {

using namespace kw::test;

struct leaf {
  std::string value;
  event e;
};

// The tenant's chained records, read from the log as an auditor would.
std::vector<leaf> history(node& n, const std::string& tenant) {
  std::vector<leaf> out;
  auto p = storage::partition_for(tenant_id{tenant}, n.partitions());
  for (std::int64_t at = 0;;) {
    auto recs = n.log().read(storage::topic::events, p, log_offset{at}, 1024);
    if (!recs || recs->empty()) break;
    for (auto& r : *recs)
      if (r.key == tenant) out.push_back({r.value, *decode(r.value)});
    at = recs->back().offset.get() + 1;
  }
  return out;
}

std::vector<std::pair<std::size_t, tree_head_signed>> heads_in(const std::vector<leaf>& h) {
  std::vector<std::pair<std::size_t, tree_head_signed>> out;
  for (std::size_t i = 0; i < h.size(); ++i)
    if (auto* th = std::get_if<tree_head_signed>(&h[i].e.data)) out.emplace_back(i, *th);
  return out;
}

class Notary : public ::testing::Test {
protected:
  temp_dir dir;
  std::unique_ptr<node> n;
  std::shared_ptr<const tree_head_signer> signer;

  void SetUp() override {
    auto started = node::start(options(dir.path.string()));
    ASSERT_TRUE(started) << started.err().message;
    n = std::move(*started);
    auto s = tree_head_signer::open_or_create((dir.path / "audit-signing.key").string());
    ASSERT_TRUE(s);
    signer = *s;
  }

  std::unique_ptr<notary> start_notary(std::chrono::milliseconds interval = std::chrono::hours(1)) {
    notary_options o;
    o.dir = (dir.path / "merkle").string();
    o.signer = signer;
    o.head_interval = interval;
    o.poll = std::chrono::milliseconds(50);
    auto started = notary::start(*n, o);
    EXPECT_TRUE(started) << started.err().message;
    return started ? std::move(*started) : nullptr;
  }

  void write(const std::string& tenant, int monitors) {
    auto st = n->tenant_state(tenant_id{tenant});
    if (!st || !st->exists)
      ASSERT_TRUE(n->execute(tcmd(tenant::create_tenant{"T " + tenant, "big", "o-" + tenant, "o@" + tenant + ".example"}),
                             tenant_id{tenant}));
    for (int i = 0; i < monitors; ++i)
      ASSERT_TRUE(n->execute(tcmd(tenant::create_monitor{new_id(), http_config("http://example.com/")}),
                             tenant_id{tenant}));
  }

  // Every head recorded in the tenant's chain signs the root of the records
  // before it, and verifies with the public key.
  void expect_heads_honest(const std::string& tenant) {
    auto h = history(*n, tenant);
    merkle::tree t;
    for (auto& l : h) t.append_leaf(l.value);
    for (auto& [at, head] : heads_in(h)) {
      EXPECT_LE(static_cast<std::size_t>(head.tree_size), at);
      EXPECT_EQ(merkle::to_hex(*t.root(head.tree_size)), head.root) << "head at leaf " << at;
      EXPECT_EQ(head.key_id, signer->key_id());
      EXPECT_TRUE(verify_tree_head_signature(
          signer->public_key_hex(), tree_head_message(tenant, head.tree_size, head.root, head.signed_at),
          head.signature));
    }
  }
};

TEST_F(Notary, RecordsSignedHeadsWithProofsThatVerify) {
  write("acme", 3);
  write("globex", 1);
  auto nt = start_notary();
  ASSERT_TRUE(nt->catch_up_and_sign());
  EXPECT_EQ(nt->heads_issued(), 2);
  write("acme", 2);
  ASSERT_TRUE(nt->catch_up_and_sign());
  EXPECT_EQ(nt->heads_issued(), 3);

  auto h = history(*n, "acme");
  auto heads = heads_in(h);
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0].second.tree_size, 4);  // created + 3 monitors
  EXPECT_EQ(heads[1].second.tree_size, 7);  // + the first head + 2 monitors
  expect_heads_honest("acme");
  expect_heads_honest("globex");

  // Proofs from the notary's store, checked with the RFC's algorithms.
  auto root1 = *merkle::from_hex(heads[0].second.root);
  auto root2 = *merkle::from_hex(heads[1].second.root);
  ASSERT_GE(nt->size("acme"), 7u);
  for (std::uint64_t i = 0; i < 7; ++i) {
    auto p = nt->inclusion_proof("acme", i, 7);
    ASSERT_TRUE(p);
    EXPECT_TRUE(merkle::verify_inclusion(merkle::leaf_hash(h[i].value), i, 7, *p, root2)) << i;
  }
  auto c = nt->consistency_proof("acme", 4, 7);
  ASSERT_TRUE(c);
  EXPECT_TRUE(merkle::verify_consistency(4, 7, root1, root2, *c));
  EXPECT_FALSE(nt->inclusion_proof("acme", 7, 7));
  EXPECT_FALSE(nt->inclusion_proof("acme", 0, nt->size("acme") + 1));
  EXPECT_EQ(nt->size("nobody"), 0u);
}

TEST_F(Notary, OnlyHeadsAddedMeansNoNewHead) {
  write("acme", 1);
  auto nt = start_notary();
  ASSERT_TRUE(nt->catch_up_and_sign());
  ASSERT_TRUE(nt->catch_up_and_sign());
  ASSERT_TRUE(nt->catch_up_and_sign());
  EXPECT_EQ(nt->heads_issued(), 1);
  EXPECT_EQ(heads_in(history(*n, "acme")).size(), 1u);
}

TEST_F(Notary, ResumesAfterARestartAndRebuildsTheSameTreesFromTheLog) {
  write("acme", 2);
  auto nt = start_notary();
  ASSERT_TRUE(nt->catch_up_and_sign());
  nt.reset();  // stopped
  write("acme", 3);
  write("globex", 2);
  nt = start_notary();
  ASSERT_TRUE(nt->catch_up_and_sign());
  const auto acme_events = history(*n, "acme").size();
  // The head just recorded is the last leaf; the notary has read up to it.
  EXPECT_EQ(heads_in(history(*n, "acme")).back().second.tree_size, static_cast<std::int64_t>(acme_events - 1));
  expect_heads_honest("acme");
  expect_heads_honest("globex");
  ASSERT_TRUE(nt->catch_up_and_sign());
  const auto root_before = *nt->root("acme", acme_events);
  EXPECT_EQ(nt->size("acme"), acme_events);
  nt.reset();

  // The store is derived: deleted, it is rebuilt from offset 0.
  std::filesystem::remove_all(dir.path / "merkle");
  nt = start_notary();
  ASSERT_TRUE(nt->catch_up_and_sign());
  EXPECT_EQ(nt->size("acme"), acme_events);
  EXPECT_EQ(*nt->root("acme", acme_events), root_before);
  EXPECT_EQ(nt->heads_issued(), 0) << "nothing new to vouch for after the rebuild";
}

TEST_F(Notary, SignsOnItsOwnAtTheInterval) {
  auto nt = start_notary(std::chrono::milliseconds(200));
  write("acme", 1);
  EXPECT_TRUE(eventually([&] { return heads_in(history(*n, "acme")).size() == 1; }, 10));
  write("acme", 1);
  EXPECT_TRUE(eventually([&] { return heads_in(history(*n, "acme")).size() == 2; }, 10));
  expect_heads_honest("acme");
}

}  // namespace
}  // namespace kw
