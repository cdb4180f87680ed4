// Which partition a tenant's records go to: murmur2(tenant_id) mod P, made
// positive the way Apache Kafka's Java client does (`& 0x7fffffff`), so any
// Kafka producer that keys by tenant id agrees with Keepwatch.
#pragma once

#include <cstdint>
#include <string_view>

#include "events/ids.hpp"

namespace kw::storage {

// Kafka's murmur2 (seed 0x9747b28c), over the key's bytes.
inline std::int32_t murmur2(std::string_view key) noexcept {
  const std::uint32_t seed = 0x9747b28c;
  const std::uint32_t m = 0x5bd1e995;
  const int r = 24;
  const auto len = static_cast<std::uint32_t>(key.size());
  std::uint32_t h = seed ^ len;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  std::uint32_t blocks = len / 4;
  for (std::uint32_t i = 0; i < blocks; ++i) {
    std::uint32_t k = std::uint32_t(data[i * 4]) | (std::uint32_t(data[i * 4 + 1]) << 8) |
                      (std::uint32_t(data[i * 4 + 2]) << 16) |
                      (std::uint32_t(data[i * 4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const unsigned char* tail = data + blocks * 4;
  switch (len % 4) {
    case 3: h ^= std::uint32_t(tail[2]) << 16; [[fallthrough]];
    case 2: h ^= std::uint32_t(tail[1]) << 8; [[fallthrough]];
    case 1:
      h ^= std::uint32_t(tail[0]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<std::int32_t>(h);
}

inline partition_id partition_for(const tenant_id& t, int partitions) noexcept {
  auto positive = static_cast<std::uint32_t>(murmur2(t.get())) & 0x7fffffffu;
  return partition_id{static_cast<std::int32_t>(positive % static_cast<std::uint32_t>(partitions))};
}

}  // namespace kw::storage
