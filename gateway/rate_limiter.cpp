// Token buckets (rate_limiter.hpp).
#include "gateway/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace kw::gateway {

rate_decision rate_limiter::take(const std::string& key, int per_minute, clock::time_point now) {
  rate_decision d;
  d.limit = std::max(1, per_minute);
  const double capacity = d.limit;
  const double per_second = capacity / 60.0;
  std::lock_guard<std::mutex> lk(mu_);
  auto [it, fresh] = buckets_.try_emplace(key);
  bucket& b = it->second;
  if (fresh) {
    b.tokens = capacity;
  } else {
    const double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(capacity, b.tokens + std::max(0.0, elapsed) * per_second);
  }
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

}  // namespace kw::gateway
