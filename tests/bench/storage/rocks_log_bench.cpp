// core.rocks_append: throughput and p99 latency of RocksLog appends under
// load — 256 appends in flight (each re-submitted from its callback), one
// ~300-byte record each over 8 partitions, synced WAL, for ~3 seconds.
// Latency = from append() to its callback. Prints one JSON line per figure
// (STYLE.md rule 10). Uses a temporary directory under /tmp, removed after.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/rocks_log.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using namespace kw::storage;

constexpr int in_flight = 256;
constexpr int partitions = 8;
constexpr auto duration = std::chrono::seconds(3);

struct bench_state {
  rocks_log* log = nullptr;
  clock_type::time_point deadline;
  std::mutex mu;
  std::condition_variable idle;
  int outstanding = 0;
  long failures = 0;
  std::vector<double> latencies_ms;
  std::string payload = std::string(300, 'x');
};

void submit(bench_state& s, int slot) {
  const auto start = clock_type::now();
  record r;
  r.t = topic::events;
  r.key = "tenant-" + std::to_string(slot % 64);
  r.value = s.payload;
  s.log->append(kw::partition_id{slot % partitions}, {std::move(r)},
                [&s, slot, start](kw::result<append_ack> ack) {
                  const auto now = clock_type::now();
                  bool again;
                  {
                    std::lock_guard<std::mutex> lk(s.mu);
                    s.latencies_ms.push_back(
                        std::chrono::duration<double, std::milli>(now - start).count());
                    if (!ack) ++s.failures;
                    again = now < s.deadline;
                    if (!again && --s.outstanding == 0) s.idle.notify_all();
                  }
                  if (again) submit(s, slot);
                });
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/kw-rocks-bench-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  double throughput = 0, p99 = 0;
  long failures = 0;
  {
    auto opened = rocks_log::open(dir, partitions, nullptr);
    if (!opened) {
      std::fprintf(stderr, "open: %s\n", opened.err().message.c_str());
      return 1;
    }
    bench_state s;
    s.log = opened.value().get();
    s.latencies_ms.reserve(4'000'000);
    const auto begin = clock_type::now();
    s.deadline = begin + duration;
    {
      std::lock_guard<std::mutex> lk(s.mu);
      s.outstanding = in_flight;
    }
    for (int i = 0; i < in_flight; ++i) submit(s, i);
    std::unique_lock<std::mutex> lk(s.mu);
    s.idle.wait(lk, [&] { return s.outstanding == 0; });
    const double secs = std::chrono::duration<double>(clock_type::now() - begin).count();
    throughput = static_cast<double>(s.latencies_ms.size()) / secs;
    std::sort(s.latencies_ms.begin(), s.latencies_ms.end());
    p99 = s.latencies_ms[static_cast<std::size_t>(0.99 * (s.latencies_ms.size() - 1))];
    failures = s.failures;
    std::fprintf(stderr, "%zu appends in %.2fs, p50 %.2fms, %ld failures\n", s.latencies_ms.size(),
                 secs, s.latencies_ms[s.latencies_ms.size() / 2], failures);
  }
  std::filesystem::remove_all(dir);
  std::printf("{\"bench\":\"core.rocks_append\",\"metric\":\"throughput\",\"value\":%.0f,"
              "\"unit\":\"records/s\",\"target\":\">= 50000\"}\n", throughput);
  std::printf("{\"bench\":\"core.rocks_append\",\"metric\":\"p99_ms\",\"value\":%.2f,"
              "\"unit\":\"ms\",\"target\":\"<= 5\"}\n", p99);
  return failures == 0 ? 0 : 1;
}
