// The consumer-group port on Kafka: see kafka_group_consumer.hpp.
//
// Invariants:
//  - `assigned_` is this member's view of its assignment: a partition enters
//    it just before on_assigned is called and leaves it just after
//    on_revoked returns, so commits from inside on_revoked are accepted.
//    Both run inside rebalance_cb, which librdkafka calls from
//    rd_kafka_consumer_poll / rd_kafka_consumer_close, on the caller's thread.
//  - While poll() gathers a batch, `batch_` points at it: a revocation
//    removes the revoked partitions' records from it, and records of
//    partitions not in `assigned_` are never added, so the caller never sees
//    a record of a partition after on_revoked named it.
//  - librdkafka 2.0.2 aborts the process (an assert in
//    rd_kafka_sticky_assignor_state_destroy; its issue #4312, fixed in 2.3.0)
//    when a cooperative-sticky member is destroyed after a JoinGroup was
//    answered (the assignor is chosen) but before any SyncGroup gave it an
//    assignment (the assignor's state is still null): a member closed while
//    it first joins. close() therefore first lets a join in progress finish
//    (polling, within a bound), and if a member still got caught in that
//    window, leaves its handle open rather than destroying it. The join
//    state is followed through librdkafka's cgrp log (`watch`).
#include "storage/kafka_group_consumer.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include <sys/time.h>

#include "storage/kafka_errors.hpp"
#include "storage/kafka_handles.hpp"

namespace kw::storage {

namespace {

using steady = std::chrono::steady_clock;

// A commit refused because the group moved on: not a failure of the log.
bool is_rebalance_error(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
    case RD_KAFKA_RESP_ERR__STATE:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
      return true;
    default:
      return false;
  }
}

std::string tp_name(const topic_partition& tp) {
  return std::string(topic_name(tp.t)) + "/" + std::to_string(tp.partition.get());
}

// What librdkafka's callbacks reach through the handle's opaque. It is owned
// by the consumer, and outlives it (with the handle) when close() has to
// leave the handle open; `owner` is then null and the log is silent.
struct watch {
  class kafka_group_consumer* owner = nullptr;  // rebalance_cb: polling thread only
  bool forward_debug = false;                   // the user asked for debug logs
  std::atomic<bool> silent{false};              // the handle was left open
  std::atomic<bool> steady{false};              // the join state is "steady"
  std::atomic<std::uint64_t> join_changes{0};   // join state changes seen
  // A JoinGroup was answered (wait-metadata / wait-sync): the assignor is
  // chosen. Then a SyncGroup gave this member an assignment (wait-sync to
  // anything but init): the assignor has its state.
  std::atomic<bool> joined{false};
  std::atomic<bool> synced{false};
  // An (un)assignment waits for the application's (un)assign call.
  std::atomic<bool> call_pending{false};
  // The group sub-system has terminated (closing): it answers no more
  // requests, and a request sent to it (assign, unassign, even asking the
  // rebalance protocol) would wait forever.
  std::atomic<bool> terminated{false};
  // A LeaveGroup was answered (or failed): the coordinator has let go of
  // this member.
  std::atomic<bool> left{false};

  // Called with the state a "changed join state A -> B" line names.
  void join_state(const char* from, const char* to) {
    ++join_changes;
    steady.store(is(to, "steady"));
    call_pending.store(is(to, "wait-assign-call") || is(to, "wait-unassign-call"));
    if (is(to, "wait-metadata") || is(to, "wait-sync")) joined.store(true);
    if (is(from, "wait-sync") && !is(to, "init")) synced.store(true);
  }
  // A member whose destruction librdkafka 2.0.2 would abort.
  bool caught_mid_join() const { return joined.load() && !synced.load(); }
  // Closing now would be unsafe (see close()).
  bool mid_rebalance() const { return caught_mid_join() || call_pending.load(); }

private:
  // `s` starts with the state name `name`, then a space or the end.
  static bool is(const char* s, const char* name) {
    const std::size_t n = std::strlen(name);
    return std::strncmp(s, name, n) == 0 && (s[n] == ' ' || s[n] == '\0');
  }
};

class kafka_group_consumer final : public group_consumer {
public:
  kafka_group_consumer(kafka_options o, std::string group, std::vector<topic> topics,
                       group_callbacks cb)
      : opt_(std::move(o)), group_(std::move(group)), topics_(std::move(topics)),
        cb_(std::move(cb)), watch_(std::make_unique<watch>()) {
    watch_->owner = this;
    for (topic t : topics_) by_name_[kafka_topic_name(opt_.topic_prefix, t)] = t;
  }

  ~kafka_group_consumer() override {
    callbacks_on_ = false;  // leave without calling back
    close();
  }

  // Creates the handle, checks the topics, subscribes. Joining happens in poll.
  status start() {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    auto set = [&](const std::string& k, const std::string& v, bool user) -> status {
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return error{errc::invalid, std::string(user ? "kafka.properties." : "kafka: setting ") +
                                        k + ": " + errstr};
      return ok_status();
    };
    const std::string node = opt_.node_name.empty() ? "node" : opt_.node_name;
    // The session timeout and heartbeat (see the header) unless the user
    // set them.
    std::vector<std::pair<std::string, std::string>> before{
        {"client.id", "keepwatch-" + node + "-" + group_},
        {"session.timeout.ms", std::to_string(kafka_group_session_timeout_ms)},
        {"heartbeat.interval.ms", std::to_string(kafka_group_heartbeat_interval_ms)}};
    std::vector<std::pair<std::string, std::string>> ours{
        {"bootstrap.servers", opt_.bootstrap_servers},
        {"group.id", kafka_group_id(opt_.topic_prefix, group_)},
        {"group.instance.id", kafka_group_instance_id(opt_.topic_prefix, node, group_)},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"isolation.level", "read_committed"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"enable.partition.eof", "false"}};
    // The join state is followed through librdkafka's cgrp debug log (see
    // commit()): add "cgrp" to whatever debug contexts the user asked for,
    // and forward only what they asked for.
    auto user_debug = opt_.properties.find("debug");
    watch_->forward_debug = user_debug != opt_.properties.end() && !user_debug->second.empty();
    ours.emplace_back("debug", watch_->forward_debug ? user_debug->second + ",cgrp" : "cgrp");
    status st = ok_status();
    for (const auto& [k, v] : before)
      if (st) st = set(k, v, false);
    for (const auto& [k, v] : opt_.properties)
      if (st) st = set(k, v, true);
    for (const auto& [k, v] : ours)
      if (st) st = set(k, v, false);
    if (!st) {
      rd_kafka_conf_destroy(conf);
      return error{st.err().code, where() + st.err().message};
    }
    rd_kafka_conf_set_rebalance_cb(conf, &kafka_group_consumer::rebalance_cb);
    rd_kafka_conf_set_log_cb(conf, &kafka_group_consumer::log_cb);
    rd_kafka_conf_set_opaque(conf, watch_.get());
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      return error{errc::invalid, where() + "creating the consumer: " + errstr};
    }
    rd_kafka_poll_set_consumer(rk_);

    if (auto s = load_topics(); !s) return s;

    partitions_guard l{rd_kafka_topic_partition_list_new(static_cast<int>(topics_.size()))};
    for (const auto& [name, t] : by_name_)
      rd_kafka_topic_partition_list_add(l.l, name.c_str(), RD_KAFKA_PARTITION_UA);
    if (auto err = rd_kafka_subscribe(rk_, l.l); err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return to_error(classify(err, nullptr), where() + "subscribing", rd_kafka_err2str(err));
    return ok_status();
  }

  const std::string& group() const noexcept override { return group_; }

  result<std::vector<consumed_record>> poll(std::size_t max_records,
                                            std::chrono::milliseconds timeout) override {
    if (closed_) return closed_error();
    if (deferred_) return take_deferred();
    std::vector<consumed_record> out;
    if (max_records == 0) return out;
    const auto deadline = steady::now() + timeout;
    batch_ = &out;
    std::optional<error> failed;
    while (out.size() < max_records) {
      const int wait = out.empty() ? remaining_ms(deadline) : 0;
      message_guard m{rd_kafka_consumer_poll(rk_, wait)};
      if (!m.m) {
        if (out.empty() && remaining_ms(deadline) > 0) continue;
        break;
      }
      if (m.m->err) {
        if (m.m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        const auto cls = classify(m.m->err, nullptr);
        // Transient trouble (a broker away, a timeout): librdkafka retries by
        // itself; the caller just gets fewer records.
        if (cls == kafka_error_class::retriable) continue;
        std::string what = "consuming";
        if (m.m->rkt)
          what += std::string(" ") + rd_kafka_topic_name(m.m->rkt) + "/" +
                  std::to_string(m.m->partition);
        failed = to_error(cls, where() + what, rd_kafka_message_errstr(m.m));
        break;
      }
      if (!m.m->rkt) continue;
      auto it = by_name_.find(rd_kafka_topic_name(m.m->rkt));
      if (it == by_name_.end()) continue;
      const topic_partition tp{it->second, partition_id{m.m->partition}};
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (assigned_.count(tp) == 0) continue;  // fetched before a revocation
      }
      out.push_back(to_record(tp, m.m));
    }
    batch_ = nullptr;
    if (deferred_ && out.empty()) return take_deferred();
    if (failed) {
      if (out.empty()) return std::move(*failed);
      if (!deferred_) deferred_ = std::move(failed);  // after this batch
    }
    return out;
  }

  status commit(const std::vector<partition_offset>& offsets) override {
    if (closed_) return closed_error();
    for (const auto& o : offsets)
      if (auto s = check_owned(o, "commit"); !s) return s;
    if (offsets.empty()) return ok_status();
    // librdkafka before 2.10 (issue #4059): an OffsetCommit sent while this
    // member's JoinGroup is in flight is answered after the generation moved
    // on (ILLEGAL_GENERATION), and the member then treats its whole
    // assignment as lost. So outside the rebalance callbacks (where the
    // generation is current and nothing is in flight) commit only in the
    // steady join state, and otherwise refuse without sending anything.
    if (!in_callback_ && !watch_->steady.load())
      return error{errc::conflict, where() +
                                       "commit refused, the group is rebalancing: poll, then "
                                       "commit what is still assigned (or commit from on_revoked)"};
    const std::uint64_t seq = watch_->join_changes.load();
    partitions_guard l{rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()))};
    for (const auto& o : offsets)
      rd_kafka_topic_partition_list_add(l.l, name(o.t).c_str(), o.partition.get())->offset =
          o.next.get();
    rd_kafka_resp_err_t err = rd_kafka_commit(rk_, l.l, 0 /* synchronous */);
    std::string detail = rd_kafka_err2str(err);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < l.l->cnt; ++i)
        if (l.l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          err = l.l->elems[i].err;
          detail = std::string(l.l->elems[i].topic) + "/" +
                   std::to_string(l.l->elems[i].partition) + ": " + rd_kafka_err2str(err);
          break;
        }
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return ok_status();
    if (is_rebalance_error(err)) {
      // The coordinator is rebalancing and this member is about to rejoin:
      // commit nothing more until the join state says steady again (unless
      // it moved meanwhile).
      if (!in_callback_ && watch_->join_changes.load() == seq) watch_->steady.store(false);
      return error{errc::conflict, where() + "commit refused, the group is rebalancing (" +
                                       detail + "): poll, then commit what is still assigned"};
    }
    return to_error(classify(err, nullptr), where() + "commit", detail);
  }

  status seek(const std::vector<partition_offset>& offsets) override {
    if (closed_) return closed_error();
    for (const auto& o : offsets)
      if (auto s = check_owned(o, "seek"); !s) return s;
    if (offsets.empty()) return ok_status();
    std::vector<partition_offset> now;
    for (const auto& o : offsets) {
      const topic_partition tp{o.t, o.partition};
      if (assigning_.count(tp)) pending_seeks_[tp] = o.next.get();  // applied by the assign
      else now.push_back(o);
    }
    if (now.empty()) return ok_status();
    partitions_guard l{rd_kafka_topic_partition_list_new(static_cast<int>(now.size()))};
    for (const auto& o : now)
      rd_kafka_topic_partition_list_add(l.l, name(o.t).c_str(), o.partition.get())->offset =
          o.next.get();
    if (rd_kafka_error_t* e = rd_kafka_seek_partitions(
            rk_, l.l, std::max(1, static_cast<int>(opt_.timeout.count())))) {
      error out = to_error(classify(rd_kafka_error_code(e), nullptr), where() + "seek",
                           rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
      return out;
    }
    for (int i = 0; i < l.l->cnt; ++i)
      if (l.l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return to_error(classify(l.l->elems[i].err, nullptr),
                        where() + "seek " + l.l->elems[i].topic + "/" +
                            std::to_string(l.l->elems[i].partition),
                        rd_kafka_err2str(l.l->elems[i].err));
    return ok_status();
  }

  partition_list assignment() const override {
    std::lock_guard<std::mutex> lk(mu_);
    return partition_list(assigned_.begin(), assigned_.end());
  }

  void close() override {
    if (closed_ || closing_) return;
    closing_ = true;
    if (rk_) {
      finish_join();
      leave();
      rd_kafka_consumer_close(rk_);  // revokes everything through rebalance_cb
      if (watch_->caught_mid_join()) {
        // Destroying it would abort the process (see the top of this file):
        // the member has left the group; its handle and threads stay.
        std::fprintf(stderr,
                     "%s: closed while joining the group; the librdkafka handle is left open "
                     "(librdkafka before 2.3.0 aborts destroying it, its issue #4312)\n",
                     where().c_str());
        watch_->silent.store(true);
        watch_->owner = nullptr;
        watch_.release();
      } else {
        rd_kafka_destroy(rk_);
      }
      rk_ = nullptr;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      assigned_.clear();
    }
    closed_ = true;
  }

private:
  std::string where() const { return "kafka: consumer group " + group_ + ": "; }

  // Before closing, lets a rebalance in progress finish: a JoinGroup
  // answered and no SyncGroup yet (librdkafka 2.0.2 would abort destroying
  // the handle), or an (un)assignment waiting for its call (closing with it
  // queued, librdkafka 2.0.2 terminates the group on that call and then
  // hangs the revocation of close itself). Polls until neither holds, the
  // join fails, or the bound passes; records polled meanwhile are dropped
  // (nothing is committed for them).
  void finish_join() {
    const auto deadline = steady::now() + std::max(opt_.timeout, std::chrono::milliseconds(10000));
    while (watch_->mid_rebalance() && steady::now() < deadline)
      message_guard m{rd_kafka_consumer_poll(rk_, 50)};
  }

  // A static member (group.instance.id) does not leave its group when its
  // handle closes (KIP-345; librdkafka skips the LeaveGroup on close), so
  // its partitions would wait for its session to expire unless the same
  // instance comes back. A clean stop should hand them over at once:
  // unsubscribing first revokes everything (through rebalance_cb) and then
  // sends the LeaveGroup, which librdkafka 2.0.2 does send for a static
  // member that is not yet closing. Polls until the coordinator answered it,
  // or a bound passes (a member that never joined has nothing to leave).
  void leave() {
    if (watch_->terminated.load() || !watch_->joined.load()) return;
    if (rd_kafka_unsubscribe(rk_) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    const auto deadline = steady::now() + std::chrono::milliseconds(3000);
    while (!watch_->left.load() && steady::now() < deadline)
      message_guard m{rd_kafka_consumer_poll(rk_, 20)};
  }

  const std::string& name(topic t) const {
    for (const auto& [n, x] : by_name_)
      if (x == t) return n;
    static const std::string none;
    return none;
  }

  error closed_error() const {
    return error{errc::unavailable, where() + "this member is closed"};
  }

  error take_deferred() {
    error e = std::move(*deferred_);
    deferred_.reset();
    return e;
  }

  // Each subscribed topic must exist; remembers its partition count.
  status load_topics() {
    metadata_guard md;
    const auto err = rd_kafka_metadata(rk_, 1, nullptr, &md.md,
                                       std::max(1, static_cast<int>(opt_.timeout.count())));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return to_error(classify(err, nullptr),
                      where() + "no broker answered within " +
                          std::to_string(opt_.timeout.count()) + " ms",
                      rd_kafka_err2str(err));
    for (const auto& [n, t] : by_name_) {
      const rd_kafka_metadata_topic_t* found = nullptr;
      for (int i = 0; i < md.md->topic_cnt; ++i)
        if (n == md.md->topics[i].topic) found = &md.md->topics[i];
      if (!found || found->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || found->partition_cnt == 0)
        return error{errc::not_found,
                     where() + "topic " + n + " does not exist (the log creates it at open)"};
      if (found->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return to_error(classify(found->err, nullptr), where() + "topic " + n,
                        rd_kafka_err2str(found->err));
      partitions_[t] = found->partition_cnt;
    }
    return ok_status();
  }

  status check_owned(const partition_offset& o, const char* what) const {
    const std::string w = where() + what + ": ";
    auto pc = partitions_.find(o.t);
    if (pc == partitions_.end())
      return error{errc::invalid, w + "topic " + topic_name(o.t) + " is not subscribed"};
    if (o.partition.get() < 0 || o.partition.get() >= pc->second)
      return error{errc::invalid, w + "no partition " + std::to_string(o.partition.get())};
    if (o.next.get() < 0) return error{errc::invalid, w + "negative offset"};
    const topic_partition tp{o.t, o.partition};
    std::lock_guard<std::mutex> lk(mu_);
    if (assigned_.count(tp) == 0)
      return error{errc::conflict, w + tp_name(tp) + " is not assigned to this member"};
    return ok_status();
  }

  consumed_record to_record(const topic_partition& tp, const rd_kafka_message_t* m) {
    consumed_record r;
    fill_record(r, tp.t, m);
    r.partition = tp.partition;
    return r;
  }

  partition_list to_list(const rd_kafka_topic_partition_list_t* parts) const {
    partition_list out;
    for (int i = 0; parts && i < parts->cnt; ++i) {
      auto it = by_name_.find(parts->elems[i].topic);
      if (it != by_name_.end()) out.push_back({it->second, partition_id{parts->elems[i].partition}});
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  void call(const std::function<void(const partition_list&)>& f, const partition_list& l,
            const char* which) {
    if (!f || !callbacks_on_ || l.empty()) return;
    struct flag {
      bool& b;
      explicit flag(bool& x) : b(x) { b = true; }
      ~flag() { b = false; }
    } inside(in_callback_);
    try {
      f(l);
    } catch (const std::exception& e) {
      defer(error{errc::internal, where() + which + " threw: " + e.what()});
    } catch (...) {
      defer(error{errc::internal, where() + which + " threw"});
    }
  }

  void defer(error e) {
    if (!deferred_) deferred_ = std::move(e);
  }

  // librdkafka's log, from any of its threads: follows the join state
  // ("Group ... changed join state A -> B (state ...)", facility
  // CGRPJOINSTATE) and forwards to stderr, as librdkafka's own logger would,
  // every message below debug level and the debug messages the user asked for.
  static void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    auto* w = static_cast<watch*>(rd_kafka_opaque(rk));
    if (w && std::strcmp(fac, "CGRPJOINSTATE") == 0) {
      // "Group "g" changed join state A -> B (state up)"
      const char* arrow = std::strstr(buf, " -> ");
      const char* from = arrow ? std::strstr(buf, "join state ") : nullptr;
      if (from && from < arrow) w->join_state(from + 11, arrow + 4);
    } else if (w && std::strcmp(fac, "LEAVEGROUP") == 0) {
      // "LeaveGroup response received in state ..." (or "... error ...")
      w->left.store(true);
    } else if (w && std::strcmp(fac, "CGRPSTATE") == 0 && std::strstr(buf, " -> term ")) {
      // "Group "g" changed state up -> term (join-state init)"
      w->terminated.store(true);
    }
    if (w && w->silent.load()) return;
    if (level >= 7 && !(w && w->forward_debug)) return;
    timeval tv{};
    ::gettimeofday(&tv, nullptr);
    std::fprintf(stderr, "%%%i|%u.%03u|%s|%s| %s\n", level, static_cast<unsigned>(tv.tv_sec),
                 static_cast<unsigned>(tv.tv_usec / 1000), fac, rd_kafka_name(rk), buf);
  }

  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts, void* opaque) {
    if (auto* self = static_cast<watch*>(opaque)->owner) self->on_rebalance(rk, err, parts);
  }

  void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                    rd_kafka_topic_partition_list_t* parts) {
    const partition_list list = to_list(parts);
    if (watch_->terminated.load()) {
      // Closing, and the group is gone: nothing to (un)assign, and asking
      // it anything would never return. The application still hears of it.
      if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) return;
      call(cb_.on_revoked, list, "on_revoked");
      drop(list);
      return;
    }
    // NULL while the handle is closing (its op queue no longer answers):
    // then the protocol of the last rebalance, or the configured one.
    if (const char* proto = rd_kafka_rebalance_protocol(rk))
      if (std::strcmp(proto, "NONE") != 0) cooperative_ = std::strcmp(proto, "COOPERATIVE") == 0;
    const bool cooperative = cooperative_;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        assigned_.insert(list.begin(), list.end());
      }
      assigning_.insert(list.begin(), list.end());
      pending_seeks_.clear();
      call(cb_.on_assigned, list, "on_assigned");
      assigning_.clear();
      // Start where on_assigned sought; otherwise at the committed offset
      // (or the earliest record): RD_KAFKA_OFFSET_INVALID as given.
      for (int i = 0; i < parts->cnt; ++i) {
        auto it = by_name_.find(parts->elems[i].topic);
        if (it == by_name_.end()) continue;
        auto s = pending_seeks_.find({it->second, partition_id{parts->elems[i].partition}});
        if (s != pending_seeks_.end()) parts->elems[i].offset = s->second;
      }
      pending_seeks_.clear();
      if (cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts)) {
          defer(to_error(classify(rd_kafka_error_code(e), nullptr), where() + "assigning",
                         rd_kafka_error_string(e)));
          rd_kafka_error_destroy(e);
        }
      } else if (auto e = rd_kafka_assign(rk, parts); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        defer(to_error(classify(e, nullptr), where() + "assigning", rd_kafka_err2str(e)));
      }
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      const bool lost = rd_kafka_assignment_lost(rk) != 0;
      call(lost && cb_.on_lost ? cb_.on_lost : cb_.on_revoked, list,
           lost && cb_.on_lost ? "on_lost" : "on_revoked");
      drop(list);
      if (cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts)) {
          defer(to_error(classify(rd_kafka_error_code(e), nullptr), where() + "unassigning",
                         rd_kafka_error_string(e)));
          rd_kafka_error_destroy(e);
        }
      } else {
        rd_kafka_assign(rk, nullptr);
      }
      return;
    }
    // A failed rebalance: everything goes (librdkafka's rule), as lost.
    const partition_list all = assignment();
    call(cb_.on_lost ? cb_.on_lost : cb_.on_revoked, all, cb_.on_lost ? "on_lost" : "on_revoked");
    drop(all);
    rd_kafka_assign(rk, nullptr);
    defer(to_error(classify(err, nullptr), where() + "rebalance failed", rd_kafka_err2str(err)));
  }

  // Forgets revoked partitions, and their records in the batch being gathered.
  void drop(const partition_list& list) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (const auto& tp : list) assigned_.erase(tp);
    }
    if (batch_) {
      const std::set<topic_partition> gone(list.begin(), list.end());
      batch_->erase(std::remove_if(batch_->begin(), batch_->end(),
                                   [&](const consumed_record& r) {
                                     return gone.count({r.t, r.partition}) != 0;
                                   }),
                    batch_->end());
    }
  }

  const kafka_options opt_;
  const std::string group_;
  const std::vector<topic> topics_;
  group_callbacks cb_;
  std::map<std::string, topic> by_name_;  // Kafka topic name -> topic
  std::map<topic, int> partitions_;       // partition count per subscribed topic

  rd_kafka_t* rk_ = nullptr;
  mutable std::mutex mu_;  // assigned_
  std::set<topic_partition> assigned_;

  std::unique_ptr<watch> watch_;  // the handle's opaque (log_cb, rebalance_cb)

  // Polling thread only.
  bool in_callback_ = false;  // inside on_assigned / on_revoked / on_lost
  bool callbacks_on_ = true;
  bool closing_ = false;
  bool closed_ = false;
  bool cooperative_ = true;  // cooperative-sticky, as configured, until a rebalance says
  std::set<topic_partition> assigning_;                  // inside on_assigned
  std::map<topic_partition, std::int64_t> pending_seeks_;  // seeks made there
  std::vector<consumed_record>* batch_ = nullptr;
  std::optional<error> deferred_;  // reported by the next poll
};

}  // namespace

std::string kafka_group_id(const std::string& prefix, const std::string& group) {
  return prefix + group;
}

std::string kafka_group_instance_id(const std::string& prefix, const std::string& node,
                                    const std::string& group) {
  return prefix + "keepwatch-" + (node.empty() ? std::string("node") : node) + "-" + group;
}

result<std::unique_ptr<group_consumer>> open_kafka_group_consumer(const kafka_options& options,
                                                                  const std::string& group,
                                                                  std::vector<topic> topics,
                                                                  group_callbacks cb) {
  if (group.empty()) return error{errc::invalid, "kafka: consumer group: the group name is empty"};
  if (options.bootstrap_servers.empty())
    return error{errc::invalid, "kafka: consumer group " + group + ": bootstrap_servers is empty"};
  if (options.timeout.count() <= 0)
    return error{errc::invalid, "kafka: consumer group " + group + ": the timeout must be positive"};
  if (topics.empty())
    return error{errc::invalid, "kafka: consumer group " + group + ": no topic to read"};
  for (topic t : topics)
    if (!valid_topic(t))
      return error{errc::invalid, "kafka: consumer group " + group + ": unknown topic " +
                                      std::to_string(static_cast<int>(t))};
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  auto c = std::make_unique<kafka_group_consumer>(options, group, std::move(topics), std::move(cb));
  if (auto s = c->start(); !s) return s.err();
  return std::unique_ptr<group_consumer>(std::move(c));
}

}  // namespace kw::storage
