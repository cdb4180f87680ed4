// See tree_head.hpp.
#include "actors/host/tree_head.hpp"

#include <sodium.h>

#include "actors/host/key_file.hpp"
#include "events/codec.hpp"

namespace kw {
namespace {

std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string out(2 * n + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

template <std::size_t N>
bool from_hex(const std::string& hex, std::array<unsigned char, N>& out) {
  if (hex.size() != 2 * N || hex.find_first_not_of("0123456789abcdef") != std::string::npos) return false;
  std::size_t len = 0;
  return sodium_hex2bin(out.data(), N, hex.data(), hex.size(), nullptr, &len, nullptr) == 0 && len == N;
}

std::string id_of(const std::array<unsigned char, 32>& pk) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, pk.data(), pk.size());
  return to_hex(digest, 8);
}

}  // namespace

std::string tree_head_message(const std::string& tenant, std::int64_t tree_size, const std::string& root_hex,
                              timestamp signed_at) {
  return "keepwatch-tree-head-v1\n" + tenant + "\n" + std::to_string(tree_size) + "\n" + root_hex + "\n" +
         format_time(signed_at);
}

std::shared_ptr<const tree_head_signer> tree_head_signer::from_seed(const std::array<unsigned char, 32>& seed) {
  auto s = std::make_shared<tree_head_signer>();
  crypto_sign_seed_keypair(s->public_key_.data(), s->secret_key_.data(), seed.data());
  return s;
}

result<std::shared_ptr<const tree_head_signer>> tree_head_signer::open_or_create(const std::string& key_file) {
  if (sodium_init() < 0) return make_error(errc::internal, "libsodium failed to initialise");
  auto seed = read_or_create_key(key_file, crypto_sign_SEEDBYTES, "tree-head signing key", [] {
    std::string k(crypto_sign_SEEDBYTES, '\0');
    randombytes_buf(k.data(), k.size());
    return k;
  });
  if (!seed) return seed.err();
  std::array<unsigned char, 32> s{};
  std::copy(seed->begin(), seed->end(), s.begin());
  auto signer = from_seed(s);
  sodium_memzero(s.data(), s.size());
  return signer;
}

std::string tree_head_signer::public_key_hex() const { return to_hex(public_key_.data(), public_key_.size()); }

std::string tree_head_signer::key_id() const { return id_of(public_key_); }

std::string tree_head_signer::sign(const std::string& message) const {
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       secret_key_.data());
  return to_hex(sig, sizeof sig);
}

status verify_tree_head_signature(const std::string& public_key_hex, const std::string& message,
                                  const std::string& signature_hex) {
  if (sodium_init() < 0) return make_error(errc::internal, "libsodium failed to initialise");
  std::array<unsigned char, 32> pk{};
  std::array<unsigned char, 64> sig{};
  if (!from_hex(public_key_hex, pk)) return make_error(errc::invalid, "a public key is 64 lowercase hex digits");
  if (!from_hex(signature_hex, sig)) return make_error(errc::invalid, "a signature is 128 lowercase hex digits");
  if (crypto_sign_verify_detached(sig.data(), reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size(), pk.data()) != 0)
    return make_error(errc::invalid, "the signature does not verify with key " + id_of(pk));
  return ok_status();
}

result<std::string> key_id_of(const std::string& public_key_hex) {
  std::array<unsigned char, 32> pk{};
  if (!from_hex(public_key_hex, pk)) return make_error(errc::invalid, "a public key is 64 lowercase hex digits");
  return id_of(pk);
}

}  // namespace kw
