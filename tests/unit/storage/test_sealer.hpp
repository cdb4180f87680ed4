// A chain sealer for storage tests: deterministic, readable, and verifiable
// without events/ (whose real hash chain storage must not depend on).
// Sealed value = value + "|prev=" + prev + "|hash=" + fnv1a64(value + "|prev=" + prev).
// Values containing "REJECT" are refused, to test a failed seal. An optional
// hook runs before each seal (tests use it to hold the writer).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>

#include "storage/event_log.hpp"

namespace kw::storage::testing {

inline std::string fnv1a64(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

class test_sealer final : public chain_sealer {
public:
  std::function<void()> before_seal;

  result<std::string> seal(const std::string& prev_hash, std::string& value) override {
    if (before_seal) before_seal();
    if (value.find("REJECT") != std::string::npos)
      return error{errc::invalid, "sealer refused " + value};
    value += "|prev=" + prev_hash;
    std::string h = fnv1a64(value);
    value += "|hash=" + h;
    return h;
  }
};

struct sealed_parts {
  std::string base, prev, hash;
  bool ok = false;
};

// Splits a sealed value and checks its hash.
inline sealed_parts unseal(const std::string& v) {
  sealed_parts out;
  auto hp = v.rfind("|hash=");
  if (hp == std::string::npos) return out;
  auto pp = v.rfind("|prev=", hp);
  if (pp == std::string::npos) return out;
  out.base = v.substr(0, pp);
  out.prev = v.substr(pp + 6, hp - pp - 6);
  out.hash = v.substr(hp + 6);
  out.ok = fnv1a64(v.substr(0, hp)) == out.hash;
  return out;
}

}  // namespace kw::storage::testing
