// The RocksDB snapshot store: what recovery relies on — the latest snapshot
// of an aggregate comes back, after a restart too, and a partition's
// snapshots can be loaded together.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "storage/rocks_snapshot_store.hpp"

namespace kw::storage {
namespace {

snapshot snap(std::string aggregate, std::string state, std::int64_t e, std::int64_t c) {
  return snapshot{std::move(aggregate), std::move(state), log_offset{e}, log_offset{c}};
}

class snapshot_store_test : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kw-snapshot-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen() {
    store_.reset();
    auto r = rocks_snapshot_store::open(dir_);
    ASSERT_TRUE(r.ok()) << r.err().message;
    store_ = std::move(r.value());
  }
  std::optional<snapshot> load(int p, const std::string& aggregate) {
    auto r = store_->load(partition_id{p}, aggregate);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : std::nullopt;
  }
  std::string dir_;
  std::unique_ptr<rocks_snapshot_store> store_;
};

void expect_same(const snapshot& a, const snapshot& b) {
  EXPECT_EQ(a.aggregate, b.aggregate);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.events_offset, b.events_offset);
  EXPECT_EQ(a.checks_offset, b.checks_offset);
}

TEST_F(snapshot_store_test, a_saved_snapshot_loads_back_and_missing_ones_are_empty) {
  EXPECT_FALSE(load(0, "tenant/t1").has_value());
  const auto s = snap("tenant/t1", std::string("{\"plan\":\"pro\"}\0\xff", 16), 42, 7);
  ASSERT_TRUE(store_->save(partition_id{0}, s).ok());
  auto got = load(0, "tenant/t1");
  ASSERT_TRUE(got.has_value());
  expect_same(*got, s);
  EXPECT_FALSE(load(1, "tenant/t1").has_value());  // partitions are separate
  EXPECT_FALSE(load(0, "tenant/t").has_value());   // a prefix is another aggregate
}

TEST_F(snapshot_store_test, a_later_save_replaces_the_snapshot) {
  ASSERT_TRUE(store_->save(partition_id{2}, snap("monitor/m", "old", 1, 1)).ok());
  ASSERT_TRUE(store_->save(partition_id{2}, snap("monitor/m", "", 9, 3)).ok());
  auto got = load(2, "monitor/m");
  ASSERT_TRUE(got.has_value());
  expect_same(*got, snap("monitor/m", "", 9, 3));
}

TEST_F(snapshot_store_test, load_all_returns_one_partition_ordered_by_aggregate) {
  ASSERT_TRUE(store_->save_many(partition_id{1}, {snap("tenant/b", "B", 2, 0),
                                                  snap("monitor/z", "Z", 3, 4),
                                                  snap("tenant/a", "A", 1, 0)}).ok());
  ASSERT_TRUE(store_->save(partition_id{0}, snap("tenant/other", "O", 1, 1)).ok());
  ASSERT_TRUE(store_->save(partition_id{256}, snap("tenant/far", "F", 1, 1)).ok());
  ASSERT_TRUE(store_->save(partition_id{1}, snap("tenant/a", "A2", 5, 0)).ok());
  auto all = store_->load_all(partition_id{1});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  expect_same((*all)[0], snap("monitor/z", "Z", 3, 4));
  expect_same((*all)[1], snap("tenant/a", "A2", 5, 0));
  expect_same((*all)[2], snap("tenant/b", "B", 2, 0));
  auto none = store_->load_all(partition_id{7});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(snapshot_store_test, snapshots_survive_a_restart) {
  ASSERT_TRUE(store_->save_many(partition_id{3}, {snap("tenant/a", "A", 10, 20),
                                                  snap("tenant/b", "B", 11, 21)}).ok());
  reopen();
  auto all = store_->load_all(partition_id{3});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  expect_same((*all)[0], snap("tenant/a", "A", 10, 20));
  expect_same((*all)[1], snap("tenant/b", "B", 11, 21));
}

TEST_F(snapshot_store_test, an_unusable_directory_is_a_clear_error) {
  auto r = rocks_snapshot_store::open("/proc/kw-no-such-dir/snapshots");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::storage);
  EXPECT_NE(r.err().message.find("/proc/kw-no-such-dir/snapshots"), std::string::npos);
}

}  // namespace
}  // namespace kw::storage
