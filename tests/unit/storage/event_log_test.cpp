// The event_log contract, run against every log backend (TestWithParam): what
// a user of the log relies on — offsets that increase in append order with
// nothing missing (dense on the embedded log, checked there only), atomic
// groups, durability across reopen, hash chains that move only with their
// records, failures that leave nothing behind. Backends: "rocks" (RocksLog in
// a temporary directory) and "kafka" (KafkaLog on its own dev broker, with
// its own topic prefix). Add a backend by adding an entry to backends().
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
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
#include "storage/kafka_log.hpp"
#include "storage/rocks_log.hpp"
#include "test_sealer.hpp"

namespace kw::storage {
namespace {

using testing::test_sealer;
using testing::unseal;

// One backend's storage, kept across reopen within a test.
class log_env {
public:
  virtual ~log_env() = default;
  virtual result<std::unique_ptr<event_log>> open(int partitions,
                                                  std::shared_ptr<chain_sealer> sealer) = 0;
  // Makes the next writes of `log` fail (true) or succeed again (false).
  virtual void inject_failure(event_log& log, bool fail) = 0;
};

class rocks_env final : public log_env {
public:
  rocks_env() {
    char tmpl[] = "/tmp/kw-storage-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~rocks_env() override { std::filesystem::remove_all(dir_); }
  result<std::unique_ptr<event_log>> open(int partitions,
                                          std::shared_ptr<chain_sealer> sealer) override {
    auto r = rocks_log::open(dir_, partitions, std::move(sealer));
    if (!r) return r.err();
    return std::unique_ptr<event_log>(std::move(r.value()));
  }
  void inject_failure(event_log& log, bool fail) override {
    static_cast<rocks_log&>(log).inject_failure(fail);
  }

private:
  std::string dir_;
};

// A dev broker of its own, and a topic prefix of its own, per test.
class kafka_env final : public log_env {
public:
  kafka_env() {
    auto b = dev_broker::start(1);
    if (b) broker_ = std::move(b.value());
    static std::atomic<int> n{0};
    prefix_ = "test" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".";
  }
  result<std::unique_ptr<event_log>> open(int partitions,
                                          std::shared_ptr<chain_sealer> sealer) override {
    if (!broker_) return error{errc::unavailable, "dev broker did not start"};
    kafka_options o;
    o.bootstrap_servers = broker_->bootstrap();
    o.topic_prefix = prefix_;
    o.partitions = partitions;
    o.node_name = "test";
    o.timeout = std::chrono::seconds(20);
    o.append_timeout = std::chrono::seconds(5);
    o.create_topic = [b = broker_.get()](const kafka_topic_spec& s) {
      return b->create_topic(s.name, s.partitions, s.replication_factor);
    };
    auto r = kafka_log::open(std::move(o), std::move(sealer));
    if (!r) return r.err();
    return std::unique_ptr<event_log>(std::move(r.value()));
  }
  // Every produce request fails with a non-retriable error before anything
  // is appended: the transaction is aborted.
  void inject_failure(event_log&, bool fail) override {
    if (fail) broker_->push_produce_errors(100000, dev_broker::kafka_error::invalid_record);
    else broker_->clear_request_errors(dev_broker::request::produce);
  }

private:
  std::unique_ptr<dev_broker> broker_;
  std::string prefix_;
};

struct backend {
  std::string name;
  std::function<std::unique_ptr<log_env>()> make;
  bool dense = false;  // offsets are dense (0, 1, 2, ...) per (topic, partition)
};

void PrintTo(const backend& b, std::ostream* os) { *os << b.name; }

std::vector<backend> backends() {
  return {{"rocks", [] { return std::unique_ptr<log_env>(new rocks_env()); }, true},
          {"kafka", [] { return std::unique_ptr<log_env>(new kafka_env()); }, false}};
}

std::vector<std::int64_t> offsets_of(const std::vector<stored_record>& rs) {
  std::vector<std::int64_t> out;
  for (const auto& r : rs) out.push_back(r.offset.get());
  return out;
}

std::vector<std::int64_t> offsets_of(const std::vector<log_offset>& os) {
  std::vector<std::int64_t> out;
  for (const auto& o : os) out.push_back(o.get());
  return out;
}

record rec(topic t, std::string key, std::string value, bool chained = false) {
  record r;
  r.t = t;
  r.key = std::move(key);
  r.value = std::move(value);
  r.chained = chained;
  return r;
}

class event_log_test : public ::testing::TestWithParam<backend> {
protected:
  void SetUp() override {
    env_ = GetParam().make();
    sealer_ = std::make_shared<test_sealer>();
    reopen(4);
  }
  void TearDown() override {
    log_.reset();
    env_.reset();
  }
  void reopen(int partitions) {
    log_.reset();
    auto r = env_->open(partitions, sealer_);
    ASSERT_TRUE(r.ok()) << r.err().message;
    log_ = std::move(r.value());
  }
  std::int64_t end(topic t, int p) {
    auto r = log_->end_offset(t, partition_id{p});
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value().get() : -1;
  }
  std::vector<stored_record> read_all(topic t, int p) {
    auto r = log_->read(t, partition_id{p}, log_offset{0}, 1u << 30);
    EXPECT_TRUE(r.ok()) << r.err().message;
    return r.ok() ? r.value() : std::vector<stored_record>{};
  }
  bool dense() const { return GetParam().dense; }
  std::string head(int p, const std::string& key) {
    auto r = log_->chain_head(partition_id{p}, key);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : "?";
  }

  std::unique_ptr<log_env> env_;
  std::shared_ptr<test_sealer> sealer_;
  std::unique_ptr<event_log> log_;
};

TEST_P(event_log_test, offsets_increase_in_append_order_per_topic_and_partition) {
  EXPECT_EQ(log_->partitions(), 4);
  std::vector<std::int64_t> acked;
  for (int i = 0; i < 3; ++i) {
    auto ack = log_->append_sync(partition_id{0}, {rec(topic::events, "t1", "e" + std::to_string(i))});
    ASSERT_TRUE(ack.ok()) << ack.err().message;
    ASSERT_EQ(ack->offsets.size(), 1u);
    if (!acked.empty()) {
      EXPECT_GT(ack->offsets[0].get(), acked.back());
    }
    acked.push_back(ack->offsets[0].get());
  }
  EXPECT_GE(acked[0], 0);
  if (dense()) {
    EXPECT_EQ(acked, (std::vector<std::int64_t>{0, 1, 2}));
  }
  auto ack = log_->append_sync(partition_id{1}, {rec(topic::checks, "t2", "c0"),
                                                 rec(topic::checks, "t2", "c1")});
  ASSERT_TRUE(ack.ok());
  ASSERT_EQ(ack->offsets.size(), 2u);
  EXPECT_LT(ack->offsets[0], ack->offsets[1]);
  if (dense()) {
    EXPECT_EQ(ack->offsets, (std::vector<log_offset>{log_offset{0}, log_offset{1}}));
  }

  // The end is past every record, and an untouched (topic, partition) is empty.
  EXPECT_GT(end(topic::events, 0), acked.back());
  EXPECT_EQ(end(topic::checks, 0), 0);
  EXPECT_EQ(end(topic::events, 1), 0);
  EXPECT_GT(end(topic::checks, 1), ack->offsets[1].get());
  EXPECT_EQ(end(topic::deadletter, 3), 0);
  if (dense()) {
    EXPECT_EQ(end(topic::events, 0), 3);
    EXPECT_EQ(end(topic::checks, 1), 2);
  }

  auto events = read_all(topic::events, 0);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(offsets_of(events), acked);  // what is read is what was acked: nothing missing
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events[i].t, topic::events);
    EXPECT_EQ(events[i].key, "t1");
    EXPECT_EQ(events[i].value, "e" + std::to_string(i));
  }
  EXPECT_EQ(offsets_of(read_all(topic::checks, 1)), offsets_of(ack->offsets));
  EXPECT_TRUE(read_all(topic::checks, 0).empty());
}

TEST_P(event_log_test, keys_headers_and_binary_values_round_trip) {
  record r = rec(topic::events, std::string("ten\0ant", 7), std::string("v\0\xff", 3));
  r.headers = {{"type", "monitor_created"}, {"", ""}, {"bin", std::string("\0\1", 2)}};
  ASSERT_TRUE(log_->append_sync(partition_id{2}, {r}).ok());
  reopen(4);
  auto got = read_all(topic::events, 2);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, r.key);
  EXPECT_EQ(got[0].value, r.value);
  ASSERT_EQ(got[0].headers.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[0].headers[i].name, r.headers[i].name);
    EXPECT_EQ(got[0].headers[i].value, r.headers[i].value);
  }
}

TEST_P(event_log_test, one_append_spans_topics_atomically_and_in_order) {
  ASSERT_TRUE(log_->append_sync(partition_id{3}, {rec(topic::events, "t", "before")}).ok());
  auto ack = log_->append_sync(partition_id{3}, {rec(topic::events, "t", "e1"),
                                                 rec(topic::checks, "t", "c0"),
                                                 rec(topic::events, "t", "e2"),
                                                 rec(topic::deadletter, "t", "d0")});
  ASSERT_TRUE(ack.ok());
  ASSERT_EQ(ack->offsets.size(), 4u);
  if (dense()) {
    EXPECT_EQ(ack->offsets, (std::vector<log_offset>{log_offset{1}, log_offset{0}, log_offset{2},
                                                     log_offset{0}}));
  }
  EXPECT_LT(ack->offsets[0], ack->offsets[2]);  // in the order given, within a topic
  EXPECT_EQ(ack->values, (std::vector<std::string>{"e1", "c0", "e2", "d0"}));
  reopen(4);
  auto events = read_all(topic::events, 3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].value, "e1");
  EXPECT_EQ(events[2].value, "e2");
  EXPECT_EQ(events[1].offset, ack->offsets[0]);
  EXPECT_EQ(events[2].offset, ack->offsets[2]);
  EXPECT_EQ(read_all(topic::checks, 3).at(0).value, "c0");
  EXPECT_EQ(read_all(topic::checks, 3).at(0).offset, ack->offsets[1]);
  EXPECT_EQ(read_all(topic::deadletter, 3).at(0).value, "d0");
}

TEST_P(event_log_test, reads_from_any_offset_up_to_max) {
  std::vector<std::int64_t> acked;  // offset of value i
  for (int i = 0; i < 50; ++i) {
    auto ack = log_->append_sync(partition_id{1}, {rec(topic::events, "k", std::to_string(i))});
    ASSERT_TRUE(ack.ok());
    acked.push_back(ack->offsets[0].get());
  }
  if (dense()) {
    EXPECT_EQ(acked.back(), 49);
  }
  for (std::int64_t from = 0; from <= acked.back() + 3; ++from) {
    // Expected: every record at or past `from`, in order.
    const auto first = static_cast<std::size_t>(
        std::lower_bound(acked.begin(), acked.end(), from) - acked.begin());
    auto all = log_->read(topic::events, partition_id{1}, log_offset{from}, 1000);
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), acked.size() - first) << from;
    for (std::size_t j = 0; j < all->size(); ++j) {
      EXPECT_EQ((*all)[j].offset, log_offset{acked[first + j]});
      EXPECT_EQ((*all)[j].value, std::to_string(first + j));
    }
    auto some = log_->read(topic::events, partition_id{1}, log_offset{from}, 7);
    ASSERT_TRUE(some.ok());
    EXPECT_EQ(some->size(), std::min<std::size_t>(acked.size() - first, 7));
  }
  EXPECT_TRUE(log_->read(topic::events, partition_id{0}, log_offset{0}, 10)->empty());
}

TEST_P(event_log_test, bad_partitions_and_offsets_are_rejected) {
  auto ack = log_->append_sync(partition_id{4}, {rec(topic::events, "k", "v")});
  ASSERT_FALSE(ack.ok());
  EXPECT_EQ(ack.err().code, errc::invalid);
  EXPECT_EQ(log_->read(topic::events, partition_id{-1}, log_offset{0}, 1).err().code, errc::invalid);
  EXPECT_EQ(log_->read(topic::events, partition_id{0}, log_offset{-1}, 1).err().code, errc::invalid);
  EXPECT_EQ(log_->end_offset(topic::checks, partition_id{9}).err().code, errc::invalid);
  // The log still works.
  EXPECT_TRUE(log_->append_sync(partition_id{3}, {rec(topic::events, "k", "v")}).ok());
}

TEST_P(event_log_test, consumer_offsets_persist_across_reopen) {
  auto none = log_->committed_offset("projections", topic::events, partition_id{2});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(log_->commit_offset("projections", topic::events, partition_id{2}, log_offset{17}).ok());
  ASSERT_TRUE(log_->commit_offset("projections", topic::checks, partition_id{2}, log_offset{5}).ok());
  ASSERT_TRUE(log_->commit_offset("alerts", topic::events, partition_id{2}, log_offset{3}).ok());
  ASSERT_TRUE(log_->commit_offset("projections", topic::events, partition_id{2}, log_offset{18}).ok());
  reopen(4);
  auto get = [&](const char* g, topic t, int p) {
    auto r = log_->committed_offset(g, t, partition_id{p});
    EXPECT_TRUE(r.ok());
    return r.ok() && r->has_value() ? r->value().get() : -1;
  };
  EXPECT_EQ(get("projections", topic::events, 2), 18);
  EXPECT_EQ(get("projections", topic::checks, 2), 5);
  EXPECT_EQ(get("alerts", topic::events, 2), 3);
  EXPECT_EQ(get("alerts", topic::events, 1), -1);
  EXPECT_EQ(get("projection", topic::events, 2), -1);  // a prefix is another group
}

TEST_P(event_log_test, chain_heads_advance_with_records_and_survive_reopen) {
  EXPECT_EQ(head(0, "tenant-a"), "");
  auto a1 = log_->append_sync(partition_id{0}, {rec(topic::events, "tenant-a", "a1", true),
                                                rec(topic::checks, "tenant-a", "plain"),
                                                rec(topic::events, "tenant-a", "a2", true)});
  ASSERT_TRUE(a1.ok());
  auto s1 = unseal(a1->values[0]), s2 = unseal(a1->values[2]);
  ASSERT_TRUE(s1.ok && s2.ok);
  EXPECT_EQ(s1.base, "a1");
  EXPECT_EQ(s1.prev, "");
  EXPECT_EQ(s2.prev, s1.hash);
  EXPECT_EQ(a1->values[1], "plain");  // not chained: stored as given
  auto b1 = log_->append_sync(partition_id{0}, {rec(topic::events, "tenant-b", "b1", true)});
  ASSERT_TRUE(b1.ok());
  EXPECT_EQ(unseal(b1->values[0]).prev, "");  // chains are per key
  EXPECT_EQ(head(0, "tenant-a"), s2.hash);
  EXPECT_EQ(head(1, "tenant-a"), "");  // ... and per partition

  auto stored = read_all(topic::events, 0);
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].value, a1->values[0]);  // what is read is what was acked
  EXPECT_EQ(stored[1].value, a1->values[2]);

  reopen(4);
  EXPECT_EQ(head(0, "tenant-a"), s2.hash);
  EXPECT_EQ(head(0, "tenant-b"), unseal(b1->values[0]).hash);
  auto a3 = log_->append_sync(partition_id{0}, {rec(topic::events, "tenant-a", "a3", true)});
  ASSERT_TRUE(a3.ok());
  EXPECT_EQ(unseal(a3->values[0]).prev, s2.hash);
}

TEST_P(event_log_test, a_failed_seal_fails_only_its_own_append) {
  // Hold the writer in the first seal so that the next appends queue up and
  // are committed as one group.
  std::promise<void> entered, release;
  auto release_f = release.get_future().share();
  std::atomic<bool> first{true};
  sealer_->before_seal = [&] {
    if (first.exchange(false)) {
      entered.set_value();
      release_f.wait();
    }
  };
  std::promise<result<append_ack>> pa, pb, pc;
  log_->append(partition_id{0}, {rec(topic::events, "t", "a", true)},
               [&](result<append_ack> r) { pa.set_value(std::move(r)); });
  entered.get_future().wait();
  log_->append(partition_id{0}, {rec(topic::checks, "t", "b-plain"),
                                 rec(topic::events, "t", "b REJECT", true)},
               [&](result<append_ack> r) { pb.set_value(std::move(r)); });
  log_->append(partition_id{0}, {rec(topic::events, "t", "c", true)},
               [&](result<append_ack> r) { pc.set_value(std::move(r)); });
  release.set_value();
  auto a = pa.get_future().get(), b = pb.get_future().get(), c = pc.get_future().get();
  sealer_->before_seal = nullptr;

  ASSERT_TRUE(a.ok());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.err().code, errc::invalid);
  ASSERT_TRUE(c.ok()) << c.err().message;
  if (dense()) {
    EXPECT_EQ(c->offsets[0], log_offset{1});  // b took no offset
  }
  auto events = read_all(topic::events, 0);  // b left no record
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].offset, a->offsets[0]);
  EXPECT_EQ(events[1].offset, c->offsets[0]);
  EXPECT_EQ(unseal(c->values[0]).prev, unseal(a->values[0]).hash);  // nor a chain link
  EXPECT_EQ(end(topic::checks, 0), 0);  // nor its unchained record
  EXPECT_EQ(head(0, "t"), unseal(c->values[0]).hash);
}

TEST_P(event_log_test, a_failed_write_leaves_nothing_behind) {
  auto first = log_->append_sync(partition_id{1}, {rec(topic::events, "t", "ok", true)});
  ASSERT_TRUE(first.ok());
  const std::string head_before = head(1, "t");
  const std::int64_t events_end = end(topic::events, 1), checks_end = end(topic::checks, 1);

  env_->inject_failure(*log_, true);
  // Several appends in flight so that a whole group fails.
  std::vector<std::future<result<append_ack>>> futures;
  for (int i = 0; i < 8; ++i) {
    auto p = std::make_shared<std::promise<result<append_ack>>>();
    futures.push_back(p->get_future());
    log_->append(partition_id{1}, {rec(topic::events, "t", "lost", true),
                                   rec(topic::checks, "t", "lost")},
                 [p](result<append_ack> r) { p->set_value(std::move(r)); });
  }
  for (auto& f : futures) {
    auto r = f.get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::storage);
  }
  EXPECT_EQ(end(topic::events, 1), events_end);
  EXPECT_EQ(end(topic::checks, 1), checks_end);
  if (dense()) {
    EXPECT_EQ(end(topic::events, 1), 1);
    EXPECT_EQ(end(topic::checks, 1), 0);
  }
  EXPECT_EQ(head(1, "t"), head_before);
  EXPECT_EQ(read_all(topic::events, 1).size(), 1u);

  env_->inject_failure(*log_, false);
  auto next = log_->append_sync(partition_id{1}, {rec(topic::events, "t", "after", true)});
  ASSERT_TRUE(next.ok()) << next.err().message;
  EXPECT_GT(next->offsets[0], first->offsets[0]);
  if (dense()) {
    EXPECT_EQ(next->offsets[0], log_offset{1});
  }
  EXPECT_EQ(unseal(next->values[0]).prev, head_before);

  reopen(4);
  auto events = read_all(topic::events, 1);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(unseal(events[1].value).base, "after");
  EXPECT_TRUE(read_all(topic::checks, 1).empty());
}

TEST_P(event_log_test, reopening_with_another_partition_count_is_an_error) {
  ASSERT_TRUE(log_->append_sync(partition_id{0}, {rec(topic::events, "t", "v")}).ok());
  log_.reset();
  auto r = env_->open(8, sealer_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().message.find("4 partitions"), std::string::npos) << r.err().message;
  reopen(4);  // the right count still opens, with the data
  ASSERT_EQ(read_all(topic::events, 0).size(), 1u);
  if (dense()) {
    EXPECT_EQ(end(topic::events, 0), 1);
  }
}

TEST_P(event_log_test, concurrent_appenders_get_unique_offsets_and_nothing_is_missing) {
  constexpr int threads = 8, per_thread = 150;
  std::mutex mu;
  std::map<std::pair<int, int>, std::vector<std::int64_t>> acked;  // (topic, partition)
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < per_thread; ++i) {
        const int p = (w + i) % 4;
        auto r = log_->append_sync(partition_id{p},
                                   {rec(topic::events, "t" + std::to_string(w), "x", true),
                                    rec(topic::checks, "t", "y")});
        if (!r.ok()) { ++failures; continue; }
        std::lock_guard<std::mutex> lk(mu);
        acked[{1, p}].push_back(r->offsets[0].get());
        acked[{2, p}].push_back(r->offsets[1].get());
      }
    });
  }
  for (auto& t : workers) t.join();
  ASSERT_EQ(failures.load(), 0);
  std::size_t total = 0;
  for (auto& [tp, offsets] : acked) {
    std::sort(offsets.begin(), offsets.end());
    ASSERT_EQ(std::adjacent_find(offsets.begin(), offsets.end()), offsets.end());  // unique
    // Every acked record is read back, and nothing else.
    EXPECT_EQ(offsets_of(read_all(static_cast<topic>(tp.first), tp.second)), offsets);
    EXPECT_GT(end(static_cast<topic>(tp.first), tp.second), offsets.back());
    if (dense()) {
      for (std::size_t i = 0; i < offsets.size(); ++i)
        ASSERT_EQ(offsets[i], static_cast<std::int64_t>(i));
      EXPECT_EQ(end(static_cast<topic>(tp.first), tp.second),
                static_cast<std::int64_t>(offsets.size()));
    }
    total += offsets.size();
  }
  EXPECT_EQ(total, 2u * threads * per_thread);
  // Each writer's chain is intact in log order.
  for (int w = 0; w < threads; ++w) {
    std::string prev;
    const std::string key = "t" + std::to_string(w);
    for (int p = 0; p < 4; ++p) {
      prev.clear();
      for (auto& r : read_all(topic::events, p)) {
        if (r.key != key) continue;
        auto s = unseal(r.value);
        ASSERT_TRUE(s.ok);
        ASSERT_EQ(s.prev, prev);
        prev = s.hash;
      }
      EXPECT_EQ(head(p, key), prev);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(backends, event_log_test, ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<backend>& info) { return info.param.name; });

}  // namespace
}  // namespace kw::storage
