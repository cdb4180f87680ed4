// Partitioning must agree with Apache Kafka's Java client, so that any Kafka
// producer keyed by tenant id lands on the same partition as Keepwatch.
#include <gtest/gtest.h>

#include "storage/partitioner.hpp"

namespace kw::storage {
namespace {

TEST(partitioner, murmur2_matches_kafkas_reference_values) {
  // The values Kafka's own Utils.murmur2 returns for these keys.
  EXPECT_EQ(murmur2("21"), -973932308);
  EXPECT_EQ(murmur2("foobar"), -790332482);
  EXPECT_EQ(murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(murmur2("abc"), 479470107);
}

TEST(partitioner, a_tenant_always_maps_to_one_partition_in_range) {
  for (int parts : {1, 3, 8, 64}) {
    for (int i = 0; i < 1000; ++i) {
      tenant_id t{"tenant-" + std::to_string(i)};
      auto p = partition_for(t, parts);
      EXPECT_GE(p.get(), 0);
      EXPECT_LT(p.get(), parts);
      EXPECT_EQ(p, partition_for(t, parts));
    }
  }
  // (murmur2 & 0x7fffffff) % P, as the Java client's default partitioner.
  EXPECT_EQ(partition_for(tenant_id{"21"}, 8).get(),
            int((std::uint32_t(-973932308) & 0x7fffffffu) % 8u));
}

}  // namespace
}  // namespace kw::storage
