// Token buckets with a driven clock: the limit is honoured to the request,
// tokens come back at limit/60 a second, keys do not share buckets.
#include "gateway/rate_limiter.hpp"

#include <gtest/gtest.h>

using namespace kw::gateway;
using namespace std::chrono_literals;

TEST(RateLimiter, AllowsExactlyTheLimitThenRefusesWithRetryAfter) {
  rate_limiter r;
  const auto t0 = rate_limiter::clock::now();
  for (int i = 0; i < 60; ++i) {
    auto d = r.take("acme", 60, t0);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.limit, 60);
    EXPECT_EQ(d.remaining, 59 - i);
  }
  auto refused = r.take("acme", 60, t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.retry_after_s, 1);
  EXPECT_EQ(refused.reset_s, 60);
}

TEST(RateLimiter, TokensComeBackOverTime) {
  rate_limiter r;
  const auto t0 = rate_limiter::clock::now();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(r.take("acme", 6, t0).allowed);  // one token per 10 s
  EXPECT_FALSE(r.take("acme", 6, t0 + 9s).allowed);
  auto back = r.take("acme", 6, t0 + 10s);
  EXPECT_TRUE(back.allowed);
  EXPECT_EQ(back.remaining, 0);
  EXPECT_TRUE(r.take("acme", 6, t0 + 600s).allowed);  // full again, never more than the limit
  EXPECT_EQ(r.take("acme", 6, t0 + 600s).remaining, 4);
}

TEST(RateLimiter, KeysHaveTheirOwnBuckets) {
  rate_limiter r;
  const auto t0 = rate_limiter::clock::now();
  ASSERT_TRUE(r.take("a", 1, t0).allowed);
  EXPECT_FALSE(r.take("a", 1, t0).allowed);
  EXPECT_TRUE(r.take("b", 1, t0).allowed);
}
