// The verifiable history's Merkle tree against RFC 9162 section 2.1, checked
// with a second implementation written here straight from the RFC's
// recursive definitions (MTH, PATH, PROOF), independent of the tree's stored
// subtrees, and the RFC's verification algorithms against tampered proofs.
#include "events/merkle.hpp"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <map>
#include <string>
#include <vector>

namespace kw::merkle {
namespace {

// --- The RFC's definitions, literally ------------------------------------

hash sha(const std::string& bytes) {
  hash h{};
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), h.data());
  return h;
}
std::string raw(const hash& h) { return std::string(reinterpret_cast<const char*>(h.data()), h.size()); }

std::uint64_t k_for(std::uint64_t n) {  // largest power of two < n
  std::uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

using leaves = std::vector<std::string>;
leaves slice(const leaves& d, std::uint64_t from, std::uint64_t to) { return {d.begin() + from, d.begin() + to}; }

hash mth(const leaves& d) {
  if (d.empty()) return sha("");
  if (d.size() == 1) return sha(std::string(1, '\0') + d[0]);
  auto k = k_for(d.size());
  return sha(std::string(1, '\1') + raw(mth(slice(d, 0, k))) + raw(mth(slice(d, k, d.size()))));
}

std::vector<hash> rfc_path(std::uint64_t m, const leaves& d) {
  if (d.size() <= 1) return {};
  auto k = k_for(d.size());
  std::vector<hash> out;
  if (m < k) {
    out = rfc_path(m, slice(d, 0, k));
    out.push_back(mth(slice(d, k, d.size())));
  } else {
    out = rfc_path(m - k, slice(d, k, d.size()));
    out.push_back(mth(slice(d, 0, k)));
  }
  return out;
}

std::vector<hash> rfc_subproof(std::uint64_t m, const leaves& d, bool b) {
  if (m == d.size()) return b ? std::vector<hash>{} : std::vector<hash>{mth(d)};
  auto k = k_for(d.size());
  std::vector<hash> out;
  if (m <= k) {
    out = rfc_subproof(m, slice(d, 0, k), b);
    out.push_back(mth(slice(d, k, d.size())));
  } else {
    out = rfc_subproof(m - k, slice(d, k, d.size()), false);
    out.push_back(mth(slice(d, 0, k)));
  }
  return out;
}

leaves make_leaves(std::size_t n) {
  leaves d;
  for (std::size_t i = 0; i < n; ++i) d.push_back("{\"seq\":" + std::to_string(i + 1) + "}");
  return d;
}

tree make_tree(const leaves& d) {
  tree t;
  for (auto& l : d) t.append_leaf(l);
  return t;
}

// --- Tests ------------------------------------------------------------------

TEST(Merkle, EmptyTreeRootIsTheHashOfNothing) {
  tree t;
  EXPECT_EQ(t.root(), sha(""));
  EXPECT_EQ(to_hex(t.root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Merkle, RootsOfEveryPrefixMatchTheRfcDefinition) {
  auto d = make_leaves(70);
  auto t = make_tree(d);
  for (std::uint64_t n = 0; n <= d.size(); ++n) {
    auto r = t.root(n);
    ASSERT_TRUE(r) << n;
    EXPECT_EQ(*r, mth(slice(d, 0, n))) << "tree size " << n;
  }
  EXPECT_FALSE(t.root(71));
}

TEST(Merkle, InclusionProofsMatchTheRfcAndVerify) {
  auto d = make_leaves(37);
  auto t = make_tree(d);
  for (std::uint64_t n = 1; n <= d.size(); ++n) {
    auto root = mth(slice(d, 0, n));
    for (std::uint64_t m = 0; m < n; ++m) {
      auto p = t.inclusion_proof(m, n);
      ASSERT_TRUE(p);
      EXPECT_EQ(*p, rfc_path(m, slice(d, 0, n))) << m << " in " << n;
      EXPECT_TRUE(verify_inclusion(leaf_hash(d[m]), m, n, *p, root)) << m << " in " << n;
    }
  }
}

TEST(Merkle, TamperedInclusionProofsAreRefused) {
  auto d = make_leaves(21);
  auto t = make_tree(d);
  auto root = t.root();
  auto p = *t.inclusion_proof(9, 21);
  EXPECT_FALSE(verify_inclusion(leaf_hash(d[8]), 9, 21, p, root)) << "another leaf";
  EXPECT_FALSE(verify_inclusion(leaf_hash(d[9]), 8, 21, p, root)) << "another index";
  // (A size giving the same path shape verifies the same: the signed head
  // binds size and root together, so only a shape-changing size is tested.)
  EXPECT_FALSE(verify_inclusion(leaf_hash(d[9]), 9, 12, p, root)) << "another size";
  EXPECT_FALSE(verify_inclusion(leaf_hash(d[9]), 9, 21, p, *t.root(20))) << "another root";
  EXPECT_FALSE(verify_inclusion(leaf_hash(d[9]), 21, 21, p, root)) << "index past the end";
  for (std::size_t i = 0; i < p.size(); ++i) {
    auto bad = p;
    bad[i][0] ^= 1;
    EXPECT_FALSE(verify_inclusion(leaf_hash(d[9]), 9, 21, bad, root)) << "flipped hash " << i;
  }
  auto shorter = p;
  shorter.pop_back();
  EXPECT_FALSE(verify_inclusion(leaf_hash(d[9]), 9, 21, shorter, root));
  auto longer = p;
  longer.push_back(root);
  EXPECT_FALSE(verify_inclusion(leaf_hash(d[9]), 9, 21, longer, root));
  EXPECT_FALSE(t.inclusion_proof(21, 21));
  EXPECT_FALSE(t.inclusion_proof(0, 22));
}

TEST(Merkle, ConsistencyProofsMatchTheRfcAndVerify) {
  auto d = make_leaves(37);
  auto t = make_tree(d);
  for (std::uint64_t n = 1; n <= d.size(); ++n) {
    for (std::uint64_t m = 1; m <= n; ++m) {
      auto p = t.consistency_proof(m, n);
      ASSERT_TRUE(p);
      EXPECT_EQ(*p, rfc_subproof(m, slice(d, 0, n), true)) << m << " to " << n;
      EXPECT_TRUE(verify_consistency(m, n, mth(slice(d, 0, m)), mth(slice(d, 0, n)), *p)) << m << " to " << n;
    }
  }
}

TEST(Merkle, ARewrittenHistoryIsNotConsistentWithTheOldHead) {
  auto d = make_leaves(30);
  auto t = make_tree(d);
  auto old_root = *t.root(12);
  // The same 30 events with event 5 rewritten: the old head cannot be extended.
  auto d2 = d;
  d2[5] = "{\"seq\":6,\"rewritten\":true}";
  auto t2 = make_tree(d2);
  auto p2 = *t2.consistency_proof(12, 30);
  EXPECT_FALSE(verify_consistency(12, 30, old_root, t2.root(), p2));
  // And a cut history (the tail removed, one event appended instead) neither.
  auto d3 = slice(d, 0, 10);
  d3.push_back("{\"seq\":11,\"replaced\":true}");
  auto t3 = make_tree(d3);
  EXPECT_FALSE(verify_consistency(12, 11, old_root, t3.root(), *t3.consistency_proof(11, 11)));
  auto p = *t.consistency_proof(12, 30);
  for (std::size_t i = 0; i < p.size(); ++i) {
    auto bad = p;
    bad[i][31] ^= 0x80;
    EXPECT_FALSE(verify_consistency(12, 30, old_root, t.root(), bad)) << "flipped hash " << i;
  }
  EXPECT_FALSE(verify_consistency(12, 30, old_root, t.root(), {}));
  EXPECT_FALSE(verify_consistency(0, 30, old_root, t.root(), p));
  EXPECT_FALSE(verify_consistency(13, 30, old_root, t.root(), p));
}

// A store that keeps only what a frontier reports completing, as the
// notary's on-disk store does.
struct node_map final : subtrees {
  std::map<std::pair<unsigned, std::uint64_t>, hash> nodes;
  std::uint64_t n = 0;
  std::uint64_t size() const override { return n; }
  hash node(unsigned level, std::uint64_t index) const override { return nodes.at({level, index}); }
};

TEST(Merkle, AFrontierCompletesExactlyTheTreesNodesAndResumesFromAStore) {
  auto d = make_leaves(45);
  node_map store;
  frontier f;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i == 23) f = frontier(store);  // a restart: the edge read back from the store
    for (auto& c : f.append(leaf_hash(d[i]))) store.nodes[{c.level, c.index}] = c.h;
    store.n = f.size();
  }
  auto t = make_tree(d);
  for (std::uint64_t n = 1; n <= d.size(); ++n) {
    EXPECT_EQ(*root_of(store, n), mth(slice(d, 0, n))) << n;
    for (std::uint64_t m = 1; m <= n; ++m) EXPECT_EQ(*consistency_proof(store, m, n), *t.consistency_proof(m, n));
  }
  EXPECT_EQ(*inclusion_proof(store, 17, 45), rfc_path(17, d));
}

TEST(Merkle, HexRoundTripsAndRefusesBadInput) {
  auto h = leaf_hash("x");
  auto back = from_hex(to_hex(h));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, h);
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex(std::string(63, '0') + "g"));
}

TEST(Merkle, LargeTreeProofsStayLogarithmic) {
  tree t;
  for (int i = 0; i < 100'000; ++i) t.append_leaf(std::to_string(i));
  auto p = t.inclusion_proof(54'321, 100'000);
  ASSERT_TRUE(p);
  EXPECT_LE(p->size(), 17u);
  EXPECT_TRUE(verify_inclusion(leaf_hash("54321"), 54'321, 100'000, *p, t.root()));
  auto c = t.consistency_proof(65'537, 100'000);
  ASSERT_TRUE(c);
  EXPECT_TRUE(verify_consistency(65'537, 100'000, *t.root(65'537), t.root(), *c));
}

}  // namespace
}  // namespace kw::merkle
