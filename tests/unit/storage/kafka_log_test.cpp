// KafkaLog specifics, on the dev broker (librdkafka's mock cluster): topics
// created with the configured partitions and checked on reopen; faults
// injected through the mock cluster — retriable produce errors, a leader
// change, the whole cluster down past the append timeout — after which
// nothing acknowledged is missing, nothing is duplicated and nothing of a
// failed append is readable; a reopened log restores chain heads and
// consumer-group offsets. The contract shared with RocksLog is in
// event_log_test.cpp.
#include <gtest/gtest.h>

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "storage/dev_broker.hpp"
#include "storage/kafka_log.hpp"
#include "test_sealer.hpp"

namespace kw::storage {
namespace {

using namespace std::chrono_literals;
using testing::test_sealer;
using testing::unseal;

record rec(topic t, std::string key, std::string value, bool chained = false) {
  record r;
  r.t = t;
  r.key = std::move(key);
  r.value = std::move(value);
  r.chained = chained;
  return r;
}

// Partition count and replication factor of every topic, as the cluster
// reports them to an independent client.
std::map<std::string, std::pair<int, int>> topics_on(const std::string& bootstrap) {
  std::map<std::string, std::pair<int, int>> out;
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 1, nullptr, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < md->topic_cnt; ++i)
      out[md->topics[i].topic] = {md->topics[i].partition_cnt,
                                  md->topics[i].partition_cnt ? md->topics[i].partitions[0].replica_cnt : 0};
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_destroy(rk);
  return out;
}

class kafka_log_test : public ::testing::Test {
protected:
  void SetUp() override { start_broker(1); }
  void TearDown() override {
    log_.reset();
    broker_.reset();
  }
  void start_broker(int brokers) {
    log_.reset();
    auto b = dev_broker::start(brokers);
    ASSERT_TRUE(b.ok()) << b.err().message;
    broker_ = std::move(b.value());
    static std::atomic<int> n{0};
    prefix_ = "kt" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".";
  }
  kafka_options options(int partitions = 4, int producers = 2) {
    kafka_options o;
    // The mock cluster gives every partition min(3, brokers) replicas.
    o.replication_factor = std::min(3, broker_->brokers());
    o.bootstrap_servers = broker_->bootstrap();
    o.topic_prefix = prefix_;
    o.partitions = partitions;
    o.checks_retention_ms = 7 * 24 * 3600 * 1000LL;
    o.node_name = "n1";
    o.producers = producers;
    o.timeout = 20s;
    o.append_timeout = 3s;
    o.create_topic = [b = broker_.get(), this](const kafka_topic_spec& s) {
      created_.push_back(s);
      return b->create_topic(s.name, s.partitions, s.replication_factor);
    };
    return o;
  }
  void open(int partitions = 4, int producers = 2) {
    log_.reset();
    auto r = kafka_log::open(options(partitions, producers), sealer_);
    ASSERT_TRUE(r.ok()) << r.err().message;
    log_ = std::move(r.value());
  }
  std::vector<stored_record> read_all(topic t, int p) {
    auto r = log_->read(t, partition_id{p}, log_offset{0}, 1u << 30);
    EXPECT_TRUE(r.ok()) << r.err().message;
    return r.ok() ? r.value() : std::vector<stored_record>{};
  }
  std::vector<std::string> values(topic t, int p) {
    std::vector<std::string> out;
    for (auto& r : read_all(t, p)) out.push_back(r.value);
    return out;
  }

  std::unique_ptr<dev_broker> broker_;
  std::string prefix_;
  std::shared_ptr<test_sealer> sealer_ = std::make_shared<test_sealer>();
  std::vector<kafka_topic_spec> created_;
  std::unique_ptr<kafka_log> log_;
};

TEST_F(kafka_log_test, open_creates_the_topics_with_the_configured_partitions_and_retention) {
  ASSERT_NO_FATAL_FAILURE(open(3));
  EXPECT_EQ(log_->partitions(), 3);
  EXPECT_TRUE(log_->healthy());
  const auto topics = topics_on(broker_->bootstrap());
  for (const char* base : {"keepwatch.events.v1", "keepwatch.checks.v1", "keepwatch.deadletter.v1",
                           "keepwatch.chains.v1"}) {
    auto it = topics.find(prefix_ + base);
    ASSERT_NE(it, topics.end()) << base;
    EXPECT_EQ(it->second.first, 3) << base;
    EXPECT_EQ(it->second.second, 1) << base;
  }
  // What was asked of the cluster: retention forever for events, the
  // configured one for checks, compaction for the chain heads.
  ASSERT_EQ(created_.size(), 4u);
  std::map<std::string, kafka_topic_spec> by_name;
  for (auto& s : created_) by_name[s.name] = s;
  EXPECT_EQ(by_name[prefix_ + "keepwatch.events.v1"].configs["retention.ms"], "-1");
  EXPECT_EQ(by_name[prefix_ + "keepwatch.checks.v1"].configs["retention.ms"], "604800000");
  EXPECT_EQ(by_name[prefix_ + "keepwatch.chains.v1"].configs["cleanup.policy"], "compact");
  // The last partition takes appends; one past it is refused.
  EXPECT_TRUE(log_->append_sync(partition_id{2}, {rec(topic::events, "t", "v")}).ok());
  EXPECT_EQ(log_->append_sync(partition_id{3}, {rec(topic::events, "t", "v")}).err().code,
            errc::invalid);
  // Reopening finds the topics and creates nothing.
  created_.clear();
  ASSERT_NO_FATAL_FAILURE(open(3));
  EXPECT_TRUE(created_.empty());
  EXPECT_EQ(values(topic::events, 2), std::vector<std::string>{"v"});
}

TEST_F(kafka_log_test, a_topic_with_another_partition_count_is_a_clear_startup_error) {
  // Someone created the checks topic by hand with 4 partitions.
  ASSERT_TRUE(broker_->create_topic(prefix_ + "keepwatch.checks.v1", 4).ok());
  auto r = kafka_log::open(options(8), sealer_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid);
  EXPECT_NE(r.err().message.find("topic " + prefix_ + "keepwatch.checks.v1 has 4 partitions, "
                                 "config says 8"),
            std::string::npos)
      << r.err().message;
}

// The dev broker answers no DescribeConfigs, so the events topic's retention
// is judged by kafka_check_kept_forever from what a real cluster describes.
TEST(kafka_retention, an_events_topic_that_deletes_records_is_refused_with_the_fix) {
  const std::string t = "keepwatch.events.v1";
  EXPECT_TRUE(kafka_check_kept_forever(
      t, {{"retention.ms", "-1"}, {"retention.bytes", "-1"}, {"cleanup.policy", "delete"}}));
  EXPECT_TRUE(kafka_check_kept_forever(t, {{"retention.ms", "-1"}}));
  // A topic created elsewhere with the broker's default (7 days).
  auto week = kafka_check_kept_forever(
      t, {{"retention.ms", "604800000"}, {"retention.bytes", "-1"}, {"cleanup.policy", "delete"}});
  ASSERT_FALSE(week);
  EXPECT_EQ(week.err().code, errc::invalid);
  EXPECT_NE(week.err().message.find("keepwatch.events.v1 has retention.ms=604800000"), std::string::npos)
      << week.err().message;
  EXPECT_NE(week.err().message.find("--add-config retention.ms=-1,retention.bytes=-1"), std::string::npos)
      << week.err().message;
  auto bytes = kafka_check_kept_forever(t, {{"retention.ms", "-1"}, {"retention.bytes", "1073741824"}});
  ASSERT_FALSE(bytes);
  EXPECT_NE(bytes.err().message.find("retention.bytes=1073741824"), std::string::npos);
  auto compact = kafka_check_kept_forever(t, {{"retention.ms", "-1"}, {"cleanup.policy", "compact"}});
  ASSERT_FALSE(compact);
  EXPECT_NE(compact.err().message.find("cleanup.policy=compact"), std::string::npos);
  EXPECT_FALSE(kafka_check_kept_forever(t, {}));  // nothing said: not trusted
}

// The dev broker drops a partition's oldest records past 5 MiB: the log's
// earliest offset says so, and check_not_truncated refuses what needs them.
TEST_F(kafka_log_test, records_dropped_by_the_dev_broker_show_in_the_earliest_offset) {
  ASSERT_NO_FATAL_FAILURE(open(1));
  EXPECT_TRUE(log_->on_dev_broker());
  EXPECT_EQ(log_->begin_offset(topic::events, partition_id{0}).value().get(), 0);
  EXPECT_TRUE(check_not_truncated(*log_, topic::events, partition_id{0}, log_offset{0}, "a test"));
  const std::string big(512 * 1024, 'x');
  for (int i = 0; i < 14; ++i)
    ASSERT_TRUE(log_->append_sync(partition_id{0}, {rec(topic::events, "t", big)}).ok());
  auto begin = log_->begin_offset(topic::events, partition_id{0});
  ASSERT_TRUE(begin.ok()) << begin.err().message;
  EXPECT_GT(begin->get(), 0);
  auto refused = check_not_truncated(*log_, topic::events, partition_id{0}, log_offset{0}, "a test");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.err().code, errc::storage);
  EXPECT_NE(refused.err().message.find("keepwatch.events.v1 partition 0 begins at offset " +
                                       std::to_string(begin->get()) + " but a test needs it from offset 0"),
            std::string::npos)
      << refused.err().message;
  EXPECT_TRUE(check_not_truncated(*log_, topic::events, partition_id{0}, *begin, "a test"));
  auto dropped = broker_->dropped();
  ASSERT_TRUE(dropped.ok());
  ASSERT_EQ(dropped->size(), 1u);
  EXPECT_EQ((*dropped)[0].topic, prefix_ + "keepwatch.events.v1");
  EXPECT_EQ((*dropped)[0].earliest, begin->get());
}

TEST_F(kafka_log_test, an_unreachable_cluster_fails_open_clearly_and_in_time) {
  auto o = options();
  o.bootstrap_servers = "127.0.0.1:1";  // nothing listens there
  o.timeout = 2s;
  const auto start = std::chrono::steady_clock::now();
  auto r = kafka_log::open(std::move(o), sealer_);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_NE(r.err().message.find("127.0.0.1:1"), std::string::npos) << r.err().message;
  EXPECT_LT(took, 15s);
}

TEST_F(kafka_log_test, retriable_produce_errors_are_retried_and_append_exactly_once) {
  ASSERT_NO_FATAL_FAILURE(open());
  ASSERT_TRUE(log_->append_sync(partition_id{0}, {rec(topic::events, "t", "before", true)}).ok());
  broker_->push_produce_errors(2, dev_broker::kafka_error::not_leader_for_partition);
  broker_->push_produce_errors(2, dev_broker::kafka_error::not_enough_replicas);
  broker_->push_produce_errors(1, dev_broker::kafka_error::request_timed_out);
  auto ack = log_->append_sync(partition_id{0}, {rec(topic::events, "t", "during", true),
                                                 rec(topic::checks, "t", "check")});
  ASSERT_TRUE(ack.ok()) << ack.err().message;
  auto after = log_->append_sync(partition_id{0}, {rec(topic::events, "t", "after", true)});
  ASSERT_TRUE(after.ok()) << after.err().message;

  auto events = read_all(topic::events, 0);
  ASSERT_EQ(events.size(), 3u);  // no duplicate
  EXPECT_EQ(unseal(events[0].value).base, "before");
  EXPECT_EQ(unseal(events[1].value).base, "during");
  EXPECT_EQ(events[1].offset, ack->offsets[0]);
  EXPECT_EQ(unseal(events[2].value).base, "after");
  EXPECT_EQ(unseal(events[2].value).prev, unseal(events[1].value).hash);
  EXPECT_EQ(values(topic::checks, 0), std::vector<std::string>{"check"});
  EXPECT_TRUE(log_->healthy());
}

TEST_F(kafka_log_test, a_leader_change_mid_stream_loses_and_duplicates_nothing) {
  start_broker(3);
  ASSERT_NO_FATAL_FAILURE(open());
  const std::string events_topic = prefix_ + "keepwatch.events.v1";
  std::vector<std::string> sent;
  for (int i = 0; i < 30; ++i) {
    if (i == 10) {
      ASSERT_TRUE(broker_->set_leader(events_topic, 1, 2).ok());
    }
    if (i == 20) {
      ASSERT_TRUE(broker_->set_leader(events_topic, 1, 3).ok());
    }
    sent.push_back("e" + std::to_string(i));
    auto ack = log_->append_sync(partition_id{1}, {rec(topic::events, "t", sent.back(), true)});
    ASSERT_TRUE(ack.ok()) << i << ": " << ack.err().message;
  }
  std::vector<std::string> got;
  std::string prev;
  for (auto& r : read_all(topic::events, 1)) {
    auto s = unseal(r.value);
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.prev, prev);
    prev = s.hash;
    got.push_back(s.base);
  }
  EXPECT_EQ(got, sent);
}

TEST_F(kafka_log_test, the_cluster_down_past_the_timeout_fails_the_append_and_work_resumes) {
  ASSERT_NO_FATAL_FAILURE(open());
  auto first = log_->append_sync(partition_id{2}, {rec(topic::events, "t", "first", true)});
  ASSERT_TRUE(first.ok()) << first.err().message;
  const std::string head_before = log_->chain_head(partition_id{2}, "t").value();

  ASSERT_TRUE(broker_->broker_down(1).ok());
  const auto start = std::chrono::steady_clock::now();
  auto lost = log_->append_sync(partition_id{2}, {rec(topic::events, "t", "lost", true),
                                                  rec(topic::checks, "t", "lost")});
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.err().code, errc::unavailable) << lost.err().message;
  EXPECT_NE(lost.err().message.find(broker_->bootstrap()), std::string::npos) << lost.err().message;
  EXPECT_LT(took, 15s);  // bounded by the append timeout, not hung
  EXPECT_EQ(log_->chain_head(partition_id{2}, "t").value(), head_before);
  EXPECT_TRUE(log_->healthy());  // the cluster being away is not fatal

  ASSERT_TRUE(broker_->broker_up(1).ok());
  auto back = log_->append_sync(partition_id{2}, {rec(topic::events, "t", "back", true)});
  ASSERT_TRUE(back.ok()) << back.err().message;
  EXPECT_EQ(unseal(back->values[0]).prev, head_before);

  std::vector<std::string> got;
  for (auto& r : read_all(topic::events, 2)) got.push_back(unseal(r.value).base);
  EXPECT_EQ(got, (std::vector<std::string>{"first", "back"}));
  EXPECT_TRUE(read_all(topic::checks, 2).empty());
}

TEST_F(kafka_log_test, reopening_restores_chain_heads_and_consumer_offsets) {
  ASSERT_NO_FATAL_FAILURE(open());
  auto a = log_->append_sync(partition_id{1}, {rec(topic::events, "tenant-a", "a1", true),
                                               rec(topic::events, "tenant-a", "a2", true)});
  auto b = log_->append_sync(partition_id{3}, {rec(topic::events, "tenant-b", "b1", true)});
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(log_->commit_offset("projections", topic::events, partition_id{1}, log_offset{2}).ok());
  ASSERT_TRUE(log_->commit_offset("projections", topic::checks, partition_id{3}, log_offset{9}).ok());
  ASSERT_TRUE(log_->commit_offset("alerts", topic::events, partition_id{1}, log_offset{1}).ok());
  const std::string head_a = unseal(a->values[1]).hash, head_b = unseal(b->values[0]).hash;
  log_.reset();

  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ(log_->chain_head(partition_id{1}, "tenant-a").value(), head_a);
  EXPECT_EQ(log_->chain_head(partition_id{3}, "tenant-b").value(), head_b);
  EXPECT_EQ(log_->chain_head(partition_id{0}, "tenant-a").value(), "");
  auto get = [&](const char* g, topic t, int p) {
    auto r = log_->committed_offset(g, t, partition_id{p});
    EXPECT_TRUE(r.ok()) << r.err().message;
    return r.ok() && r->has_value() ? r->value().get() : -1;
  };
  EXPECT_EQ(get("projections", topic::events, 1), 2);
  EXPECT_EQ(get("projections", topic::checks, 3), 9);
  EXPECT_EQ(get("alerts", topic::events, 1), 1);
  EXPECT_EQ(get("alerts", topic::events, 3), -1);
  auto a3 = log_->append_sync(partition_id{1}, {rec(topic::events, "tenant-a", "a3", true)});
  ASSERT_TRUE(a3.ok());
  EXPECT_EQ(unseal(a3->values[0]).prev, head_a);  // the chain continues where it was
}

TEST_F(kafka_log_test, a_fatal_producer_error_stops_writes_and_loses_nothing_acknowledged) {
  ASSERT_NO_FATAL_FAILURE(open());
  auto mine = log_->append_sync(partition_id{0}, {rec(topic::events, "t", "mine", true)});
  ASSERT_TRUE(mine.ok());
  // The broker says another producer owns our transactional.id. (librdkafka
  // 2.0.2's mock cluster does not fence an older epoch by itself, so the
  // fencing is injected — into every produce request, since the mock would
  // keep a record of the group that reached it: it writes no abort markers.)
  broker_->push_produce_errors(100, dev_broker::kafka_error::producer_fenced);
  auto r = log_->append_sync(partition_id{0}, {rec(topic::events, "t", "zombie", true)});
  broker_->clear_request_errors(dev_broker::request::produce);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable) << r.err().message;
  EXPECT_FALSE(log_->healthy());  // /readyz turns red
  auto again = log_->append_sync(partition_id{0}, {rec(topic::events, "t", "again")});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.err().code, errc::unavailable);
  EXPECT_NE(again.err().message.find("fatal"), std::string::npos) << again.err().message;
  // Reads still work, and what was acknowledged is there, alone.
  std::vector<std::string> got;
  for (auto& s : read_all(topic::events, 0)) got.push_back(unseal(s.value).base);
  EXPECT_EQ(got, std::vector<std::string>{"mine"});
  // A node restarted on the same cluster writes on, from the same chain head.
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_TRUE(log_->healthy());
  auto next = log_->append_sync(partition_id{0}, {rec(topic::events, "t", "next", true)});
  ASSERT_TRUE(next.ok()) << next.err().message;
  EXPECT_EQ(unseal(next->values[0]).prev, unseal(mine->values[0]).hash);
}

TEST_F(kafka_log_test, any_producer_count_keeps_offsets_and_chains_and_may_change_across_restarts) {
  // Appends in flight on every partition at once, through 1, 3 (uneven
  // shares) and 4 (one per partition) transactional producers; the log is
  // reopened with another count each time and the chains continue.
  constexpr int partitions = 4, per_round = 60;
  std::map<int, std::vector<std::string>> sent;  // partition -> values, in append order
  for (int producers : {1, 3, 4}) {
    ASSERT_NO_FATAL_FAILURE(open(partitions, producers));
    std::vector<std::future<result<append_ack>>> acks;
    for (int i = 0; i < per_round; ++i) {
      const int p = i % partitions;
      sent[p].push_back("v" + std::to_string(producers) + "-" + std::to_string(i));
      auto done = std::make_shared<std::promise<result<append_ack>>>();
      acks.push_back(done->get_future());
      log_->append(partition_id{p}, {rec(topic::events, "t", sent[p].back(), true),
                                     rec(topic::checks, "t", "c")},
                   [done](result<append_ack> r) { done->set_value(std::move(r)); });
    }
    for (auto& f : acks) {
      auto r = f.get();
      ASSERT_TRUE(r.ok()) << producers << ": " << r.err().message;
    }
    EXPECT_TRUE(log_->healthy());
  }
  for (int p = 0; p < partitions; ++p) {
    std::vector<std::string> got;
    std::string prev;
    std::int64_t last = -1;
    for (auto& r : read_all(topic::events, p)) {
      auto s = unseal(r.value);
      ASSERT_TRUE(s.ok);
      EXPECT_EQ(s.prev, prev) << p;  // unbroken across every restart
      EXPECT_GT(r.offset.get(), last);
      prev = s.hash;
      last = r.offset.get();
      got.push_back(s.base);
    }
    EXPECT_EQ(got, sent[p]) << p;  // in append order, nothing missing, nothing twice
    EXPECT_EQ(log_->chain_head(partition_id{p}, "t").value(), prev);
    EXPECT_EQ(read_all(topic::checks, p).size(), sent[p].size());
  }
  EXPECT_EQ(kafka_log::open(options(partitions, 0), sealer_).err().code, errc::invalid);
}

TEST_F(kafka_log_test, a_fatal_error_of_one_producer_stops_every_partition) {
  ASSERT_NO_FATAL_FAILURE(open(4, 4));  // one producer per partition
  ASSERT_TRUE(log_->append_sync(partition_id{3}, {rec(topic::events, "t", "ok")}).ok());
  broker_->push_produce_errors(100, dev_broker::kafka_error::producer_fenced);
  auto r = log_->append_sync(partition_id{1}, {rec(topic::events, "t", "zombie")});
  broker_->clear_request_errors(dev_broker::request::produce);
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(log_->healthy());
  // Partition 3's producer is fine, yet the node takes no more writes.
  auto other = log_->append_sync(partition_id{3}, {rec(topic::events, "t", "other")});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.err().code, errc::unavailable);
  EXPECT_NE(other.err().message.find("fatal"), std::string::npos) << other.err().message;
  EXPECT_EQ(values(topic::events, 3), std::vector<std::string>{"ok"});
}

TEST_F(kafka_log_test, appends_after_close_fail_at_once) {
  ASSERT_NO_FATAL_FAILURE(open());
  log_->close();
  auto r = log_->append_sync(partition_id{0}, {rec(topic::events, "t", "v")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_EQ(log_->read(topic::events, partition_id{0}, log_offset{0}, 1).err().code,
            errc::unavailable);
}

}  // namespace
}  // namespace kw::storage
