// Access tokens: JWT HS256 (libjwt) carrying who the caller is — user, tenant,
// role — and until when. Refresh tokens and API keys are random secrets of
// which only a SHA-256 hash is stored.
//
// verify() accepts exactly what issue() makes: the header must say HS256
// (an "alg":"none" token, or any other algorithm, is refused before its
// signature is even looked at), the signature must match this key, and the
// token must not have expired. Every refusal is errc::forbidden with a reason
// for the logs (the client only ever hears "invalid token").
#pragma once

#include <cstdint>
#include <string>

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

  std::string issue(const access_claims& c) const;
  result<access_claims> verify(const std::string& token, std::int64_t now_s) const;

private:
  std::string key_;
};

// `n` random bytes, hex-encoded (libsodium's randombytes).
std::string random_hex(std::size_t n);
// Lowercase hex SHA-256 of `s`.
std::string sha256_of(const std::string& s);

}  // namespace kw::gateway
