// Token buckets (rate_limiter.hpp).
#include "gateway/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace kw::gateway {
namespace {
// The key new clients share when the table is full (client keys are never
// empty: they carry a prefix).
const std::string overflow_key;
}  // namespace

rate_limiter::rate_limiter(std::size_t max_keys, clock::duration sweep_every)
    : max_keys_(std::max<std::size_t>(1, max_keys)), sweep_every_(sweep_every) {}

void rate_limiter::sweep(clock::time_point now) {
  last_sweep_ = now;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const auto& b = it->second;
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    if (b.tokens + elapsed * b.per_second >= b.capacity)
      it = buckets_.erase(it);  // full again: forgetting it changes nothing
    else
      ++it;
  }
}

rate_decision rate_limiter::take(const std::string& key, int per_minute, clock::time_point now) {
  rate_decision d;
  d.limit = std::max(1, per_minute);
  const double capacity = d.limit;
  const double per_second = capacity / 60.0;
  std::lock_guard<std::mutex> lk(mu_);
  if (now - last_sweep_ >= sweep_every_) sweep(now);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) sweep(now);
    const std::string& k = buckets_.size() >= max_keys_ ? overflow_key : key;
    it = buckets_.try_emplace(k).first;
    if (it->second.at == clock::time_point{}) it->second.tokens = capacity;
  }
  bucket& b = it->second;
  if (b.at != clock::time_point{}) {
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(capacity, b.tokens + std::max(0.0, elapsed) * per_second);
  }
  b.capacity = capacity;
  b.per_second = per_second;
  b.at = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
  } else {
    d.allowed = false;
    d.retry_after_s = std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / per_second)));
  }
  d.remaining = static_cast<int>(std::floor(b.tokens));
  d.reset_s = static_cast<int>(std::ceil((capacity - b.tokens) / per_second));
  return d;
}

std::size_t rate_limiter::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return buckets_.size();
}

}  // namespace kw::gateway
