// Nothing acknowledged is lost: a node process appending commands is killed
// with SIGKILL at different points; every event it had acknowledged is in the
// log afterwards, at its offset, each tenant's hash chain is unbroken, and a
// node started on the same directory recovers the monitors it had.
#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>

#include "actors/host/node_fixture.hpp"
#include "events/codec.hpp"
#include "events/hash_chain.hpp"
#include "storage/rocks_log.hpp"

namespace kw::test {
namespace {

struct ack {
  std::string tenant, monitor;
  int partition;
  std::int64_t offset;
  std::string event_id;
};

// Runs the child until it has printed `want` acks (or exits), then SIGKILLs it.
std::vector<ack> run_and_kill(const std::string& dir, const std::string& run, std::size_t want) {
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
  while (acks.size() < want) {
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

TEST(node_crash, every_acknowledged_event_survives_sigkill) {
  temp_dir dir;
  std::vector<ack> acked;
  const std::size_t points[] = {500, 3000, 8000};
  int run = 0;
  for (auto want : points) {
    auto acks = run_and_kill(dir.path.string(), "run" + std::to_string(run++), want);
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

  // A node on the same directory recovers all 3 runs' monitors.
  auto n = node::start(options(dir.path.string()));
  ASSERT_TRUE(n.ok()) << n.err().message;
  EXPECT_EQ((*n)->monitor_count(), 3 * 4 * 8);
}

}  // namespace
}  // namespace kw::test
