// The consumer-group port on RocksLog: see rocks_group_consumer.hpp.
#include "storage/rocks_group_consumer.hpp"

#include <algorithm>
#include <exception>
#include <map>
#include <optional>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "storage/rocks_log.hpp"

namespace kw::storage {

namespace {

using steady = std::chrono::steady_clock;

// How often an idle poll looks at the log again.
constexpr std::chrono::milliseconds idle_recheck{5};

// The open members, one per (log, group).
std::mutex members_mu;
std::set<std::pair<const rocks_log*, std::string>>& members() {
  static std::set<std::pair<const rocks_log*, std::string>> m;
  return m;
}

class rocks_group_consumer final : public group_consumer {
public:
  rocks_group_consumer(rocks_log& log, std::string group, std::vector<topic> topics,
                       group_callbacks cb)
      : log_(log), group_(std::move(group)), topics_(std::move(topics)), cb_(std::move(cb)) {
    for (topic t : topics_)
      for (int p = 0; p < log_.partitions(); ++p) all_.push_back({t, partition_id{p}});
    std::sort(all_.begin(), all_.end());
  }

  ~rocks_group_consumer() override {
    cb_ = {};  // leave without calling back
    close();
  }

  const std::string& group() const noexcept override { return group_; }

  result<std::vector<consumed_record>> poll(std::size_t max_records,
                                            std::chrono::milliseconds timeout) override {
    if (closed_) return closed_error();
    std::vector<consumed_record> out;
    if (!assigned_) {
      if (auto s = assign_all(); !s) return s.err();
    }
    if (deferred_) {
      error e = std::move(*deferred_);
      deferred_.reset();
      return e;
    }
    if (max_records == 0 || all_.empty()) return out;
    const auto deadline = steady::now() + timeout;
    for (;;) {
      if (auto s = read_round(max_records, out); !s && out.empty()) return s.err();
      if (!out.empty()) return out;
      const auto now = steady::now();
      if (now >= deadline) return out;
      std::this_thread::sleep_for(
          std::min<steady::duration>(idle_recheck, deadline - now));
    }
  }

  status commit(const std::vector<partition_offset>& offsets) override {
    if (closed_) return closed_error();
    for (const auto& o : offsets)
      if (auto s = check_owned(o, "commit"); !s) return s;
    for (const auto& o : offsets)
      if (auto s = log_.commit_offset(group_, o.t, o.partition, o.next); !s)
        return error{s.err().code, "consumer group " + group_ + ": commit: " + s.err().message};
    return ok_status();
  }

  status seek(const std::vector<partition_offset>& offsets) override {
    if (closed_) return closed_error();
    for (const auto& o : offsets)
      if (auto s = check_owned(o, "seek"); !s) return s;
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& o : offsets) position_[{o.t, o.partition}] = o.next.get();
    return ok_status();
  }

  partition_list assignment() const override {
    std::lock_guard<std::mutex> lk(mu_);
    return assigned_ ? all_ : partition_list{};
  }

  void close() override {
    if (closed_) return;
    if (assigned_) {
      if (cb_.on_revoked) {
        try {
          cb_.on_revoked(all_);
        } catch (...) {  // nothing to report it to: the member is gone
        }
      }
      std::lock_guard<std::mutex> lk(mu_);
      assigned_ = false;
    }
    closed_ = true;
    std::lock_guard<std::mutex> lk(members_mu);
    members().erase({&log_, group_});
  }

private:
  error closed_error() const {
    return error{errc::unavailable, "consumer group " + group_ + ": this member is closed"};
  }

  status check_owned(const partition_offset& o, const char* what) const {
    const std::string where = "consumer group " + group_ + ": " + what + ": ";
    if (std::find(topics_.begin(), topics_.end(), o.t) == topics_.end())
      return error{errc::invalid, where + "topic " + topic_name(o.t) + " is not subscribed"};
    if (o.partition.get() < 0 || o.partition.get() >= log_.partitions())
      return error{errc::invalid, where + "no partition " + std::to_string(o.partition.get())};
    if (o.next.get() < 0) return error{errc::invalid, where + "negative offset"};
    std::lock_guard<std::mutex> lk(mu_);
    if (!assigned_)
      return error{errc::conflict, where + std::string(topic_name(o.t)) + "/" +
                                       std::to_string(o.partition.get()) +
                                       " is not assigned to this member (poll first)"};
    return ok_status();
  }

  // The first poll: every partition, from the committed offsets.
  status assign_all() {
    std::map<topic_partition, std::int64_t> pos;
    for (const auto& tp : all_) {
      auto c = log_.committed_offset(group_, tp.t, tp.partition);
      if (!c)
        return error{c.err().code, "consumer group " + group_ + ": " + c.err().message};
      pos[tp] = c->has_value() ? c->value().get() : 0;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      position_ = std::move(pos);
      assigned_ = true;
    }
    if (cb_.on_assigned) {
      try {
        cb_.on_assigned(all_);
      } catch (const std::exception& e) {
        deferred_ = error{errc::internal, "consumer group " + group_ +
                                              ": on_assigned threw: " + e.what()};
      } catch (...) {
        deferred_ = error{errc::internal, "consumer group " + group_ + ": on_assigned threw"};
      }
    }
    return ok_status();
  }

  // One pass over the partitions, each from its position: first an even
  // share of `max` from each, then whatever room is left.
  status read_round(std::size_t max, std::vector<consumed_record>& out) {
    const std::size_t n = all_.size();
    const std::size_t share = std::max<std::size_t>(1, max / n);
    const std::size_t start = next_start_++ % n;
    for (int pass = 0; pass < 2 && out.size() < max; ++pass) {
      for (std::size_t i = 0; i < n && out.size() < max; ++i) {
        const auto& tp = all_[(start + i) % n];
        std::int64_t from;
        {
          std::lock_guard<std::mutex> lk(mu_);
          from = position_[tp];
        }
        // The end is an atomic in memory: an idle partition costs no read.
        if (auto end = log_.end_offset(tp.t, tp.partition); end.ok() && from >= end->get())
          continue;
        const std::size_t room = max - out.size();
        const std::size_t want = pass == 0 ? std::min(share, room) : room;
        auto rs = log_.read(tp.t, tp.partition, log_offset{from}, want);
        if (!rs)
          return error{rs.err().code, "consumer group " + group_ + ": reading " +
                                          topic_name(tp.t) + "/" +
                                          std::to_string(tp.partition.get()) + ": " +
                                          rs.err().message};
        if (rs->empty()) continue;
        {
          std::lock_guard<std::mutex> lk(mu_);
          position_[tp] = rs->back().offset.get() + 1;
        }
        for (auto& r : rs.value()) {
          consumed_record c;
          static_cast<stored_record&>(c) = std::move(r);
          c.partition = tp.partition;
          out.push_back(std::move(c));
        }
      }
    }
    return ok_status();
  }

  rocks_log& log_;
  const std::string group_;
  const std::vector<topic> topics_;
  group_callbacks cb_;
  partition_list all_;  // sorted

  mutable std::mutex mu_;  // assigned_, position_
  bool assigned_ = false;
  std::map<topic_partition, std::int64_t> position_;

  bool closed_ = false;
  std::size_t next_start_ = 0;
  std::optional<error> deferred_;  // from a callback, reported by the next poll
};

}  // namespace

result<std::unique_ptr<group_consumer>> open_rocks_group_consumer(rocks_log& log,
                                                                  const std::string& group,
                                                                  std::vector<topic> topics,
                                                                  group_callbacks cb) {
  if (group.empty()) return error{errc::invalid, "consumer group: the group name is empty"};
  if (topics.empty())
    return error{errc::invalid, "consumer group " + group + ": no topic to read"};
  for (topic t : topics)
    if (!valid_topic(t))
      return error{errc::invalid, "consumer group " + group + ": unknown topic " +
                                      std::to_string(static_cast<int>(t))};
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  {
    std::lock_guard<std::mutex> lk(members_mu);
    if (!members().insert({&log, group}).second)
      return error{errc::conflict, "consumer group " + group +
                                       ": already has a member on this embedded log (it owns "
                                       "every partition)"};
  }
  return std::unique_ptr<group_consumer>(
      new rocks_group_consumer(log, group, std::move(topics), std::move(cb)));
}

}  // namespace kw::storage
