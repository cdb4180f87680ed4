// core.decide_evolve: how many monitor record_check commands per second one
// core can decide and evolve — the per-check cost of the write side minus the
// log. Prints exactly one JSON line (STYLE.md, rule 10).
//
// Workload: 1,000 monitors checked round-robin, as a partition host would
// interleave them. Most checks succeed; about one monitor in fifty is in a
// failure streak of 1 to 6 checks at any time, so pending/up/down moves and
// incident open/close happen at a realistic, low rate. Commands and events are
// reused between iterations, as a shell would keep them, so the hot path
// allocates only the result vector.
#include <chrono>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "actors/monitor/monitor_decider.hpp"

namespace {

using namespace kw;
namespace km = kw::monitor;

struct rng {  // xorshift64*: the bench's own randomness, not the domain's
  std::uint64_t s = 0x9E3779B97F4A7C15ull;
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};

struct slot {
  km::state st;
  int streak = 0;  // failures still to come
};

}  // namespace

int main() {
  constexpr int monitors = 1000;
  constexpr double seconds = 2.0;

  std::vector<slot> pool(monitors);
  event ev;
  ev.meta.tenant = tenant_id{"acme"};
  for (int i = 0; i < monitors; ++i) {
    monitor_config c;
    c.name = "monitor " + std::to_string(i);
    c.url = "https://acme.example/health/" + std::to_string(i);
    c.interval_s = 60;
    c.retries = i % 3;
    ev.data = monitor_created{"mon-" + std::to_string(100000 + i), c};
    ev.meta.causation_id = "create-" + std::to_string(i);
    pool[i].st = km::evolve(km::initial_state(), ev);
  }

  km::command cmd;
  cmd.b = km::record_check{true, 0, 200, "", std::nullopt, ""};
  auto& check = std::get<km::record_check>(cmd.b);
  cmd.meta.command_id.assign(24, '0');
  check.incident_id.assign(24, '0');
  ev.meta.causation_id.reserve(32);

  rng r;
  std::int64_t now = 1'800'000'000'000'000;
  std::uint64_t ops = 0, transitions = 0, rejected = 0;
  char digits[24];

  auto t_start = std::chrono::steady_clock::now();
  auto deadline = t_start + std::chrono::duration<double>(seconds);
  for (;;) {
    for (int batch = 0; batch < 4096; ++batch) {
      slot& m = pool[ops % monitors];
      ++ops;
      now += 60;  // µs between consecutive checks of the node

      if (m.streak == 0 && r.next() % 2000 < 40) m.streak = 1 + static_cast<int>(r.next() % 6);
      const bool ok = m.streak == 0;
      if (!ok) --m.streak;

      // A fresh command id (the shell's), written in place: no allocation.
      auto [end, ec] = std::to_chars(digits, digits + sizeof digits, ops);
      (void)ec;
      cmd.meta.command_id.replace(24 - (end - digits), end - digits, digits, end - digits);
      check.incident_id.replace(24 - (end - digits), end - digits, digits, end - digits);
      cmd.meta.time = timestamp{now};
      check.ok = ok;
      check.latency_us = ok ? 1000 + static_cast<std::int64_t>(r.next() % 50000) : 0;
      check.http_status = ok ? 200 : 503;
      if (ok) check.error.clear();
      else check.error.assign("status 503");

      auto out = km::decide(m.st, cmd);
      if (!out.ok()) {
        ++rejected;
        continue;
      }
      ev.meta.time = cmd.meta.time;
      ev.meta.causation_id.assign(cmd.meta.command_id);
      transitions += out->size() - 1;
      for (auto& d : *out) {
        ev.meta.seq = seq_no{is_check_result(d) ? m.st.check_seq + 1 : m.st.version + 1};
        ev.data = std::move(d);
        m.st = km::evolve(std::move(m.st), ev);
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();

  if (rejected != 0) {
    std::fprintf(stderr, "decider_bench: %llu commands rejected\n",
                 static_cast<unsigned long long>(rejected));
    return 1;
  }
  std::fprintf(stderr, "decider_bench: %llu ops, %llu extra events, %.3f s\n",
               static_cast<unsigned long long>(ops), static_cast<unsigned long long>(transitions),
               elapsed);
  std::printf(
      "{\"bench\":\"core.decide_evolve\",\"metric\":\"throughput\",\"value\":%.0f,"
      "\"unit\":\"ops/s\",\"target\":\">= 1000000\"}\n",
      static_cast<double>(ops) / elapsed);
  return 0;
}
