// argon2id password hashes (passwords.hpp).
#include "gateway/passwords.hpp"

#include <sodium.h>

namespace kw::gateway {

result<std::string> hash_password(const std::string& password, password_cost cost) {
  if (sodium_init() < 0) return error{errc::internal, "libsodium did not initialise"};
  char out[crypto_pwhash_STRBYTES];
  const auto ops = cost == password_cost::fast ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE;
  const auto mem = cost == password_cost::fast ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE;
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
    return error{errc::internal, "out of memory hashing a password"};
  return std::string(out);
}

bool verify_password(const std::string& hash, const std::string& password) {
  if (sodium_init() < 0 || hash.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

}  // namespace kw::gateway
