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
//  - `tree` keeps every complete aligned subtree (about 2n hashes of 32 bytes),
//    so the root of any prefix and every proof cost O(log n) hash operations
//    after the leaves are in; appends are amortised O(1).
//  - The verify_* functions are the RFC's verification algorithms (2.1.3.2,
//    2.1.4.2) and use nothing of `tree`: they are what an auditor runs, and
//    tests check them against an implementation written from the RFC alone.
//  - Errors are values (errc::invalid naming the bad argument), never throws.
#pragma once

#include <array>
#include <cstdint>
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

class tree {
public:
  void append_leaf(std::string_view leaf) { append(leaf_hash(leaf)); }
  void append(const hash& leaf);
  std::uint64_t size() const noexcept { return levels_.empty() ? 0 : levels_[0].size(); }

  // MTH of the first n leaves (n ≤ size()); root() is MTH of all.
  result<hash> root(std::uint64_t n) const;
  hash root() const;
  // The leaf hash at index (< size()).
  result<hash> leaf(std::uint64_t index) const;

  // PATH(index, D[tree_size]): index < tree_size ≤ size().
  result<std::vector<hash>> inclusion_proof(std::uint64_t index, std::uint64_t tree_size) const;
  // PROOF(old_size, D[new_size]): 0 < old_size ≤ new_size ≤ size(); empty
  // when the sizes are equal.
  result<std::vector<hash>> consistency_proof(std::uint64_t old_size, std::uint64_t new_size) const;

private:
  hash range_root(std::uint64_t begin, std::uint64_t end) const;  // MTH(D[begin:end])
  void path(std::uint64_t m, std::uint64_t begin, std::uint64_t end, std::vector<hash>& out) const;
  void subproof(std::uint64_t m, std::uint64_t begin, std::uint64_t end, bool whole,
                std::vector<hash>& out) const;

  // levels_[l][i] = MTH of leaves [i·2^l, (i+1)·2^l), for complete subtrees only.
  std::vector<std::vector<hash>> levels_;
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
