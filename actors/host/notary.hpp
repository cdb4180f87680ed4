// The notary: each tenant's verifiable history (events/merkle.hpp) kept
// beside the log, and signed tree heads issued into the tenants' own chains.
//
// It follows the events topic like a projection: every chained record of a
// tenant is the next leaf of that tenant's Merkle tree. The trees' complete
// subtrees live in a RocksDB of their own (<data_dir>/merkle), written in one
// atomic batch with the log offsets they cover, so after a crash the notary
// resumes where its last batch ended and never counts a record twice. The
// store is derived from the log: deleting it rebuilds it from offset 0.
//
// Every `head_interval`, for each tenant whose tree gained events other than
// heads since its last head, it signs (tree_head.hpp) the root of the tree as
// read so far and sends the tenant a platform command, record_tree_head, whose
// command id ("tree-head:<size>") makes a retry harmless; the resulting
// tenant.tree_head_signed event is itself the next leaf. A head that cannot
// be recorded (node unavailable) is tried again the next round.
//
// Reads (sizes, roots, proofs) may come from any thread while the notary
// runs: the trees only grow, and a subtree once complete never changes.
// Proofs cost O(log n) point reads: well under a millisecond at 10^6 events.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/host/tree_head.hpp"
#include "events/merkle.hpp"
#include "events/result.hpp"

namespace kw {

class node;

struct notary_options {
  std::string dir;  // <data_dir>/merkle
  std::shared_ptr<const tree_head_signer> signer;
  std::chrono::milliseconds head_interval{std::chrono::minutes(10)};
  std::chrono::milliseconds poll{250};
};

class notary {
public:
  static result<std::unique_ptr<notary>> start(node& n, notary_options o);
  ~notary();  // stop()
  notary(const notary&) = delete;
  notary& operator=(const notary&) = delete;

  // Stops the thread (a head being recorded is finished first). Idempotent.
  void stop();

  // Reads every record appended so far, then signs and records a head for
  // every tenant with unsigned events. For tests and a clean stop.
  status catch_up_and_sign();

  std::uint64_t size(const std::string& tenant) const;
  result<merkle::hash> root(const std::string& tenant, std::uint64_t tree_size) const;
  result<std::vector<merkle::hash>> inclusion_proof(const std::string& tenant, std::uint64_t index,
                                                    std::uint64_t tree_size) const;
  result<std::vector<merkle::hash>> consistency_proof(const std::string& tenant, std::uint64_t old_size,
                                                      std::uint64_t new_size) const;
  const tree_head_signer& signer() const;
  std::int64_t heads_issued() const;

  struct impl;

private:
  explicit notary(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace kw
