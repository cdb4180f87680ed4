// Access tokens: JWT HS256 (libjwt) carrying who the caller is — user, tenant,
// role — and until when. Refresh tokens and API keys are random secrets of
// which only a SHA-256 hash is stored.
//
// verify() accepts exactly what issue() makes: the header must say HS256
// (an "alg":"none" token, or any other algorithm, is refused before its
// signature is even looked at), the signature must match this key, and the
// token must not have expired. Every refusal is errc::forbidden with a reason
// for the logs (the client only ever hears "invalid token").
//
// A token that verified is remembered (its exact text, with its claims; at
// most `verified_cache_limit` of them), so the next request with it costs a
// lookup instead of two base64 decodes, three JSON parses and an HMAC; its
// expiry is still checked every time. Any other text is verified in full.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "events/result.hpp"

namespace kw::gateway {

struct access_claims {
  std::string user_id;
  std::string tenant;            // empty for a platform admin acting on none
  std::string role;              // owner | admin | member | viewer | auditor | platform_admin
  std::int64_t issued_at = 0;    // Unix seconds
  std::int64_t expires_at = 0;   // Unix seconds
  std::string jti;               // the token's id (logout revokes it)
};

class token_signer {
public:
  // `key`: at least 32 bytes of secret.
  explicit token_signer(std::string key);
  token_signer(const token_signer&) = delete;
  token_signer& operator=(const token_signer&) = delete;

  std::string issue(const access_claims& c) const;
  result<access_claims> verify(const std::string& token, std::int64_t now_s) const;

  static constexpr std::size_t verified_cache_limit = 16384;

private:
  result<access_claims> verify_in_full(const std::string& token, std::int64_t now_s) const;

  std::string key_;
  mutable std::shared_mutex verified_mu_;
  mutable std::unordered_map<std::string, access_claims> verified_;  // by the token's text
};

// `n` random bytes, hex-encoded (libsodium's randombytes).
std::string random_hex(std::size_t n);
// Lowercase hex SHA-256 of `s`.
std::string sha256_of(const std::string& s);

}  // namespace kw::gateway
