// What RocksLog promises beyond the event_log contract (which
// event_log_test checks): clear open errors, and a close that answers every
// queued append before it returns, then refuses work.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "storage/rocks_log.hpp"

namespace kw::storage {
namespace {

class rocks_log_test : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kw-rocks-log-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

record rec(std::string value) {
  record r;
  r.t = topic::events;
  r.key = "t";
  r.value = std::move(value);
  return r;
}

TEST_F(rocks_log_test, an_unusable_directory_is_a_clear_error) {
  auto r = rocks_log::open("/proc/kw-no-such-dir/log", 4, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::storage);
  EXPECT_EQ(r.err().message.rfind("data dir /proc/kw-no-such-dir/log: ", 0), 0u) << r.err().message;
}

TEST_F(rocks_log_test, a_directory_in_use_is_a_clear_error) {
  auto first = rocks_log::open(dir_, 4, nullptr);
  ASSERT_TRUE(first.ok());
  auto second = rocks_log::open(dir_, 4, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.err().code, errc::storage);
  EXPECT_NE(second.err().message.find(dir_), std::string::npos) << second.err().message;
}

TEST_F(rocks_log_test, a_read_only_log_opens_beside_the_writer_and_refuses_writes) {
  auto missing = rocks_log::open_read_only(dir_ + "/none", 4);
  ASSERT_FALSE(missing.ok());
  auto writer = rocks_log::open(dir_, 4, nullptr);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->append_sync(partition_id{1}, {rec("a"), rec("b")}).ok());
  auto reader = rocks_log::open_read_only(dir_, 4);
  ASSERT_TRUE(reader.ok()) << reader.err().message;
  auto end = (*reader)->end_offset(topic::events, partition_id{1});
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->get(), 2);
  auto read = (*reader)->read(topic::events, partition_id{1}, log_offset{0}, 10);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[1].value, "b");
  auto refused = (*reader)->append_sync(partition_id{1}, {rec("c")});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.err().code, errc::unavailable);
  EXPECT_FALSE((*reader)->commit_offset("g", topic::events, partition_id{1}, log_offset{1}).ok());
  // The writer is unaffected.
  EXPECT_TRUE((*writer)->append_sync(partition_id{1}, {rec("c")}).ok());
  auto wrong = rocks_log::open_read_only(dir_, 8);
  EXPECT_FALSE(wrong.ok());
}

TEST_F(rocks_log_test, a_partition_count_must_be_positive) {
  auto r = rocks_log::open(dir_, 0, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid);
}

TEST_F(rocks_log_test, close_answers_every_queued_append_then_refuses_work) {
  auto opened = rocks_log::open(dir_, 2, nullptr);
  ASSERT_TRUE(opened.ok());
  auto& log = *opened.value();
  std::atomic<int> ok{0}, answered{0};
  constexpr int n = 2000;
  for (int i = 0; i < n; ++i)
    log.append(partition_id{i % 2}, {rec(std::to_string(i))}, [&](result<append_ack> r) {
      ok += r.ok();
      ++answered;
    });
  log.close();
  EXPECT_EQ(answered.load(), n);
  EXPECT_EQ(ok.load(), n);

  auto late = log.append_sync(partition_id{0}, {rec("late")});
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.err().code, errc::unavailable);
  EXPECT_EQ(log.end_offset(topic::events, partition_id{0}).err().code, errc::unavailable);
  log.close();  // idempotent

  auto reopened = rocks_log::open(dir_, 2, nullptr);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened.value()->end_offset(topic::events, partition_id{0}).value().get()
            + reopened.value()->end_offset(topic::events, partition_id{1}).value().get(), n);
}

}  // namespace
}  // namespace kw::storage
