// What the core (node-level) benchmarks share: the JSON figure line, a
// temporary data directory, a plan catalogue without practical limits,
// command builders, bulk tenant/monitor creation with many commands in
// flight, percentiles and the process's memory figures.
//
// Benchmarks are not tests (STYLE.md rule 10): nothing here asserts; a
// failure is reported on stderr and the benchmark exits non-zero.
#pragma once

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/host/node.hpp"

#include "../bench_output.hpp"

namespace kw::bench {


// A fresh directory under /tmp, removed with everything in it at scope exit.
struct temp_dir {
  std::string path;
  bool keep = false;  // leave it behind (profiling)
  explicit temp_dir(const char* name) {
    std::string tmpl = std::string("/tmp/kw-") + name + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) fail("mkdtemp");
    path = buf.data();
  }
  ~temp_dir() {
    if (keep) return;
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

// One plan, "bench": as many monitors as wanted, checks every second allowed.
inline plan_catalog bench_plans() {
  plan p;
  p.name = "bench";
  p.max_monitors = 10'000'000;
  p.min_interval_s = 1;
  p.retention_days = 7;
  p.max_users = 5;
  p.max_status_pages = 2;
  p.api_rate_per_min = 1'000'000;
  plan_catalog c;
  c.plans[p.name] = p;
  return c;
}

inline node_options bench_options(const std::string& dir, bool run_checks) {
  node_options o;
  o.data_dir = dir;
  o.partitions = 8;
  o.plans = bench_plans();
  o.run_checks = run_checks;
  o.scheduler_threads = 0;  // one per core, as in production
  o.allow_private_targets = true;  // benchmark targets run on 127.0.0.1
  return o;
}

inline std::unique_ptr<node> start_node(node_options o) {
  auto n = node::start(std::move(o));
  if (!n) fail("node start: " + n.err().message);
  return std::move(*n);
}

inline command_meta meta() {
  command_meta m;
  m.command_id = new_id();
  m.actor = actor_ref{"system", "bench", "127.0.0.1"};
  m.time = now();
  m.correlation_id = "bench";
  return m;
}

inline tenant::command tcmd(tenant::body b) { return tenant::command{meta(), std::move(b)}; }

inline monitor::command mcmd(monitor::body b) {
  monitor::command c;
  c.meta = meta();
  c.b = std::move(b);
  return c;
}

// An HTTP monitor on a closed local port (a probe fails at once, touching
// nothing outside the machine).
inline monitor_config http_config(int interval_s) {
  monitor_config c;
  c.name = "site";
  c.kind = monitor_kind::http;
  c.url = "http://127.0.0.1:9/";
  c.interval_s = interval_s;
  c.timeout_ms = 500;
  c.retries = 0;
  return c;
}

inline std::string tenant_name(int t) { return "t" + std::to_string(t); }
inline std::string monitor_name(int t, int m) {
  return "t" + std::to_string(t) + "-m" + std::to_string(m);
}

// Counts down outstanding callbacks; the waiter blocks, callbacks never do.
struct latch {
  std::mutex mu;
  std::condition_variable cv;
  long left = 0;
  std::atomic<long> failures{0};
  std::string first_error;
  void done(const result<command_reply>& r) {
    std::lock_guard<std::mutex> lk(mu);
    if (!r.ok()) {
      if (failures++ == 0) first_error = r.err().message;
    }
    if (--left == 0) cv.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return left == 0; });
  }
};

// Creates `tenants` tenants (plan "bench"), then `monitors` monitors in each.
// Commands to one tenant are decided one at a time, so the parallelism is
// across tenants: one create per tenant in flight, the next one sent from the
// previous one's reply.
inline void create_fleet(node& n, int tenants, int monitors, int interval_s) {
  auto t0 = clock_type::now();
  {
    latch l;
    l.left = tenants;
    for (int t = 0; t < tenants; ++t)
      n.submit(tcmd(tenant::create_tenant{"Tenant " + std::to_string(t), "bench", "u1",
                                          "owner@example.com"}),
               tenant_id{tenant_name(t)}, [&l](result<command_reply> r) { l.done(r); });
    l.wait();
    if (l.failures) fail("create_tenant: " + l.first_error);
  }
  struct chain {
    node* n;
    latch* l;
    int t;
    int monitors;
    int interval_s;
    void next(int m) {
      n->submit(tcmd(tenant::create_monitor{monitor_name(t, m), http_config(interval_s)}),
                tenant_id{tenant_name(t)}, [this, m](result<command_reply> r) {
                  bool more = r.ok() && m + 1 < monitors;
                  if (!r.ok() || !more) return l->done(r);
                  next(m + 1);
                });
    }
  };
  latch l;
  l.left = tenants;
  std::vector<std::unique_ptr<chain>> chains;
  for (int t = 0; t < tenants; ++t)
    chains.push_back(std::make_unique<chain>(chain{&n, &l, t, monitors, interval_s}));
  for (auto& c : chains) c->next(0);
  l.wait();
  if (l.failures) fail("create_monitor: " + l.first_error);
  std::fprintf(stderr, "created %d tenants x %d monitors in %.1f s\n", tenants, monitors,
               seconds_since(t0));
}


// Resident set size, bytes (/proc/self/statm).
inline std::int64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

// Bytes malloc has handed out and not got back.
inline std::int64_t heap_in_use() {
  auto mi = ::mallinfo2();
  return std::int64_t(mi.uordblks) + std::int64_t(mi.hblkhd);
}

}  // namespace kw::bench
