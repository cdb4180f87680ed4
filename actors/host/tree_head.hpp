// Signed tree heads: the notary's Ed25519 key, the exact bytes it signs, and
// the check an auditor's own code can repeat (events/README.md, "Signed tree
// heads", documents the same without this code).
//
// A head says "tenant T's history had tree_size events, with this RFC 9162
// Merkle root, at signed_at". The signed message is the UTF-8 text
//
//   keepwatch-tree-head-v1\n<tenant>\n<tree_size in decimal>\n<root, 64 hex>\n<signed_at>
//
// (no trailing newline; signed_at as the events' time format,
// YYYY-MM-DDTHH:MM:SS.ffffffZ), signed with Ed25519 (RFC 8032, libsodium's
// crypto_sign_detached). The key id is the first 8 bytes of SHA-256 of the
// 32-byte public key, in hex.
//
// The key lives in a file of its own (the 32-byte Ed25519 seed, created with
// mode 0600 at first start; actors/host/key_file.hpp); a cluster's nodes
// share it. Losing it does not
// break verification of heads already issued (they carry the key id and the
// public key is exported), it only means new heads under a new key.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "events/ids.hpp"
#include "events/result.hpp"

namespace kw {

std::string tree_head_message(const std::string& tenant, std::int64_t tree_size, const std::string& root_hex,
                              timestamp signed_at);

class tree_head_signer {
public:
  static result<std::shared_ptr<const tree_head_signer>> open_or_create(const std::string& key_file);
  static std::shared_ptr<const tree_head_signer> from_seed(const std::array<unsigned char, 32>& seed);

  std::string public_key_hex() const;  // 64 hex digits
  std::string key_id() const;          // 16 hex digits
  std::string sign(const std::string& message) const;  // 128 hex digits

private:
  std::array<unsigned char, 32> public_key_{};
  std::array<unsigned char, 64> secret_key_{};
};

// Is `signature_hex` a valid Ed25519 signature of `message` by the public key
// `public_key_hex`? Errors name what is malformed or that it does not verify.
status verify_tree_head_signature(const std::string& public_key_hex, const std::string& message,
                                  const std::string& signature_hex);

// The key id of a public key (hex), or an error if it is not 64 hex digits.
result<std::string> key_id_of(const std::string& public_key_hex);

}  // namespace kw
