// core.decode: throughput of kw::decode on the records node recovery
// replays, single-threaded, in events per second.
//
// 1024 distinct records of each kind (ids, sequence numbers, latencies and
// times vary, as in a real log) are encoded once and then decoded round-robin
// for a fixed window after a warm-up; every decode is checked to succeed, so
// a codec that rejects its own output fails the benchmark instead of looking
// fast. Prints:
//  - core.decode                  keepwatch.check.completed.v1 (~450 bytes,
//                                 most of the log)
//  - core.decode_monitor_created  keepwatch.monitor.created.v2 (full config)
//
// Usage: codec_bench [seconds per figure]  (default 2)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "events/codec.hpp"

namespace {

using namespace kw;
using clock_type = std::chrono::steady_clock;

constexpr int n_records = 1024;

void figure(const char* bench, const char* metric, double value, const char* unit,
            const char* target) {
  std::printf("{\"bench\":\"%s\",\"metric\":\"%s\",\"value\":%.6g,\"unit\":\"%s\",\"target\":\"%s\"}\n",
              bench, metric, value, unit, target);
  std::fflush(stdout);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench failed: %s\n", what.c_str());
  std::exit(1);
}

std::uint64_t next(std::uint64_t& x) {  // xorshift64: deterministic spread
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

const timestamp t0(1'795'514'400'123'456);  // 2026-11-24T10:00:00.123456Z

event with_envelope(event_data d, int i, std::uint64_t& rng) {
  event e{envelope{}, std::move(d)};
  envelope& m = e.meta;
  m.time = timestamp(t0.get() + std::int64_t(i) * 1'000'037);
  m.id = uuid_v7(m.time, next(rng), next(rng));
  m.source = "keepwatch/node-" + std::to_string(1 + i % 3);
  m.tenant = tenant_id("tenant-" + std::to_string(i % 200));
  m.aggregate = "monitor/" + uuid_v7(t0, std::uint64_t(i % 1000), 0x5eed);
  m.subject = m.aggregate;
  m.seq = seq_no(1 + i * 7);
  m.actor = actor_ref{"system", "scheduler", ""};
  m.correlation_id = uuid_v7(m.time, next(rng), next(rng));
  m.causation_id = uuid_v7(m.time, next(rng), next(rng));
  return e;
}

std::vector<std::string> check_records() {
  std::uint64_t rng = 88172645463325252ull;
  std::vector<std::string> out;
  for (int i = 0; i < n_records; ++i) {
    check_completed c;
    c.monitor_id = uuid_v7(t0, std::uint64_t(i % 1000), 0x5eed);
    c.ok = i % 50 != 0;
    c.latency_us = std::int64_t(1000 + next(rng) % 50000);
    c.http_status = c.ok ? 200 : 503;
    if (!c.ok) c.error = "HTTP 503";
    if (i % 2 == 0) c.cert_expires_at = timestamp(t0.get() + 86'400'000'000LL * (1 + i % 90));
    out.push_back(encode(with_envelope(c, i, rng)));
  }
  return out;
}

std::vector<std::string> created_records() {
  std::uint64_t rng = 0x9E3779B97F4A7C15ull;
  std::vector<std::string> out;
  for (int i = 0; i < n_records; ++i) {
    monitor_created mc;
    mc.monitor_id = uuid_v7(t0, std::uint64_t(i % 1000), 0x5eed);
    monitor_config& c = mc.config;
    c.name = "Shop checkout " + std::to_string(i);
    c.kind = i % 4 == 0 ? monitor_kind::keyword : monitor_kind::http;
    c.url = "https://shop" + std::to_string(i) + ".example.com/checkout?a=1";
    c.interval_s = 30 + i % 60;
    c.timeout_ms = 4500;
    c.retries = i % 3;
    c.accepted_status = {{200, 299}, {301, 302}};
    if (c.kind == monitor_kind::keyword) c.keyword = "Add to cart";
    c.tags = {"prod", "eu"};
    c.channel_ids = {"ch_" + std::to_string(i % 7)};
    event e = with_envelope(mc, i, rng);
    e.meta.actor = actor_ref{"user", "u_" + std::to_string(i % 50), "203.0.113.9"};
    e.meta.prevhash = std::string(64, 'b');
    e.meta.hash = std::string(64, 'c');
    out.push_back(encode(e));
  }
  return out;
}

// Decodes `records` round-robin for `seconds` and returns events per second.
double run(const std::vector<std::string>& records, double seconds) {
  for (const auto& r : records) {  // warm-up and sanity check
    auto e = decode(r);
    if (!e) die("decode rejected its own encoding: " + e.err().message + "\n" + r);
    if (encode(*e) != r) die("round trip changed the record:\n" + r);
  }
  const auto window = std::chrono::duration<double>(seconds);
  std::size_t sink = 0;
  long decoded = 0;
  const auto start = clock_type::now();
  auto now = start;
  do {
    for (const auto& r : records) {
      auto e = decode(r);
      if (!e) die("decode failed: " + e.err().message);
      sink += e->meta.id.size() + std::size_t(e->meta.seq.get());
    }
    decoded += long(records.size());
    now = clock_type::now();
  } while (now - start < window);
  if (sink == 42) std::fprintf(stderr, "(sink)\n");
  return double(decoded) / std::chrono::duration<double>(now - start).count();
}

double mean_size(const std::vector<std::string>& v) {
  double s = 0;
  for (const auto& r : v) s += double(r.size());
  return s / double(v.size());
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  const auto checks = check_records();
  const auto created = created_records();
  std::fprintf(stderr, "check_completed: %.0f bytes/record; monitor_created: %.0f bytes/record\n",
               mean_size(checks), mean_size(created));
  figure("core.decode", "throughput", run(checks, seconds), "events/s", "-");
  figure("core.decode_monitor_created", "throughput", run(created, seconds), "events/s", "-");
  return 0;
}
