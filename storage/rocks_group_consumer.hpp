// The consumer-group port on the embedded log (RocksLog).
//
// The embedded log runs on one machine, so a group has one member, and it
// owns every partition of its topics: they are assigned on the first poll
// (on_assigned with all of them) and revoked by close(). A second member of
// the same group on the same log, while the first is open, is refused
// (errc::conflict): two owners would each read everything.
//
// Reads go through rocks_log::read from the group's committed offsets
// (rocks_log::committed_offset; 0 for a partition without one), commits
// through rocks_log::commit_offset, one partition after the other (each is
// atomic on its own, the list is not). poll() rotates the partition it
// starts with, and first takes an even share of `max_records` from each, so
// a busy partition does not starve the others. With nothing to read it
// checks again every 5 ms until the timeout (rocks_log has no change
// notification; the check is rocks_log::end_offset, an atomic in memory, so
// an idle member costs no database read).
//
// The log must outlive the consumer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/group_consumer.hpp"

namespace kw::storage {

class rocks_log;

result<std::unique_ptr<group_consumer>> open_rocks_group_consumer(rocks_log& log,
                                                                  const std::string& group,
                                                                  std::vector<topic> topics,
                                                                  group_callbacks cb);

}  // namespace kw::storage
