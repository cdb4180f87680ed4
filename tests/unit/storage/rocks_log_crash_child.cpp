// The child of crash_test: opens a RocksLog and appends numbered records from
// several threads until it is killed. Each append is one events record
// (chained, key "tenant-<seq % 5>") and one checks record with the same base
// value "r=<round> t=<thread> seq=<seq>". After an append is acknowledged,
// and only then, it prints "<round> <thread> <seq> <partition> <offset>" and
// flushes, so every line the parent reads is a durable record.
// Usage: rocks_log_crash_child <dir> <partitions> <threads> <round>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/rocks_log.hpp"
#include "test_sealer.hpp"

int main(int argc, char** argv) {
  using namespace kw::storage;
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s dir partitions threads round\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const int partitions = std::atoi(argv[2]), threads = std::atoi(argv[3]);
  const std::string round = argv[4];
  auto log = rocks_log::open(dir, partitions, std::make_shared<testing::test_sealer>());
  if (!log) {
    std::fprintf(stderr, "open: %s\n", log.err().message.c_str());
    return 1;
  }
  std::mutex out_mu;
  std::atomic<long> next_seq{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (;;) {
        const long seq = next_seq++;
        const int p = static_cast<int>(seq % partitions);
        const std::string base = "r=" + round + " t=" + std::to_string(t) + " seq=" + std::to_string(seq);
        record e, c;
        e.t = topic::events;
        e.key = "tenant-" + std::to_string(seq % 5);
        e.value = base;
        e.chained = true;
        c.t = topic::checks;
        c.key = e.key;
        c.value = base;
        auto ack = (*log)->append_sync(kw::partition_id{p}, {e, c});
        if (!ack) {
          std::fprintf(stderr, "append: %s\n", ack.err().message.c_str());
          std::_Exit(3);
        }
        std::lock_guard<std::mutex> lk(out_mu);
        std::printf("%s %d %ld %d %lld\n", round.c_str(), t, seq, p,
                    static_cast<long long>(ack->offsets[0].get()));
        std::fflush(stdout);
      }
    });
  }
  for (auto& w : workers) w.join();
}
