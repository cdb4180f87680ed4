// Nothing acknowledged is lost: a node process appending commands is killed
// with SIGKILL at different points; every event it had acknowledged is in the
// log afterwards, at its offset, each tenant's hash chain is unbroken, and a
// node started on the same directory recovers the tenants and monitors it
// had — the same as a replay of the whole log, whatever snapshots the kills
// left behind.
#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "actors/host/node_fixture.hpp"
#include "events/codec.hpp"
#include "events/hash_chain.hpp"
#include "actors/host/recovery.hpp"
#include "storage/rocks_log.hpp"
#include "storage/rocks_snapshot_store.hpp"

namespace kw::test {
namespace {

struct ack {
  std::string tenant, monitor;
  int partition;
  std::int64_t offset;
  std::string event_id;
};

// Runs the child until it has printed `want` acks and run for `at_least`
// (or exits), then SIGKILLs it.
std::vector<ack> run_and_kill(const std::string& dir, const std::string& run, std::size_t want,
                              std::chrono::milliseconds at_least) {
  const auto deadline = std::chrono::steady_clock::now() + at_least;
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::execl(KW_NODE_CRASH_CHILD, KW_NODE_CRASH_CHILD, dir.c_str(), run.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  std::vector<ack> acks;
  std::string buf;
  char chunk[65536];
  while (acks.size() < want || std::chrono::steady_clock::now() < deadline) {
    auto n = ::read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;
    buf.append(chunk, std::size_t(n));
    std::size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::istringstream line(buf.substr(0, nl));
      buf.erase(0, nl + 1);
      std::string word;
      ack a;
      if (line >> word >> a.tenant >> a.monitor >> a.partition >> a.offset >> a.event_id &&
          word == "ack")
        acks.push_back(a);
    }
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the child died before it was killed";
  return acks;
}

// Recovery from the snapshots in `dir` equals a replay of its whole log, on
// every partition (the node must not be running).
void expect_recovery_equals_full_replay(const std::string& dir) {
  auto log = storage::rocks_log::open(dir + "/log", 4, nullptr);
  ASSERT_TRUE(log.ok()) << log.err().message;
  auto snaps = storage::rocks_snapshot_store::open(dir + "/snapshots");
  ASSERT_TRUE(snaps.ok()) << snaps.err().message;
  for (int p = 0; p < 4; ++p) {
    auto from_snapshots = recover_partition(**log, snaps->get(), partition_id{p});
    auto from_zero = recover_partition(**log, nullptr, partition_id{p});
    ASSERT_TRUE(from_snapshots.ok()) << from_snapshots.err().message;
    ASSERT_TRUE(from_zero.ok()) << from_zero.err().message;
    for (auto& d : recovery_differences(*from_snapshots, *from_zero))
      ADD_FAILURE() << "partition " << p << ": " << d;
  }
  (*log)->close();
}

TEST(node_crash, every_acknowledged_event_survives_sigkill) {
  temp_dir dir;
  std::vector<ack> acked;
  // Kills at random moments: the child snapshots every second, so some land
  // before its first checkpoint, some between, some during one.
  const auto seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  const std::size_t points[] = {500, 3000, 8000};
  int run = 0;
  for (auto want : points) {
    std::chrono::milliseconds at(std::uniform_int_distribution<int>(300, 3500)(rng));
    auto acks = run_and_kill(dir.path.string(), "run" + std::to_string(run++), want, at);
    ASSERT_GE(acks.size(), want) << "the child stopped acknowledging early";
    acked.insert(acked.end(), acks.begin(), acks.end());
  }
  // Every acknowledged event is at its offset, with its id.
  auto log = storage::rocks_log::open((dir.path / "log").string(), 4, nullptr);
  ASSERT_TRUE(log.ok()) << log.err().message;
  std::map<std::pair<int, std::int64_t>, std::string> events_at, checks_at;
  std::map<std::string, std::vector<std::string>> chains;
  for (int p = 0; p < 4; ++p) {
    for (auto t : {storage::topic::events, storage::topic::checks}) {
      auto recs = (*log)->read(t, partition_id{p}, log_offset{0}, 10'000'000);
      ASSERT_TRUE(recs.ok());
      std::int64_t expect = 0;
      for (auto& r : *recs) {
        ASSERT_EQ(r.offset.get(), expect++) << "offsets are dense";
        auto e = decode(r.value);
        ASSERT_TRUE(e.ok()) << e.err().message;
        (t == storage::topic::events ? events_at : checks_at)[{p, r.offset.get()}] = e->meta.id;
        if (t == storage::topic::events) chains[r.key].push_back(r.value);
      }
    }
  }
  std::size_t found = 0;
  for (auto& a : acked) {
    auto key = std::make_pair(a.partition, a.offset);
    auto in_events = events_at.count(key) && events_at[key] == a.event_id;
    auto in_checks = checks_at.count(key) && checks_at[key] == a.event_id;
    EXPECT_TRUE(in_events || in_checks)
        << "acknowledged event " << a.event_id << " missing at " << a.partition << "/" << a.offset;
    found += in_events || in_checks;
  }
  EXPECT_EQ(found, acked.size());
  for (auto& [tenant, values] : chains) {
    auto st = verify_chain(values);
    EXPECT_TRUE(st.ok()) << tenant << ": " << st.err().message;
  }
  (*log)->close();

  expect_recovery_equals_full_replay(dir.path.string());

  // A node on the same directory recovers every tenant and monitor whose
  // creation was acknowledged, and so does the next one, after the first
  // stopped cleanly.
  std::map<std::string, std::set<std::string>> monitors_of;  // by tenant
  for (auto& a : acked) {
    auto& m = monitors_of[a.tenant];
    if (a.monitor != "-") m.insert(a.monitor);
  }
  std::size_t monitors = 0;
  for (auto& [t, m] : monitors_of) monitors += m.size();
  ASSERT_GT(monitors_of.size(), 12u) << "tenants were born while the child ran";
  for (int start = 0; start < 2; ++start) {
    auto n = node::start(options(dir.path.string()));
    ASSERT_TRUE(n.ok()) << n.err().message;
    // A creation can be durable and its ack not printed yet when the kill
    // comes: at least every acknowledged one is there.
    EXPECT_GE((*n)->monitor_count(), std::int64_t(monitors));
    for (auto& [id, m] : monitors_of) {
      auto st = (*n)->tenant_state(tenant_id{id});
      ASSERT_TRUE(st.ok()) << "tenant " << id << " lost: " << st.err().message;
      EXPECT_TRUE(st->exists) << id;
      for (auto& mon : m) EXPECT_TRUE(st->monitors.count(mon)) << "monitor " << id << "/" << mon << " lost";
    }
    (*n)->stop();
    expect_recovery_equals_full_replay(dir.path.string());
  }
}

}  // namespace
}  // namespace kw::test
