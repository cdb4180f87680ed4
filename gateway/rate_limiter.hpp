// Per-tenant rate limits: a token bucket per key holding up to `per_minute`
// tokens, refilled continuously at per_minute / 60 tokens a second. A request
// takes one token or is refused, with how long until one is back. Time comes
// in as an argument, so tests drive it.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace kw::gateway {

struct rate_decision {
  bool allowed = true;
  int limit = 0;           // X-RateLimit-Limit: the bucket's size
  int remaining = 0;       // X-RateLimit-Remaining: whole tokens left
  int reset_s = 0;         // X-RateLimit-Reset: seconds until the bucket is full
  int retry_after_s = 0;   // Retry-After, when refused: seconds until a token
};

class rate_limiter {
public:
  using clock = std::chrono::steady_clock;

  rate_decision take(const std::string& key, int per_minute, clock::time_point now);

private:
  struct bucket {
    double tokens = 0;
    clock::time_point at;
  };
  std::mutex mu_;
  std::map<std::string, bucket> buckets_;
};

}  // namespace kw::gateway
