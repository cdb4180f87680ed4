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

TEST(RateLimiter, IdleBucketsAreForgottenSoMemoryStaysBounded) {
  rate_limiter r(1000, 60s);
  const auto t0 = rate_limiter::clock::now();
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(r.take("ip:" + std::to_string(i), 60, t0).allowed);
  EXPECT_EQ(r.size(), 500u);
  // A minute on, every bucket is full again: the next take sweeps them.
  ASSERT_TRUE(r.take("ip:new", 60, t0 + 61s).allowed);
  EXPECT_EQ(r.size(), 1u);
  // A bucket still refilling is kept, with what it has used.
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(r.take("busy", 60, t0 + 61s).allowed);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_FALSE(r.take("busy", 60, t0 + 61s + 60s + 1s).allowed == false);  // refilled by then, swept or not
  EXPECT_FALSE(r.take("busy2", 60, t0 + 130s).allowed == false);
  for (int i = 0; i < 59; ++i) ASSERT_TRUE(r.take("busy2", 60, t0 + 130s).allowed);
  EXPECT_FALSE(r.take("busy2", 60, t0 + 130s).allowed);  // not forgotten while empty
}

TEST(RateLimiter, NewKeysBeyondTheBoundShareOneBucket) {
  rate_limiter r(100, 3600s);
  const auto t0 = rate_limiter::clock::now();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(r.take("ip:" + std::to_string(i), 5, t0).allowed);
  // The table is full of buckets still refilling: newcomers share one.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(r.take("flood:" + std::to_string(i), 5, t0).allowed) << i;
  EXPECT_FALSE(r.take("flood:x", 5, t0).allowed);
  EXPECT_LE(r.size(), 101u);
  // Known keys keep their own buckets.
  EXPECT_TRUE(r.take("ip:7", 5, t0).allowed);
}
