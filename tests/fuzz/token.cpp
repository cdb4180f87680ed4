// Fuzz target: access-token verification (gateway/tokens.hpp), which every
// authenticated request goes through before anything else. The input is the
// bearer token as sent. verify() accepts only what issue() makes with the
// same key: for any other bytes it refuses with errc::forbidden, without
// crashing. Checked too: claims issued (from the input's lines, when they
// are ids as the gateway makes them) verify back to the same claims.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/common/validation.hpp"
#include "gateway/tokens.hpp"
#include "tests/fuzz/route_table.hpp"

namespace gw = kw::gateway;

namespace {
constexpr std::int64_t now_s = 1'795'514'400;  // 2026-11-24T10:00:00Z, as the seeds' tokens assume
const std::string key(32, 'k');
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const gw::token_signer signer(key);
  const std::string in(reinterpret_cast<const char*>(data), size);
  auto c = signer.verify(in, now_s);
  if (!c) {
    kw::fuzz::require(c.err().code == kw::errc::forbidden, "a refusal that is not errc::forbidden");
  } else {
    kw::fuzz::require(!c->user_id.empty() && !c->role.empty() && !c->jti.empty() && c->expires_at > now_s,
                      "a token accepted without its claims or expired");
  }

  // The round trip, for claims of the gateway's own making.
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (parts.size() < 4) {
    const auto nl = in.find('\n', at);
    parts.push_back(in.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  if (parts.size() < 4) return 0;
  for (auto& p : parts)
    if (!kw::validation::id("claim", p).ok()) return 0;
  gw::access_claims want{parts[0], parts[1], parts[2], now_s - 10, now_s + 900, parts[3]};
  auto got = signer.verify(signer.issue(want), now_s);
  kw::fuzz::require(got.ok(), "a token issued now is refused");
  kw::fuzz::require(got->user_id == want.user_id && got->tenant == want.tenant && got->role == want.role &&
                        got->jti == want.jti && got->issued_at == want.issued_at &&
                        got->expires_at == want.expires_at,
                    "a token's claims do not round-trip");
  return 0;
}
