// Snapshots of aggregate state: the encoded state plus the log offsets it
// covers. Recovery = latest snapshot + replay of the log after those offsets.
// A snapshot is an optimisation: losing one costs time, never correctness.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "events/ids.hpp"
#include "events/result.hpp"

namespace kw::storage {

struct snapshot {
  std::string aggregate;        // tenant/<id> or monitor/<id>, or a partition key
  std::string state;            // encoded by the aggregate's owner
  log_offset events_offset{0};  // next events-topic offset not covered
  log_offset checks_offset{0};  // next checks-topic offset not covered
};

class snapshot_store {
public:
  virtual ~snapshot_store() = default;
  virtual status save(partition_id p, const snapshot& s) = 0;
  virtual result<std::optional<snapshot>> load(partition_id p, const std::string& aggregate) = 0;
};

}  // namespace kw::storage
