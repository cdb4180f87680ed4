// A tenant's verifiable history: a Merkle tree over its chained events in
// the manner of Certificate Transparency (RFC 9162, section 2.1), so an
// auditor holding a signed tree head can check that one event is in it
// (inclusion proof) and that a newer head extends an older one (consistency
// proof) — what a bare hash chain cannot show for a cut or a recomputed tail.
//
// Hashing (RFC 9162 2.1.1), SHA-256:
//   MTH({})      = SHA-256("")
//   leaf hash    = SHA-256(0x00 ‖ leaf bytes)        (the record value as stored)
//   node hash    = SHA-256(0x01 ‖ left ‖ right)
//   MTH(D[n])    = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of 2 < n
// Proofs are RFC 9162's PATH (2.1.3.1) and PROOF (2.1.4.1), hashes bottom-up.
//
// Guarantees:
//  - Over any store of the complete aligned subtrees (`subtrees`), the root
//    of any prefix and every proof cost O(log n) node reads and hash
//    operations; appends (`tree`, `frontier`) are amortised O(1).
//  - The verify_* functions are the RFC's verification algorithms (2.1.3.2,
//    2.1.4.2) and use nothing of `tree`: they are what an auditor runs, and
//    tests check them against an implementation written from the RFC alone.
//  - Errors are values (errc::invalid naming the bad argument), never throws.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "events/result.hpp"

namespace kw::merkle {

using hash = std::array<std::uint8_t, 32>;

hash empty_root();                                // SHA-256 of no bytes
hash leaf_hash(std::string_view leaf);            // SHA-256(0x00 ‖ leaf)
hash node_hash(const hash& left, const hash& right);  // SHA-256(0x01 ‖ left ‖ right)

std::string to_hex(const hash& h);                // 64 lowercase hex digits
result<hash> from_hex(std::string_view hex);      // exactly 64 hex digits

// Where a tree's complete aligned subtrees are kept: node(l, i) is the MTH of
// leaves [i·2^l, (i+1)·2^l), asked for only when that subtree is complete
// (its last leaf is below size()). In memory (`tree`) or on disk (the
// notary's store).
class subtrees {
public:
  virtual ~subtrees() = default;
  virtual std::uint64_t size() const = 0;
  virtual hash node(unsigned level, std::uint64_t index) const = 0;
};

// MTH of the first n leaves (n ≤ t.size()).
result<hash> root_of(const subtrees& t, std::uint64_t n);
// PATH(index, D[tree_size]): index < tree_size ≤ t.size().
result<std::vector<hash>> inclusion_proof(const subtrees& t, std::uint64_t index, std::uint64_t tree_size);
// PROOF(old_size, D[new_size]): 0 < old_size ≤ new_size ≤ t.size(); empty
// when the sizes are equal.
result<std::vector<hash>> consistency_proof(const subtrees& t, std::uint64_t old_size, std::uint64_t new_size);

// The right edge of a tree: the roots of its complete subtrees that no later
// leaf will pair with yet (one per set bit of the size), enough to append.
// append() returns the nodes it completed, (level, index, hash), level 0 first.
struct completed_node {
  unsigned level;
  std::uint64_t index;
  hash h;
};
class frontier {
public:
  frontier() = default;
  // From a stored tree: its size and the subtrees it reads.
  frontier(const subtrees& t);
  std::vector<completed_node> append(const hash& leaf);
  std::uint64_t size() const noexcept { return size_; }

private:
  std::uint64_t size_ = 0;
  std::vector<hash> edge_;  // edge_[l]: the pending left node at level l, if bit l of size_ is set
};

// A whole tree in memory: about 2n hashes of 32 bytes.
class tree final : public subtrees {
public:
  void append_leaf(std::string_view leaf) { append(leaf_hash(leaf)); }
  void append(const hash& leaf);
  std::uint64_t size() const noexcept override { return levels_.empty() ? 0 : levels_[0].size(); }
  hash node(unsigned level, std::uint64_t index) const override { return levels_[level][index]; }

  result<hash> root(std::uint64_t n) const { return root_of(*this, n); }
  hash root() const { return *root_of(*this, size()); }
  result<hash> leaf(std::uint64_t index) const;
  result<std::vector<hash>> inclusion_proof(std::uint64_t index, std::uint64_t tree_size) const {
    return merkle::inclusion_proof(*this, index, tree_size);
  }
  result<std::vector<hash>> consistency_proof(std::uint64_t old_size, std::uint64_t new_size) const {
    return merkle::consistency_proof(*this, old_size, new_size);
  }

private:
  // Deques, not vectors: a long history grows them without ever copying
  // what is already there (a million-leaf tree is 64 MB).
  std::vector<std::deque<hash>> levels_;
};

// RFC 9162 2.1.3.2: does `proof` show leaf hash `leaf` at `index` in the tree
// of `tree_size` leaves whose root is `root`?
status verify_inclusion(const hash& leaf, std::uint64_t index, std::uint64_t tree_size,
                        const std::vector<hash>& proof, const hash& root);

// RFC 9162 2.1.4.2: does `proof` show the tree of `old_size` leaves with root
// `old_root` is a prefix of the tree of `new_size` leaves with root `new_root`?
status verify_consistency(std::uint64_t old_size, std::uint64_t new_size, const hash& old_root,
                          const hash& new_root, const std::vector<hash>& proof);

}  // namespace kw::merkle
