// Kill -9 durability of RocksLog: a child process (rocks_log_crash_child)
// appends from several threads and prints each acknowledged record; the test
// kills it with SIGKILL at some point, reopens the log and checks what a user
// relies on after a crash: every acknowledged record is there, offsets are
// dense, each append's two topics are both there or both absent, records are
// in append order, every record decodes, and the hash chains and their
// stored heads agree. Several rounds on the same directory, killed at
// different points, so recovery of a recovered log is exercised too.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "storage/rocks_log.hpp"
#include "test_sealer.hpp"

namespace kw::storage {
namespace {

constexpr int partitions = 4;

struct acked_record {
  int round, thread;
  long seq;
  int partition;
  std::int64_t offset;
};

// Runs the child until it has acknowledged `target` appends, then SIGKILLs
// it. Returns every line it printed (all acknowledged before the kill).
std::vector<acked_record> run_and_kill(const std::string& dir, int round, std::size_t target) {
  int fds[2];
  if (::pipe(fds) != 0) ADD_FAILURE() << "pipe";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    const std::string parts = std::to_string(partitions), r = std::to_string(round);
    ::execl(KW_CRASH_CHILD, KW_CRASH_CHILD, dir.c_str(), parts.c_str(), "8", r.c_str(),
            static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(fds[1]);

  std::string buf;
  std::size_t lines = 0;
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (;;) {
    if (!killed && (lines >= target || std::chrono::steady_clock::now() > deadline)) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    if (::poll(&pfd, 1, 200) <= 0) continue;
    char chunk[65536];
    const ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;  // EOF: the child is gone
    for (ssize_t i = 0; i < n; ++i) lines += chunk[i] == '\n';
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  EXPECT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
      << "the child ended on its own (status " << wstatus << ") before " << target << " acks";

  std::vector<acked_record> out;
  std::istringstream in(buf);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a line cut by the kill: never fully printed
    acked_record a{};
    long long off = 0;
    if (std::sscanf(line.c_str(), "%d %d %ld %d %lld", &a.round, &a.thread, &a.seq, &a.partition,
                    &off) == 5) {
      a.offset = off;
      out.push_back(a);
    }
  }
  EXPECT_GE(out.size(), std::min<std::size_t>(target, 1));
  return out;
}

struct base_fields {
  int round = -1, thread = -1;
  long seq = -1;
};

base_fields parse_base(const std::string& base) {
  base_fields b;
  std::sscanf(base.c_str(), "r=%d t=%d seq=%ld", &b.round, &b.thread, &b.seq);
  return b;
}

void verify(const std::string& dir, const std::vector<acked_record>& acked) {
  auto opened = rocks_log::open(dir, partitions, std::make_shared<testing::test_sealer>());
  ASSERT_TRUE(opened.ok()) << opened.err().message;
  auto& log = *opened.value();
  std::vector<std::vector<stored_record>> events(partitions);
  for (int p = 0; p < partitions; ++p) {
    // read() itself fails on a gap in offsets or on a record that does not decode.
    auto e = log.read(topic::events, partition_id{p}, log_offset{0}, 1u << 30);
    auto c = log.read(topic::checks, partition_id{p}, log_offset{0}, 1u << 30);
    ASSERT_TRUE(e.ok()) << e.err().message;
    ASSERT_TRUE(c.ok()) << c.err().message;
    ASSERT_EQ(log.end_offset(topic::events, partition_id{p}).value().get(),
              static_cast<std::int64_t>(e->size()));
    // Each append wrote one record to each topic of its partition, atomically.
    ASSERT_EQ(e->size(), c->size()) << "partition " << p;

    std::map<std::string, std::string> chain;                  // key -> last hash
    std::map<std::tuple<int, int>, long> last_seq;             // (round, thread) -> seq
    for (std::size_t i = 0; i < e->size(); ++i) {
      const auto& er = (*e)[i];
      const auto s = testing::unseal(er.value);
      ASSERT_TRUE(s.ok) << "events/" << p << "@" << i << " is not a sealed record";
      ASSERT_EQ(s.base, (*c)[i].value) << "topics disagree at " << p << "@" << i;
      ASSERT_EQ(er.key, (*c)[i].key);
      ASSERT_EQ(s.prev, chain[er.key]) << "chain broken at " << p << "@" << i;
      chain[er.key] = s.hash;
      const auto b = parse_base(s.base);
      ASSERT_GE(b.seq, 0) << s.base;
      auto [last, first] = last_seq.try_emplace({b.round, b.thread}, b.seq);
      if (!first) {
        // One thread appends one at a time: its records are in its order.
        ASSERT_LT(last->second, b.seq) << "out of order at " << p << "@" << i;
        last->second = b.seq;
      }
    }
    for (auto& [key, hash] : chain)
      ASSERT_EQ(log.chain_head(partition_id{p}, key).value(), hash) << "head of " << key;
    events[p] = std::move(e.value());
  }
  for (const auto& a : acked) {
    ASSERT_LT(a.offset, static_cast<std::int64_t>(events[a.partition].size()))
        << "acknowledged record r=" << a.round << " seq=" << a.seq << " lost";
    const auto b = parse_base(testing::unseal(events[a.partition][a.offset].value).base);
    ASSERT_TRUE(b.round == a.round && b.thread == a.thread && b.seq == a.seq)
        << "acknowledged record r=" << a.round << " seq=" << a.seq << " not at its offset";
  }
}

TEST(rocks_log_crash, acknowledged_records_survive_kill_9) {
  char tmpl[] = "/tmp/kw-crash-test-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  std::vector<acked_record> acked;
  const std::size_t targets[] = {200, 3000, 20000, 8000};
  int round = 0;
  for (std::size_t target : targets) {
    auto got = run_and_kill(dir, round++, target);
    acked.insert(acked.end(), got.begin(), got.end());
    verify(dir, acked);
    if (HasFatalFailure()) break;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kw::storage
