// Recovery tolerates what a log may hand it: every record delivered twice
// changes nothing, and a corrupt record stops recovery with an error that
// names where it is, rather than a node that silently skips its history.
#include <gtest/gtest.h>

#include "actors/host/node_fixture.hpp"
#include "actors/host/recovery.hpp"
#include "storage/rocks_log.hpp"

namespace kw::test {
namespace {

struct history {
  tenant::state acme;
  monitor::state web;
};

history write_history(const std::string& dir) {
  auto n = node::start(options(dir));
  EXPECT_TRUE(n.ok());
  auto& nd = **n;
  EXPECT_TRUE(nd.execute(tcmd(tenant::create_tenant{"Acme", "test", "u1", "o@example.com"}),
                         tenant_id{"acme"}).ok());
  EXPECT_TRUE(nd.execute(tcmd(tenant::create_monitor{"web", http_config("http://127.0.0.1:9/")}),
                         tenant_id{"acme"}).ok());
  for (int i = 0; i < 6; ++i) {
    bool ok = i != 2 && i != 3;
    EXPECT_TRUE(nd.execute(mcmd(monitor::record_check{ok, 1000, ok ? 200 : 500, ok ? "" : "status 500",
                                                      std::nullopt, new_id()}),
                           tenant_id{"acme"}, "web").ok());
  }
  history h{*nd.tenant_state(tenant_id{"acme"}), *nd.monitor_state(tenant_id{"acme"}, "web")};
  nd.stop();
  return h;
}

TEST(recovery, every_record_delivered_twice_changes_nothing) {
  temp_dir dir;
  auto h = write_history(dir.path.string());
  {
    auto log = storage::rocks_log::open((dir.path / "log").string(), 4, nullptr);
    ASSERT_TRUE(log.ok());
    for (int p = 0; p < 4; ++p) {
      for (auto t : {storage::topic::events, storage::topic::checks}) {
        auto recs = (*log)->read(t, partition_id{p}, log_offset{0}, 100000);
        ASSERT_TRUE(recs.ok());
        if (recs->empty()) continue;
        std::vector<storage::record> again;
        for (auto& r : *recs) again.push_back({t, r.key, r.value, r.headers, false});
        ASSERT_TRUE((*log)->append_sync(partition_id{p}, again).ok());
      }
    }
    (*log)->close();
  }
  std::filesystem::remove_all(dir.path / "snapshots");
  auto n = node::start(options(dir.path.string()));
  ASSERT_TRUE(n.ok()) << n.err().message;
  EXPECT_EQ(*(*n)->tenant_state(tenant_id{"acme"}), h.acme);
  EXPECT_EQ(*(*n)->monitor_state(tenant_id{"acme"}, "web"), h.web);
  EXPECT_EQ(h.web.status, monitor_status::up);
  EXPECT_EQ(h.web.check_seq, 6);
}

TEST(recovery, an_unreadable_snapshot_is_ignored_and_the_log_replayed) {
  temp_dir dir;
  auto h = write_history(dir.path.string());
  {
    auto snaps = storage::rocks_snapshot_store::open((dir.path / "snapshots").string());
    ASSERT_TRUE(snaps.ok());
    for (int p = 0; p < 4; ++p)
      ASSERT_TRUE((*snaps)->save(partition_id{p}, {"tenant/acme", "{not a snapshot", log_offset{0},
                                                   log_offset{0}}).ok());
  }
  auto n = node::start(options(dir.path.string()));
  ASSERT_TRUE(n.ok()) << n.err().message;
  EXPECT_EQ((*n)->recovery().snapshots_loaded, 0);
  EXPECT_EQ(*(*n)->tenant_state(tenant_id{"acme"}), h.acme);
  EXPECT_EQ(*(*n)->monitor_state(tenant_id{"acme"}, "web"), h.web);
}

TEST(recovery, a_corrupt_record_is_an_error_naming_its_offset) {
  temp_dir dir;
  write_history(dir.path.string());
  int partition = -1;
  {
    auto log = storage::rocks_log::open((dir.path / "log").string(), 4, nullptr);
    ASSERT_TRUE(log.ok());
    for (int p = 0; p < 4 && partition < 0; ++p)
      if ((*log)->end_offset(storage::topic::events, partition_id{p})->get() > 0) partition = p;
    ASSERT_GE(partition, 0);
    ASSERT_TRUE((*log)->append_sync(partition_id{partition},
                                    {{storage::topic::events, "acme", "{\"not\":\"an event\"}", {}, false}})
                    .ok());
    (*log)->close();
  }
  std::filesystem::remove_all(dir.path / "snapshots");
  auto n = node::start(options(dir.path.string()));
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.err().code, errc::decode);
  EXPECT_NE(n.err().message.find("offset"), std::string::npos) << n.err().message;
}

}  // namespace
}  // namespace kw::test
