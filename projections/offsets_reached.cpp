// The boards of committed offsets (offsets_reached.hpp).
#include "projections/offsets_reached.hpp"

#include <memory>

namespace kw::projections {

offsets_reached& offsets_reached::of(const std::string& database_url) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<offsets_reached>> boards;
  std::lock_guard<std::mutex> lk(mu);
  auto& b = boards[database_url];
  if (!b) b = std::make_unique<offsets_reached>();
  return *b;
}

void offsets_reached::set(const std::string& projection, storage::topic t, partition_id p,
                          std::int64_t next_offset) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    next_[key{projection, static_cast<int>(t), p.get()}] = next_offset;
  }
  cv_.notify_all();
}

std::int64_t offsets_reached::next_offset(const std::string& projection, storage::topic t, partition_id p) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = next_.find(key{projection, static_cast<int>(t), p.get()});
  return it == next_.end() ? -1 : it->second;
}

bool offsets_reached::wait_past(const std::string& projection, storage::topic t, partition_id p,
                                std::int64_t offset, clock::time_point deadline) const {
  const key k{projection, static_cast<int>(t), p.get()};
  std::unique_lock<std::mutex> lk(mu_);
  return cv_.wait_until(lk, deadline, [&] {
    auto it = next_.find(k);
    return it != next_.end() && it->second > offset;
  });
}

}  // namespace kw::projections
