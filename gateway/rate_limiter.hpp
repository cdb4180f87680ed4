// Rate limits: a token bucket per key holding up to `per_minute` tokens,
// refilled continuously at per_minute / 60 tokens a second. A request takes
// one token or is refused, with how long until one is back. Time comes in as
// an argument, so tests drive it.
//
// Memory is bounded. A bucket that has refilled to the brim is the same as
// no bucket, so idle buckets are dropped (a sweep at most every
// `sweep_every`, and whenever the table is full). Keys come from clients
// (addresses, emails, push tokens): when `max_keys` buckets are all in use,
// a new key shares one overflow bucket with every other new key, so a flood
// of fresh keys is limited as one client instead of growing the table.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

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

  explicit rate_limiter(std::size_t max_keys = 100000,
                        clock::duration sweep_every = std::chrono::seconds(60));

  rate_decision take(const std::string& key, int per_minute, clock::time_point now);

  // Buckets held now (tests: idle ones are dropped).
  std::size_t size() const;

private:
  struct bucket {
    double tokens = 0;
    double capacity = 0;
    double per_second = 0;
    clock::time_point at;
  };
  void sweep(clock::time_point now);  // mu_ held

  std::size_t max_keys_;
  clock::duration sweep_every_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, bucket> buckets_;
  clock::time_point last_sweep_{};
};

}  // namespace kw::gateway
