// Strong types for the identifiers and counters that cross module boundaries.
//
// A tenant id is not a monitor id, and a sequence number is not a log offset:
// the compiler keeps them apart. Each wraps one plain value with no cost.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace kw {

template <class Tag, class T>
class strong {
public:
  using value_type = T;
  strong() = default;
  explicit strong(T v) : v_(std::move(v)) {}
  const T& get() const noexcept { return v_; }
  T& get() noexcept { return v_; }
  friend bool operator==(const strong& a, const strong& b) { return a.v_ == b.v_; }
  friend bool operator!=(const strong& a, const strong& b) { return a.v_ != b.v_; }
  friend bool operator<(const strong& a, const strong& b) { return a.v_ < b.v_; }
  friend bool operator<=(const strong& a, const strong& b) { return a.v_ <= b.v_; }
  friend bool operator>(const strong& a, const strong& b) { return a.v_ > b.v_; }
  friend bool operator>=(const strong& a, const strong& b) { return a.v_ >= b.v_; }

private:
  T v_{};
};

using tenant_id = strong<struct tenant_id_tag, std::string>;
using monitor_id = strong<struct monitor_id_tag, std::string>;
using seq_no = strong<struct seq_no_tag, std::int64_t>;        // per-aggregate, from 1
using log_offset = strong<struct log_offset_tag, std::int64_t>; // per partition, from 0
using partition_id = strong<struct partition_id_tag, std::int32_t>;

// Microseconds since the Unix epoch, UTC. Time enters the domain only through
// commands; nothing in events/ or the deciders reads a clock.
using timestamp = strong<struct timestamp_tag, std::int64_t>;

}  // namespace kw

template <class Tag, class T>
struct std::hash<kw::strong<Tag, T>> {
  std::size_t operator()(const kw::strong<Tag, T>& s) const noexcept {
    return std::hash<T>{}(s.get());
  }
};
