// The group_consumer contract, run against every log backend (TestWithParam,
// like event_log_test): a member reads every record once, in per-partition
// order; a new member resumes after the committed offsets; without a commit
// it reads again (at-least-once); groups are independent; seek moves where
// reading starts (a rebuild from 0). Backends: "rocks" (RocksLog in a
// temporary directory) and "kafka" (KafkaLog on its own dev broker, with its
// own topic prefix; topics created through kafka_log::open's create_topic
// hook). Members are opened through open_group_consumer, which picks the
// adapter by the log's type.
//
// Then the backend-specific parts: on the embedded log one member owns
// everything and a second member of the group is refused; on Kafka two
// members share the partitions, the cooperative-sticky assignor moving only
// some of them when the second joins, and together they see every record
// exactly once when each commits what it processed (also from on_revoked).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "storage/dev_broker.hpp"
#include "storage/event_log.hpp"
#include "storage/group_consumer.hpp"
#include "storage/kafka_group_consumer.hpp"
#include "storage/kafka_log.hpp"
#include "storage/rocks_group_consumer.hpp"
#include "storage/rocks_log.hpp"

namespace kw::storage {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr int partitions = 4;

// One backend's log, and members of groups on it.
class group_env {
public:
  virtual ~group_env() = default;
  virtual result<std::unique_ptr<event_log>> open_log() = 0;
  virtual result<std::unique_ptr<group_consumer>> open_member(event_log& log,
                                                              const std::string& group,
                                                              std::vector<topic> topics,
                                                              group_callbacks cb) = 0;
};

class rocks_env final : public group_env {
public:
  rocks_env() {
    char tmpl[] = "/tmp/kw-group-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~rocks_env() override { std::filesystem::remove_all(dir_); }
  result<std::unique_ptr<event_log>> open_log() override {
    auto r = rocks_log::open(dir_, partitions, nullptr);
    if (!r) return r.err();
    return std::unique_ptr<event_log>(std::move(r.value()));
  }
  result<std::unique_ptr<group_consumer>> open_member(event_log& log, const std::string& group,
                                                      std::vector<topic> topics,
                                                      group_callbacks cb) override {
    return open_group_consumer(log, group, std::move(topics), std::move(cb));
  }

private:
  std::string dir_;
};

// A dev broker of its own, and a topic prefix of its own, per test.
class kafka_env final : public group_env {
public:
  kafka_env() {
    auto b = dev_broker::start(1);
    if (b) broker_ = std::move(b.value());
    static std::atomic<int> n{0};
    options_.topic_prefix =
        "gtest" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".";
    options_.partitions = partitions;
    options_.node_name = "test";
    options_.timeout = 20s;
    options_.append_timeout = 5s;
    // Short group timers: the mock cluster waits session.timeout.ms - 1 s
    // for members to rejoin at each rebalance.
    options_.properties = {{"session.timeout.ms", "4000"},
                           {"heartbeat.interval.ms", "250"},
                           {"fetch.wait.max.ms", "20"}};
    if (const char* d = std::getenv("KW_TEST_KAFKA_DEBUG")) options_.properties["debug"] = d;
    if (broker_) {
      options_.bootstrap_servers = broker_->bootstrap();
      options_.create_topic = [b = broker_.get()](const kafka_topic_spec& s) {
        return b->create_topic(s.name, s.partitions, s.replication_factor);
      };
    }
  }
  result<std::unique_ptr<event_log>> open_log() override {
    if (!broker_) return error{errc::unavailable, "dev broker did not start"};
    auto r = kafka_log::open(options_, nullptr);
    if (!r) return r.err();
    return std::unique_ptr<event_log>(std::move(r.value()));
  }
  result<std::unique_ptr<group_consumer>> open_member(event_log& log, const std::string& group,
                                                      std::vector<topic> topics,
                                                      group_callbacks cb) override {
    return open_group_consumer(log, group, std::move(topics), std::move(cb), &options_);
  }
  const kafka_options& options() const { return options_; }

private:
  std::unique_ptr<dev_broker> broker_;
  kafka_options options_;
};

struct backend {
  std::string name;
  std::function<std::unique_ptr<group_env>()> make;
};

void PrintTo(const backend& b, std::ostream* os) { *os << b.name; }

std::vector<backend> backends() {
  return {{"rocks", [] { return std::unique_ptr<group_env>(new rocks_env()); }},
          {"kafka", [] { return std::unique_ptr<group_env>(new kafka_env()); }}};
}

record rec(topic t, std::string key, std::string value) {
  record r;
  r.t = t;
  r.key = std::move(key);
  r.value = std::move(value);
  r.headers = {{"ce_type", "test.v1"}, {"n", r.value}};
  return r;
}

// A record as the log acknowledged it.
struct acked {
  topic t;
  int p;
  std::int64_t offset;
  std::string key, value;
};
using record_id = std::tuple<int, int, std::int64_t>;  // (topic, partition, offset)
record_id id_of(topic t, int p, std::int64_t o) { return {static_cast<int>(t), p, o}; }
record_id id_of(const acked& a) { return id_of(a.t, a.p, a.offset); }
record_id id_of(const consumed_record& r) { return id_of(r.t, r.partition.get(), r.offset.get()); }

std::string str(const partition_list& l) {
  std::string s = "[";
  for (const auto& tp : l)
    s += std::string(s.size() > 1 ? " " : "") + topic_name(tp.t) + "/" +
         std::to_string(tp.partition.get());
  return s + "]";
}

partition_list all_of(std::vector<topic> ts) {
  partition_list out;
  for (topic t : ts)
    for (int p = 0; p < partitions; ++p) out.push_back({t, partition_id{p}});
  std::sort(out.begin(), out.end());
  return out;
}

// A member as a projection would drive it: it processes what poll returns,
// remembers the next offset of each partition, and (if `commits`) commits
// after each batch and, for the revoked partitions, from on_revoked.
class member {
public:
  bool commits = true;
  std::vector<partition_list> assigned, revoked, lost;
  std::vector<consumed_record> seen;
  std::map<topic_partition, std::int64_t> pending;  // processed, not committed
  std::function<void(const partition_list&)> on_assigned_hook;
  std::unique_ptr<group_consumer> c;

  group_callbacks callbacks() {
    group_callbacks cb;
    cb.on_assigned = [this](const partition_list& l) {
      assigned.push_back(l);
      if (on_assigned_hook) on_assigned_hook(l);
    };
    cb.on_revoked = [this](const partition_list& l) {
      revoked.push_back(l);
      if (commits) commit_pending(l);
      for (const auto& tp : l) pending.erase(tp);
    };
    cb.on_lost = [this](const partition_list& l) {
      lost.push_back(l);
      for (const auto& tp : l) pending.erase(tp);
    };
    return cb;
  }

  // One poll; returns how many records it got.
  std::size_t poll(std::chrono::milliseconds timeout, std::size_t max = 64) {
    auto r = c->poll(max, timeout);
    EXPECT_TRUE(r.ok()) << r.err().message;
    if (!r.ok()) return 0;
    for (auto& x : r.value()) {
      pending[{x.t, x.partition}] = x.offset.get() + 1;
      seen.push_back(std::move(x));
    }
    if (commits && !r->empty()) commit_pending(c->assignment());
    return r->size();
  }

  // Commits what was processed of `l`; a refusal during a rebalance leaves
  // it pending (it is committed later, or from on_revoked).
  void commit_pending(const partition_list& l) {
    std::vector<partition_offset> offs;
    for (const auto& tp : l) {
      auto it = pending.find(tp);
      if (it != pending.end()) offs.push_back({tp.t, tp.partition, log_offset{it->second}});
    }
    if (offs.empty()) return;
    auto s = c->commit(offs);
    if (s.ok()) {
      for (const auto& o : offs) pending.erase({o.t, o.partition});
      ++commits_ok;
    } else {
      EXPECT_EQ(s.err().code, errc::conflict) << s.err().message;
      ++commits_refused;
    }
  }

  int commits_ok = 0, commits_refused = 0;
};

class group_consumer_test : public ::testing::TestWithParam<backend> {
protected:
  void SetUp() override {
    env_ = GetParam().make();
    auto r = env_->open_log();
    ASSERT_TRUE(r.ok()) << r.err().message;
    log_ = std::move(r.value());
  }
  void TearDown() override {
    log_.reset();
    env_.reset();
  }

  // Appends `n` records to every partition of `t` (one append per
  // partition), remembering them in acked_.
  void append(topic t, int n, const std::string& tag) {
    for (int p = 0; p < partitions; ++p) {
      std::vector<record> rs;
      for (int i = 0; i < n; ++i)
        rs.push_back(rec(t, "tenant" + std::to_string(p), tag + "-" + std::to_string(p) + "-" +
                                                               std::to_string(i)));
      auto ack = log_->append_sync(partition_id{p}, rs);
      ASSERT_TRUE(ack.ok()) << ack.err().message;
      for (int i = 0; i < n; ++i)
        acked_.push_back({t, p, ack->offsets[i].get(), rs[i].key, rs[i].value});
    }
  }

  void open(member& m, const std::string& group, std::vector<topic> topics = {topic::events}) {
    auto r = env_->open_member(*log_, group, std::move(topics), m.callbacks());
    ASSERT_TRUE(r.ok()) << r.err().message;
    m.c = std::move(r.value());
  }

  // Polls the members in turn until together they have seen `n` records
  // (or the time is up), then a little longer to catch any extra.
  void drain(const std::vector<member*>& ms, std::size_t n, std::chrono::seconds limit = 60s) {
    const auto deadline = steady::now() + limit;
    auto total = [&] {
      std::size_t s = 0;
      for (auto* m : ms) s += m->seen.size();
      return s;
    };
    while (total() < n && steady::now() < deadline)
      for (auto* m : ms) m->poll(100ms);
    for (int i = 0; i < 3; ++i)
      for (auto* m : ms) m->poll(100ms);
  }

  // Polls until `m` has an assignment.
  void await_assignment(member& m, std::chrono::seconds limit = 30s) {
    const auto deadline = steady::now() + limit;
    while (m.c->assignment().empty() && steady::now() < deadline) m.poll(100ms);
    ASSERT_FALSE(m.c->assignment().empty()) << "no assignment within the limit";
  }

  // Every record of `want` seen exactly once across `ms`, nothing else, and
  // each partition's records in log order per member.
  void expect_exactly(const std::vector<member*>& ms, const std::vector<acked>& want) {
    std::map<record_id, const acked*> by_id;
    for (const auto& a : want) by_id[id_of(a)] = &a;
    std::map<record_id, int> count;
    for (auto* m : ms) {
      std::map<std::pair<int, int>, std::int64_t> last;
      for (const auto& r : m->seen) {
        ++count[id_of(r)];
        auto k = std::make_pair(static_cast<int>(r.t), r.partition.get());
        auto it = last.find(k);
        if (it != last.end()) {
          EXPECT_GT(r.offset.get(), it->second) << "out of order in " << topic_name(r.t) << "/"
                                                << r.partition.get();
        }
        last[k] = r.offset.get();
        auto w = by_id.find(id_of(r));
        if (w == by_id.end()) {
          ADD_FAILURE() << "unexpected record " << topic_name(r.t) << "/" << r.partition.get()
                        << "@" << r.offset.get() << " " << r.value;
          continue;
        }
        EXPECT_EQ(r.key, w->second->key);
        EXPECT_EQ(r.value, w->second->value);
        ASSERT_EQ(r.headers.size(), 2u);
        EXPECT_EQ(r.headers[0].name, "ce_type");
        EXPECT_EQ(r.headers[1].value, r.value);
      }
    }
    for (const auto& [id, n] : count)
      EXPECT_LE(n, 1) << "read " << n << " times: topic " << std::get<0>(id) << " partition "
                      << std::get<1>(id) << " offset " << std::get<2>(id);
    for (const auto& a : want)
      EXPECT_EQ(count.count(id_of(a)), 1u)
          << "missing " << topic_name(a.t) << "/" << a.p << "@" << a.offset;
  }

  std::vector<acked> acked_where(const std::function<bool(const acked&)>& f) const {
    std::vector<acked> out;
    for (const auto& a : acked_)
      if (f(a)) out.push_back(a);
    return out;
  }

  std::unique_ptr<group_env> env_;
  std::unique_ptr<event_log> log_;
  std::vector<acked> acked_;
};

TEST_P(group_consumer_test, a_member_reads_every_record_once_in_partition_order) {
  append(topic::events, 10, "e");
  append(topic::checks, 5, "c");
  append(topic::deadletter, 1, "d");  // not subscribed
  member m;
  open(m, "dashboard", {topic::events, topic::checks});
  EXPECT_EQ(m.c->group(), "dashboard");
  drain({&m}, 60);
  expect_exactly({&m}, acked_where([](const acked& a) { return a.t != topic::deadletter; }));

  // Everything was assigned to the one member, once.
  const auto all = all_of({topic::events, topic::checks});
  EXPECT_EQ(m.c->assignment(), all);
  ASSERT_EQ(m.assigned.size(), 1u);
  EXPECT_EQ(m.assigned[0], all);
  EXPECT_TRUE(m.revoked.empty());

  // Records appended later arrive too.
  append(topic::checks, 2, "late");
  drain({&m}, 68);
  expect_exactly({&m}, acked_where([](const acked& a) { return a.t != topic::deadletter; }));

  m.c->close();
  ASSERT_EQ(m.revoked.size(), 1u);
  EXPECT_EQ(m.revoked[0], all);
  EXPECT_TRUE(m.c->assignment().empty());
  EXPECT_EQ(m.c->poll(10, 10ms).err().code, errc::unavailable);
}

TEST_P(group_consumer_test, a_new_member_resumes_after_the_committed_offsets) {
  append(topic::events, 10, "a");
  {
    member m;
    m.commits = false;
    open(m, "usage");
    drain({&m}, 40);
    ASSERT_EQ(m.seen.size(), 40u);
    // It processed the first half of each partition only.
    std::vector<partition_offset> offs;
    for (int p = 0; p < partitions; ++p) {
      auto half = acked_where([p](const acked& a) { return a.p == p; });
      offs.push_back({topic::events, partition_id{p}, log_offset{half[4].offset + 1}});
    }
    ASSERT_TRUE(m.c->commit(offs).ok());
    m.c->close();
  }
  append(topic::events, 2, "b");
  member next;
  open(next, "usage");
  drain({&next}, 28);
  std::map<int, int> index;  // per partition, the record's index
  expect_exactly({&next}, acked_where([&](const acked& a) { return index[a.p]++ >= 5; }));
}

TEST_P(group_consumer_test, without_a_commit_the_next_member_reads_again) {
  append(topic::events, 5, "a");
  {
    member m;
    m.commits = false;
    open(m, "audit");
    drain({&m}, 20);
    expect_exactly({&m}, acked_);
    m.c->close();
  }
  member again;
  open(again, "audit");
  drain({&again}, 20);
  expect_exactly({&again}, acked_);
}

TEST_P(group_consumer_test, another_group_reads_everything_independently) {
  append(topic::events, 5, "a");
  member billing;
  open(billing, "billing");
  drain({&billing}, 20);
  expect_exactly({&billing}, acked_);
  EXPECT_GT(billing.commits_ok, 0);

  member dashboard;  // while billing is still a member of its own group
  open(dashboard, "dashboard");
  drain({&dashboard}, 20);
  expect_exactly({&dashboard}, acked_);
  billing.c->close();

  member billing2;  // billing committed everything: nothing left for it
  open(billing2, "billing");
  await_assignment(billing2);
  billing2.poll(1000ms);
  EXPECT_TRUE(billing2.seen.empty());
}

TEST_P(group_consumer_test, seek_in_on_assigned_replays_from_the_start) {
  append(topic::events, 5, "a");
  {
    member m;
    open(m, "rebuild");
    drain({&m}, 20);
    m.c->close();
  }
  member r;
  r.on_assigned_hook = [&r](const partition_list& l) {
    std::vector<partition_offset> offs;
    for (const auto& tp : l) offs.push_back({tp.t, tp.partition, log_offset{0}});
    auto s = r.c->seek(offs);
    EXPECT_TRUE(s.ok()) << s.err().message;
  };
  open(r, "rebuild");
  drain({&r}, 20);
  expect_exactly({&r}, acked_);

  // A seek between polls: partition 2 again from its fourth record.
  auto p2 = acked_where([](const acked& a) { return a.p == 2; });
  ASSERT_TRUE(r.c->seek({{topic::events, partition_id{2}, log_offset{p2[3].offset}}}).ok());
  r.seen.clear();
  drain({&r}, 2);
  expect_exactly({&r}, {p2[3], p2[4]});
}

TEST_P(group_consumer_test, commits_and_seeks_are_checked) {
  member m;
  open(m, "checked");
  // Nothing is assigned before the member has joined.
  auto early = m.c->commit({{topic::events, partition_id{0}, log_offset{1}}});
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.err().code, errc::conflict);
  await_assignment(m);
  EXPECT_TRUE(m.c->commit({}).ok());
  EXPECT_EQ(m.c->commit({{topic::checks, partition_id{0}, log_offset{0}}}).err().code,
            errc::invalid);  // not subscribed
  EXPECT_EQ(m.c->commit({{topic::events, partition_id{partitions}, log_offset{0}}}).err().code,
            errc::invalid);
  EXPECT_EQ(m.c->commit({{topic::events, partition_id{0}, log_offset{-1}}}).err().code,
            errc::invalid);
  EXPECT_EQ(m.c->seek({{topic::events, partition_id{-1}, log_offset{0}}}).err().code,
            errc::invalid);
  EXPECT_TRUE(m.c->commit({{topic::events, partition_id{0}, log_offset{0}}}).ok());
  m.c->close();
  m.c->close();  // idempotent
  EXPECT_EQ(m.c->commit({{topic::events, partition_id{0}, log_offset{0}}}).err().code,
            errc::unavailable);
  EXPECT_EQ(m.c->seek({}).err().code, errc::unavailable);
  // Bad arguments at open.
  group_callbacks none;
  EXPECT_EQ(env_->open_member(*log_, "", {topic::events}, none).err().code, errc::invalid);
  EXPECT_EQ(env_->open_member(*log_, "g", {}, none).err().code, errc::invalid);
}

INSTANTIATE_TEST_SUITE_P(backends, group_consumer_test, ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<backend>& info) { return info.param.name; });

// ---- the embedded log: one member owns everything -------------------------

TEST(rocks_group_consumer_test, a_group_has_one_member_on_an_embedded_log) {
  rocks_env env;
  auto log = env.open_log();
  ASSERT_TRUE(log.ok()) << log.err().message;
  auto first = env.open_member(*log.value(), "g", {topic::events}, {});
  ASSERT_TRUE(first.ok());
  auto second = env.open_member(*log.value(), "g", {topic::events}, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.err().code, errc::conflict);
  EXPECT_TRUE(env.open_member(*log.value(), "other", {topic::events}, {}).ok());
  first.value()->close();
  EXPECT_TRUE(env.open_member(*log.value(), "g", {topic::events}, {}).ok());
}

TEST(rocks_group_consumer_test, a_batch_takes_from_every_partition) {
  rocks_env env;
  auto log = env.open_log();
  ASSERT_TRUE(log.ok());
  for (int p = 0; p < partitions; ++p)
    for (int i = 0; i < 50; ++i)
      ASSERT_TRUE(log.value()->append_sync(partition_id{p}, {rec(topic::events, "t", "v")}).ok());
  auto c = env.open_member(*log.value(), "g", {topic::events}, {});
  ASSERT_TRUE(c.ok());
  auto batch = c.value()->poll(8, 100ms);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 8u);
  std::set<int> ps;
  for (const auto& r : batch.value()) ps.insert(r.partition.get());
  EXPECT_EQ(ps.size(), static_cast<std::size_t>(partitions));
}

// ---- Kafka: members share the partitions -----------------------------------

class kafka_group_test : public ::testing::Test {
protected:
  void SetUp() override {
    auto r = env_.open_log();
    ASSERT_TRUE(r.ok()) << r.err().message;
    log_ = std::move(r.value());
  }
  void append_all(int n, const std::string& tag) {
    for (int p = 0; p < partitions; ++p) {
      std::vector<record> rs;
      for (int i = 0; i < n; ++i)
        rs.push_back(rec(topic::events, "t" + std::to_string(p), tag + std::to_string(i)));
      auto ack = log_->append_sync(partition_id{p}, rs);
      ASSERT_TRUE(ack.ok()) << ack.err().message;
      for (int i = 0; i < n; ++i)
        ids_.insert(id_of(topic::events, p, ack->offsets[i].get()));
    }
  }
  // Each member as a node of its own would be (its group.instance.id).
  void open(member& m, const std::string& group, const std::string& node = "test",
            std::map<std::string, std::string> properties = {}) {
    kafka_options o = env_.options();
    o.node_name = node;
    for (auto& [k, v] : properties) o.properties[k] = v;
    auto r = open_kafka_group_consumer(o, group, {topic::events}, m.callbacks());
    ASSERT_TRUE(r.ok()) << r.err().message;
    m.c = std::move(r.value());
  }

  // Polls both until together they have seen `n` records, then a little more.
  void drain_until(member& a, member& b, std::size_t n) {
    const auto deadline = steady::now() + 60s;
    while (a.seen.size() + b.seen.size() < n && steady::now() < deadline) {
      a.poll(100ms);
      b.poll(100ms);
    }
    for (int i = 0; i < 3; ++i) {
      a.poll(100ms);
      b.poll(100ms);
    }
  }

  kafka_env env_;
  std::unique_ptr<event_log> log_;
  std::set<record_id> ids_;
};

TEST_F(kafka_group_test, open_group_consumer_needs_the_kafka_options) {
  // open_group_consumer cannot reach a kafka_log's options: it says so.
  auto r = open_group_consumer(*log_, "g", {topic::events}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid);
}

TEST_F(kafka_group_test, a_missing_topic_is_a_clear_error_at_open) {
  kafka_options o = env_.options();
  o.topic_prefix = "nothing-here.";
  auto r = open_kafka_group_consumer(o, "g", {topic::events}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::not_found) << r.err().message;
}

TEST_F(kafka_group_test, two_members_share_the_partitions_cooperatively_and_see_each_record_once) {
  append_all(10, "before");
  member a, b;
  open(a, "projection", "a");
  // a alone: everything is a's; it reads and commits a part of it.
  const auto deadline = steady::now() + 30s;
  while (a.c->assignment() != all_of({topic::events}) && steady::now() < deadline) a.poll(100ms);
  ASSERT_EQ(a.c->assignment(), all_of({topic::events}));
  a.poll(200ms, 8);

  open(b, "projection", "b");
  // Both poll until the partitions are split between them.
  const auto split_deadline = steady::now() + 60s;
  auto split = [&] {
    auto x = a.c->assignment(), y = b.c->assignment();
    if (x.empty() || y.empty() || x.size() + y.size() != static_cast<std::size_t>(partitions))
      return false;
    std::vector<topic_partition> both;
    std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(both));
    return both.empty();
  };
  while (!split() && steady::now() < split_deadline) {
    a.poll(100ms, 4);
    b.poll(100ms, 4);
  }
  ASSERT_TRUE(split()) << "a " << str(a.c->assignment()) << " b " << str(b.c->assignment());
  const auto kept = a.c->assignment(), moved = b.c->assignment();
  EXPECT_EQ(kept.size(), 2u);
  EXPECT_EQ(moved.size(), 2u);

  // Cooperative: a was assigned once (everything) and gave up only what
  // moved to b; nothing was taken from it and handed back.
  auto history = [](const member& m) {
    std::string s = "assigned";
    for (const auto& l : m.assigned) s += " " + str(l);
    s += ", revoked";
    for (const auto& l : m.revoked) s += " " + str(l);
    s += ", lost";
    for (const auto& l : m.lost) s += " " + str(l);
    return s;
  };
  ASSERT_EQ(a.assigned.size(), 1u) << "a was assigned again (an eager rebalance?): " << history(a);
  EXPECT_EQ(a.assigned[0], all_of({topic::events}));
  partition_list revoked;
  for (const auto& l : a.revoked) revoked.insert(revoked.end(), l.begin(), l.end());
  std::sort(revoked.begin(), revoked.end());
  EXPECT_EQ(revoked, moved) << "revoked " << str(revoked);
  EXPECT_TRUE(a.lost.empty());
  ASSERT_EQ(b.assigned.size(), 1u);
  EXPECT_EQ(b.assigned[0], moved);

  // More records; together they see every record exactly once.
  append_all(10, "after");
  drain_until(a, b, ids_.size());
  std::map<record_id, int> count;
  for (auto* m : {&a, &b})
    for (const auto& r : m->seen) ++count[id_of(r)];
  for (const auto& [id, n] : count) {
    EXPECT_EQ(n, 1) << "partition " << std::get<1>(id) << " offset " << std::get<2>(id);
    EXPECT_EQ(ids_.count(id), 1u);
  }
  EXPECT_EQ(count.size(), ids_.size());
  // Each read only its own partitions after the split.
  for (const auto& r : b.seen)
    EXPECT_TRUE(std::count(moved.begin(), moved.end(), topic_partition{r.t, r.partition}));

  // b leaves: a gets b's partitions back, incrementally, and resumes after
  // b's commits.
  b.c->close();
  EXPECT_EQ(b.revoked.size(), 1u);
  append_all(3, "last");
  const auto back_deadline = steady::now() + 60s;
  while ((a.c->assignment() != all_of({topic::events}) || a.seen.size() + b.seen.size() < ids_.size()) &&
         steady::now() < back_deadline)
    a.poll(100ms);
  EXPECT_EQ(a.c->assignment(), all_of({topic::events}));
  ASSERT_EQ(a.assigned.size(), 2u);
  EXPECT_EQ(a.assigned[1], moved);
  count.clear();
  for (auto* m : {&a, &b})
    for (const auto& r : m->seen) ++count[id_of(r)];
  for (const auto& [id, n] : count) EXPECT_EQ(n, 1) << "offset " << std::get<2>(id);
  EXPECT_EQ(count.size(), ids_.size());
  EXPECT_TRUE(a.lost.empty()) << history(a);
  EXPECT_TRUE(b.lost.empty()) << history(b);
}

// Members are static (group.instance.id): librdkafka sends no LeaveGroup
// when a static member closes, so its partitions would wait for its session
// to expire. close() leaves at once. With a 9 s session, the dev broker
// hands b's partitions to a about 8 s after b's LeaveGroup (it waits
// session.timeout.ms - 1 s for members to rejoin); without the LeaveGroup,
// b's session would first have to expire: about 17 s or more.
TEST_F(kafka_group_test, a_static_member_that_closes_leaves_its_group_at_once) {
  const std::map<std::string, std::string> long_session{{"session.timeout.ms", "9000"},
                                                        {"heartbeat.interval.ms", "1000"}};
  member a, b;
  open(a, "leaving", "a", long_session);
  open(b, "leaving", "b", long_session);
  const auto deadline = steady::now() + 60s;
  while ((a.c->assignment().empty() || b.c->assignment().empty()) && steady::now() < deadline) {
    a.poll(100ms);
    b.poll(100ms);
  }
  ASSERT_FALSE(a.c->assignment().empty());
  ASSERT_FALSE(b.c->assignment().empty());
  const auto closed = steady::now();
  b.c->close();
  while (a.c->assignment() != all_of({topic::events}) && steady::now() < deadline) a.poll(100ms);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - closed);
  EXPECT_EQ(a.c->assignment(), all_of({topic::events}));
  EXPECT_LT(took, 13s) << "b's partitions reached a " << took.count() << " ms after b closed";
  std::printf("b's partitions reached a %lld ms after b closed\n", static_cast<long long>(took.count()));
}

// librdkafka 2.0.2 aborts the process when a cooperative-sticky member is
// destroyed after its first JoinGroup was answered but before its first
// assignment arrived (librdkafka#4312): a node stopped just as its
// projections join. The dev broker answers a new group's first JoinGroup
// about 3 s after it arrives, so members of groups of their own are closed
// at staggered moments across that answer, each from its own thread, as a
// node's projections would be. Every one must close, and the process live.
TEST_F(kafka_group_test, members_closed_at_any_moment_of_their_first_join_close_cleanly) {
  constexpr int members = 48;
  struct joining {
    std::unique_ptr<group_consumer> c;
    steady::time_point close_at;
  };
  std::vector<joining> js(members);
  for (int i = 0; i < members; ++i) {
    auto r = open_kafka_group_consumer(env_.options(), "join-" + std::to_string(i), {topic::events}, {});
    ASSERT_TRUE(r.ok()) << r.err().message;
    js[i].c = std::move(r.value());
    // 2.96 s to 3.05 s after it subscribed, 2 ms apart.
    js[i].close_at = steady::now() + 2960ms + i * 2ms;
  }
  std::vector<std::thread> closers;
  for (auto& j : js)
    closers.emplace_back([&j] {
      std::this_thread::sleep_until(j.close_at);
      j.c->close();
    });
  for (auto& t : closers) t.join();
  for (auto& j : js) {
    EXPECT_TRUE(j.c->assignment().empty());
    auto p = j.c->poll(1, 10ms);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.err().code, errc::unavailable) << p.err().message;
    j.c.reset();  // destroys the handle (or leaves it open, if it must)
  }
}

// The consumer's offsets are the Kafka group's: kafka_log sees them under
// kafka_group_id(prefix, group).
TEST_F(kafka_group_test, commits_are_the_kafka_groups_offsets) {
  append_all(3, "x");
  member m;
  open(m, "status");
  const auto deadline = steady::now() + 30s;
  while (m.seen.size() < 12 && steady::now() < deadline) m.poll(100ms);
  ASSERT_EQ(m.seen.size(), 12u);
  for (int p = 0; p < partitions; ++p) {
    auto c = log_->committed_offset(kafka_group_id(env_.options().topic_prefix, "status"),
                                    topic::events, partition_id{p});
    ASSERT_TRUE(c.ok()) << c.err().message;
    ASSERT_TRUE(c->has_value());
    auto end = log_->end_offset(topic::events, partition_id{p});
    ASSERT_TRUE(end.ok());
    EXPECT_LE(c->value().get(), end->get());
    EXPECT_GT(c->value().get(), 0);
  }
}

}  // namespace
}  // namespace kw::storage
