// JWT HS256 with libjwt (tokens.hpp).
#include "gateway/tokens.hpp"

#include <cstdlib>
#include <memory>
#include <mutex>

#include <jwt.h>
#include <nlohmann/json.hpp>
#include <openssl/sha.h>
#include <sodium.h>

#include "events/json_limits.hpp"

namespace kw::gateway {
namespace {

struct jwt_deleter {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using jwt_ptr = std::unique_ptr<jwt_t, jwt_deleter>;

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

// Keepwatch's header and claims are flat objects; nothing deeper is read.
constexpr int max_token_depth = 4;

error refused(const std::string& why) { return error{errc::forbidden, "invalid token: " + why}; }

}  // namespace

token_signer::token_signer(std::string key) : key_(std::move(key)) {}

std::string token_signer::issue(const access_claims& c) const {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return {};
  jwt_ptr j(raw);
  jwt_add_grant(j.get(), "sub", c.user_id.c_str());
  jwt_add_grant(j.get(), "tenant", c.tenant.c_str());
  jwt_add_grant(j.get(), "role", c.role.c_str());
  jwt_add_grant(j.get(), "jti", c.jti.c_str());
  jwt_add_grant_int(j.get(), "iat", static_cast<long>(c.issued_at));
  jwt_add_grant_int(j.get(), "exp", static_cast<long>(c.expires_at));
  jwt_set_alg(j.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(key_.data()),
              static_cast<int>(key_.size()));
  char* s = jwt_encode_str(j.get());
  if (s == nullptr) return {};
  std::string out(s);
  std::free(s);
  return out;
}

result<access_claims> token_signer::verify(const std::string& token, std::int64_t now_s) const {
  {
    std::shared_lock<std::shared_mutex> lk(verified_mu_);
    if (auto it = verified_.find(token); it != verified_.end()) {
      if (now_s >= it->second.expires_at) return refused("expired");
      return it->second;
    }
  }
  auto c = verify_in_full(token, now_s);
  if (c) {
    std::unique_lock<std::shared_mutex> lk(verified_mu_);
    if (verified_.size() >= verified_cache_limit) verified_.clear();  // a new generation
    verified_.emplace(token, *c);
  }
  return c;
}

result<access_claims> token_signer::verify_in_full(const std::string& token, std::int64_t now_s) const {
  if (token.empty() || token.size() > 4096) return refused("empty or oversized");
  // The header first: only HS256 is ever accepted ("alg":"none" included).
  // Header and payload are read only within the JSON limits
  // (json_limits.hpp), before libjwt parses them.
  const auto dot = token.find('.');
  if (dot == std::string::npos) return refused("malformed");
  const auto dot2 = token.find('.', dot + 1);
  if (dot2 == std::string::npos) return refused("malformed");
  auto segment = [&](std::size_t from, std::size_t to, std::string& out) {
    out.assign(to - from, '\0');
    std::size_t len = 0;
    if (sodium_init() < 0 ||
        sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), token.data() + from, to - from,
                          nullptr, &len, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
      return false;
    out.resize(len);
    return true;
  };
  std::string header, payload;
  if (!segment(0, dot, header)) return refused("malformed header");
  if (!segment(dot + 1, dot2, payload)) return refused("malformed payload");
  if (!json_within_depth(header, max_token_depth) || !json_within_depth(payload, max_token_depth))
    return refused("nested too deeply");
  auto h = nlohmann::json::parse(header, nullptr, false);
  if (!h.is_object() || !h.contains("alg") || h["alg"] != "HS256") return refused("algorithm is not HS256");
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, token.c_str(), reinterpret_cast<const unsigned char*>(key_.data()),
                 static_cast<int>(key_.size())) != 0 ||
      raw == nullptr) {
    if (raw != nullptr) jwt_free(raw);
    return refused("malformed or bad signature");
  }
  jwt_ptr j(raw);
  if (jwt_get_alg(j.get()) != JWT_ALG_HS256) return refused("algorithm is not HS256");
  access_claims c;
  auto str = [&](const char* name) {
    const char* v = jwt_get_grant(j.get(), name);
    return v ? std::string(v) : std::string();
  };
  c.user_id = str("sub");
  c.tenant = str("tenant");
  c.role = str("role");
  c.jti = str("jti");
  errno = 0;
  c.issued_at = jwt_get_grant_int(j.get(), "iat");
  c.expires_at = jwt_get_grant_int(j.get(), "exp");
  if (c.user_id.empty() || c.role.empty() || c.jti.empty() || c.expires_at <= 0)
    return refused("missing claims");
  if (now_s >= c.expires_at) return refused("expired");
  return c;
}

std::string random_hex(std::size_t n) {
  std::string buf(n, '\0');
  randombytes_buf(buf.data(), n);
  return hex(reinterpret_cast<const unsigned char*>(buf.data()), n);
}

std::string sha256_of(const std::string& s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return hex(d, sizeof d);
}

}  // namespace kw::gateway
