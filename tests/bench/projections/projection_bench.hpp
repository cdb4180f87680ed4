// What the projection benchmarks share: the JSON figure line, a throwaway
// PostgreSQL (ops/pg.sh) that is stopped whatever way the benchmark ends, a
// synthetic fleet of tenants and monitors, builders for the events the
// projections read (check results, domain events) and the log records that
// carry them (as the node's shell writes them), and bulk appends straight to
// a log, which is far faster than going through a node.
//
// Benchmarks are not tests (STYLE.md rule 10): nothing here asserts; a
// failure is reported on stderr and the benchmark exits non-zero (the
// PostgreSQL server is stopped all the same).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "config/plan.hpp"
#include "events/codec.hpp"
#include "events/hash_chain.hpp"
#include "projections/migrations.hpp"
#include "projections/runner.hpp"
#include "storage/event_log.hpp"
#include "storage/partitioner.hpp"

#ifndef KW_PG_SH
#error "define KW_PG_SH as the path of ops/pg.sh"
#endif

#include "../bench_output.hpp"

namespace kw::pbench {

using bench::clock_type;
using bench::figure;
using bench::percentile;
using bench::seconds_since;

inline double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}


[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "bench failed: %s\n", what.c_str());
  std::exit(1);  // runs the atexit handlers: the PostgreSQL server is stopped
}

template <class T>
T must(result<T> r, const char* what) {
  if (!r) fail(std::string(what) + ": " + r.err().message);
  return std::move(*r);
}

inline void must(const status& s, const char* what) {
  if (!s) fail(std::string(what) + ": " + s.err().message);
}


// Wall-clock time, as events carry it.
inline timestamp wall_now() {
  using namespace std::chrono;
  return timestamp{duration_cast<microseconds>(system_clock::now().time_since_epoch()).count()};
}

// A fresh directory under /tmp, removed with everything in it at scope exit.
struct temp_dir {
  std::string path;
  explicit temp_dir(const char* name) {
    std::string tmpl = std::string("/tmp/kw-") + name + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp");
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

// ---- PostgreSQL -------------------------------------------------------------------

// The benchmark's PostgreSQL 15 (ops/pg.sh start), one per process. A
// watchdog process, forked before the server starts (and before any other
// thread exists), holds the read end of a pipe whose write end only this
// process has: when this process ends — normally, through fail(), or
// killed — the pipe closes and the watchdog runs `ops/pg.sh stop`. On a
// normal exit the atexit handler waits for it, so the server is gone when
// the benchmark returns.
class pg_server {
public:
  static pg_server& get() {
    if (instance() == nullptr) new pg_server();  // never destroyed: atexit stops it
    return *instance();
  }

  // postgresql://postgres@127.0.0.1:PORT/keepwatch
  const std::string& url() const { return url_; }

  // A new empty database; its URL.
  std::string create_database(const std::string& name) {
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    tx.exec("DROP DATABASE IF EXISTS " + name);
    tx.exec("CREATE DATABASE " + name);
    return url_.substr(0, url_.rfind('/') + 1) + name;
  }

  // A new database with the schema (every migration) and the bench plans.
  std::string create_read_side(const std::string& name, const plan_catalog& plans) {
    auto db = create_database(name);
    must(projections::apply_migrations(db), "apply_migrations");
    must(projections::sync_plans(db, plans), "sync_plans");
    return db;
  }

private:
  static pg_server*& instance() {
    static pg_server* s = nullptr;
    return s;
  }

  pg_server() {
    instance() = this;
    std::string tmpl = "/tmp/kw-pg-bench.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp for PostgreSQL");
    dir_ = tmpl;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) fail("pipe2");
    const pid_t child = ::fork();
    if (child < 0) fail("fork");
    if (child == 0) {
      // The watchdog: outlive the benchmark just long enough to stop the server.
      ::close(fds[1]);
      // Hold none of the benchmark's output open (a reader of its stdout
      // would otherwise wait for the watchdog).
      if (const int null = ::open("/dev/null", O_RDWR); null >= 0) {
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        if (null > 2) ::close(null);
      }
      ::signal(SIGINT, SIG_IGN);
      ::signal(SIGTERM, SIG_IGN);
      ::signal(SIGHUP, SIG_IGN);
      char b;
      while (::read(fds[0], &b, 1) != 0) {
      }
      const std::string cmd = std::string("'") + KW_PG_SH + "' stop '" + dir_ + "' >/dev/null 2>&1";
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[0]);
    watchdog_fd_ = fds[1];
    watchdog_ = child;
    std::atexit([] { instance()->stop(); });
    url_ = run_capture(std::string("'") + KW_PG_SH + "' start '" + dir_ + "'");
    if (url_.rfind("postgresql://", 0) != 0) fail("ops/pg.sh start did not print a URL");
  }

  void stop() {
    if (watchdog_fd_ < 0) return;
    ::close(watchdog_fd_);
    watchdog_fd_ = -1;
    int st = 0;
    (void)::waitpid(watchdog_, &st, 0);
  }

  static std::string run_capture(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return out;
    std::array<char, 256> buf{};
    while (std::fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
    if (::pclose(p) != 0) return {};
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

  std::string dir_;
  std::string url_;
  int watchdog_fd_ = -1;
  pid_t watchdog_ = -1;
};

// One plan, "bench": no practical limits, 30 days of history kept.
inline plan_catalog bench_plans() {
  plan p;
  p.name = "bench";
  p.max_monitors = 10'000'000;
  p.min_interval_s = 1;
  p.retention_days = 30;
  p.max_users = 5;
  p.max_status_pages = 2;
  p.api_rate_per_min = 1'000'000;
  p.base_price_cents = 900;
  p.monitor_price_cents = 25;
  plan_catalog c;
  c.plans[p.name] = p;
  return c;
}

inline std::string scalar(pqxx::connection& c, const std::string& sql) {
  pqxx::nontransaction tx(c);
  auto r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) return "NULL";
  return r[0][0].c_str();
}

// ---- the fleet and its events -------------------------------------------------------

constexpr int partitions = 8;

// Tenants with UUID ids (as the gateway makes them), each with its monitors.
struct fleet {
  struct tenant {
    std::string id;
    partition_id partition{0};
    std::vector<std::string> monitors;
  };
  std::vector<tenant> tenants;

  fleet(int n_tenants, int monitors_each) {
    const timestamp born{1'700'000'000'000'000};
    for (int t = 0; t < n_tenants; ++t) {
      tenant x;
      x.id = uuid_v7(born, std::uint64_t(t), 0x5eed);
      x.partition = storage::partition_for(tenant_id{x.id}, partitions);
      for (int m = 0; m < monitors_each; ++m)
        x.monitors.push_back(uuid_v7(born, std::uint64_t(t), 0x10000 + std::uint64_t(m)));
      tenants.push_back(std::move(x));
    }
  }
};

// Event ids: UUID v7 from the event's time and a fast generator.
struct id_source {
  std::mt19937_64 rng{42};
  std::string next(timestamp t) { return uuid_v7(t, rng(), rng()); }
};

inline envelope base_envelope(id_source& ids, const std::string& tenant, const std::string& aggregate,
                              std::int64_t seq, timestamp t) {
  envelope m;
  m.id = ids.next(t);
  m.source = "keepwatch/bench";
  m.subject = aggregate;
  m.aggregate = aggregate;
  m.time = t;
  m.tenant = tenant_id{tenant};
  m.seq = seq_no{seq};
  m.actor = actor_ref{"system", "keepwatch", ""};
  m.correlation_id = m.id;
  m.causation_id = m.id;
  return m;
}

// A check result of `monitor`, as the monitor actor records it: about one in
// a hundred failing (`ok` false), the rest 20-300 ms.
inline event check_event(id_source& ids, const std::string& tenant, const std::string& monitor,
                         std::int64_t seq, timestamp t, bool ok) {
  event e;
  e.meta = base_envelope(ids, tenant, "monitor/" + monitor, seq, t);
  check_completed c;
  c.monitor_id = monitor;
  c.ok = ok;
  c.latency_us = ok ? 20'000 + std::int64_t(ids.rng() % 280'000) : 10'000'000;
  c.http_status = ok ? 200 : 0;
  if (!ok) c.error = "timeout after 10000 ms";
  c.cert_expires_at = timestamp{t.get() + std::int64_t(60) * 86'400'000'000};
  e.data = std::move(c);
  return e;
}

inline event domain_event(id_source& ids, const std::string& tenant, const std::string& aggregate,
                          std::int64_t seq, timestamp t, event_data d) {
  event e;
  e.meta = base_envelope(ids, tenant, aggregate, seq, t);
  if (auto* c = std::get_if<monitor_created>(&d)) e.meta.subject = "monitor/" + c->monitor_id;
  e.data = std::move(d);
  return e;
}

inline monitor_config http_config(const std::string& name) {
  monitor_config c;
  c.name = name;
  c.kind = monitor_kind::http;
  c.url = "https://" + name + ".example.com/health";
  c.interval_s = 60;
  c.timeout_ms = 10'000;
  c.tags = {"prod"};
  return c;
}

// The record of an event, as the node's shell writes it (actors/host/shell.cpp
// to_records): check results to the checks topic, domain events chained on
// the events topic, keyed by tenant, with the CloudEvents headers.
inline storage::record to_record(const event& e) {
  storage::record r;
  const bool check = is_check_result(e.data);
  r.t = check ? storage::topic::checks : storage::topic::events;
  r.key = e.meta.tenant.get();
  r.value = encode(e);
  r.headers = {{"content-type", "application/cloudevents+json"},
               {"ce_type", type_of(e.data)},
               {"ce_id", e.meta.id},
               {"ce_specversion", "1.0"}};
  r.chained = !check;
  return r;
}

// Seals domain events into their tenant's chain, as the node does.
class event_sealer final : public storage::chain_sealer {
public:
  result<std::string> seal(const std::string& prev_hash, std::string& value) override {
    return kw::seal(prev_hash, value);
  }
};

// Records to append, per partition, in log order.
struct partitioned_records {
  std::vector<std::vector<storage::record>> p{std::size_t(partitions)};
  std::size_t size() const {
    std::size_t n = 0;
    for (auto& v : p) n += v.size();
    return n;
  }
  void add(partition_id part, const event& e) { p[std::size_t(part.get())].push_back(to_record(e)); }
};

// Appends everything, `group` records per append, all appends in flight at
// once (the log group-commits them); fails the benchmark on any error.
inline void append_all(storage::event_log& log, partitioned_records&& recs, std::size_t group) {
  std::mutex mu;
  std::condition_variable cv;
  long left = 0;
  std::string first_error;
  for (int p = 0; p < partitions; ++p) {
    auto& v = recs.p[std::size_t(p)];
    for (std::size_t i = 0; i < v.size(); i += group) {
      std::vector<storage::record> chunk(std::make_move_iterator(v.begin() + long(i)),
                                         std::make_move_iterator(v.begin() + long(std::min(v.size(), i + group))));
      {
        std::lock_guard<std::mutex> lk(mu);
        ++left;
      }
      log.append(partition_id{p}, std::move(chunk), [&](result<storage::append_ack> a) {
        std::lock_guard<std::mutex> lk(mu);
        if (!a && first_error.empty()) first_error = a.err().message;
        if (--left == 0) cv.notify_all();
      });
    }
    v.clear();
    v.shrink_to_fit();
  }
  std::unique_lock<std::mutex> lk(mu);
  cv.wait(lk, [&] { return left == 0; });
  if (!first_error.empty()) fail("append: " + first_error);
}

// tenant_created and monitor_created for the whole fleet, at `t`.
inline void fleet_domain_events(const fleet& f, id_source& ids, timestamp t, partitioned_records& out) {
  for (auto& x : f.tenants) {
    std::int64_t version = 0;
    out.add(x.partition, domain_event(ids, x.id, "tenant/" + x.id, ++version, t,
                                      tenant_created{"Tenant " + x.id.substr(0, 8), "bench", "u-" + x.id,
                                                     "owner@" + x.id.substr(0, 8) + ".example.com"}));
    for (std::size_t m = 0; m < x.monitors.size(); ++m)
      out.add(x.partition,
              domain_event(ids, x.id, "tenant/" + x.id, ++version, t,
                           monitor_created{x.monitors[m], http_config("site" + std::to_string(m))}));
  }
}

// A runner of `name` on `log`, or the benchmark fails.
inline std::unique_ptr<projections::runner> open_runner(const std::string& name, storage::event_log& log,
                                                        projections::runner_options o) {
  return must(projections::runner::open(projections::make_projection(name), log, std::move(o)),
              "runner::open");
}

}  // namespace kw::pbench

#include <dirent.h>
#include <sys/resource.h>

#include <fstream>
#include <sstream>

namespace kw::pbench {

// CPU seconds (user + system) used so far by this process, all threads.
inline double self_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds used so far by every live process named `comm` and by the
// children they have waited for (e.g. the PostgreSQL server, its backends
// and the ones that ended: "postgres").
inline double processes_cpu_seconds(const std::string& comm) {
  const double tick = double(::sysconf(_SC_CLK_TCK));
  double total = 0;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    const auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    if (line.substr(open + 1, close - open - 1) != comm) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    // utime, stime, and cutime, cstime: the CPU of children that ended and
    // were waited for (the postmaster's backends and autovacuum workers).
    double used = 0;
    for (int i = 3; i <= 17 && rest >> field; ++i)
      if (i >= 14) used += std::atof(field.c_str());
    total += used / tick;
  }
  ::closedir(d);
  return total;
}

// CPU seconds the whole machine has been busy (all cores, /proc/stat).
inline double machine_busy_seconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return (user + nice + system + irq + softirq + steal) / double(::sysconf(_SC_CLK_TCK));
}

// Wall and CPU time of a stretch of work: how busy this process and the
// PostgreSQL server were (on a 2-core machine, 2.0 = both cores).
struct cpu_meter {
  clock_type::time_point t0 = clock_type::now();
  double self0 = self_cpu_seconds();
  double pg0 = processes_cpu_seconds("postgres");
  double busy0 = machine_busy_seconds();
  // Prints the figures; "others" is every other process on the machine (a
  // busy neighbour makes the figures worse than they should be).
  void report(const char* what) const {
    const double wall = seconds_since(t0);
    const double self = self_cpu_seconds() - self0;
    const double pg = processes_cpu_seconds("postgres") - pg0;
    const double others = std::max(0.0, machine_busy_seconds() - busy0 - self - pg);
    std::fprintf(stderr,
                 "%s: %.2f s wall; CPU: bench process %.2f s (%.0f%% of a core), PostgreSQL %.2f s (%.0f%%), "
                 "others %.2f s (%.0f%%)\n",
                 what, wall, self, 100 * self / wall, pg, 100 * pg / wall, others, 100 * others / wall);
  }
};

}  // namespace kw::pbench
