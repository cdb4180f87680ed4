// projections.rebuild: the four projections rebuilt from offset 0 of a log
// of 1,000,000 events, all four runners at once (one thread each), into an
// empty read side — what `keepwatch projections rebuild` does for each.
//
// The log (embedded, 8 partitions) holds what 1,000 tenants x 10 monitors
// produce over ~95 minutes of checks once a minute: per tenant
// tenant_created, a member and a channel; per monitor monitor_created, the
// pending -> up status change at its first check, now and then an outage
// (down: status change, incident opened, notification; up again: status
// change, incident closed, notification) with the checks failing meanwhile;
// a few monitors updated, paused and resumed, tenants renamed or moved to
// another plan. About 95% check results, 5% domain events, every partition
// in time order, domain events sealed into their tenant's hash chain.
//
// Figure: 1,000,000 / wall seconds from opening the runners until the last
// one caught up (target >= 50,000/s); each projection's own seconds beside
// it. The read models are checked against the log afterwards (counts).
//
// Usage: projection_rebuild_bench [events [projection,...]]   (default
//   1000000, all four; naming some runs only those and prints no figure).
#include <cmath>
#include <map>
#include <thread>

#include "projection_bench.hpp"
#include "storage/rocks_log.hpp"

namespace {

using namespace kw;
using namespace kw::pbench;
using namespace std::chrono_literals;

constexpr int tenants = 1000;
constexpr int monitors_each = 10;
constexpr std::int64_t minute_us = 60'000'000;

plan_catalog plans() {
  auto c = bench_plans();
  plan pro = c.plans["bench"];
  pro.name = "pro";
  pro.base_price_cents = 2900;
  c.plans["pro"] = pro;
  return c;
}

// What was generated, to check the read models against.
struct expected {
  std::int64_t checks = 0, domain = 0, incidents = 0;
};

// Records with their time, per partition; sorted by time before appending.
struct timed_records {
  std::vector<std::vector<std::pair<std::int64_t, storage::record>>> p{std::size_t(partitions)};
  void add(partition_id part, const event& e) {
    p[std::size_t(part.get())].emplace_back(e.meta.time.get(), to_record(e));
  }
  partitioned_records in_time_order() {
    partitioned_records out;
    for (int i = 0; i < partitions; ++i) {
      auto& v = p[std::size_t(i)];
      std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.first < b.first; });
      for (auto& [t, r] : v) out.p[std::size_t(i)].push_back(std::move(r));
      v.clear();
      v.shrink_to_fit();
    }
    return out;
  }
};

// The whole history, about `target` events.
partitioned_records history(const fleet& f, id_source& ids, std::int64_t target, expected& ex) {
  timed_records out;
  // Domain events per monitor come to ~4.64 on average (created, up, ~0.45
  // outages of 6, a few updates and pauses), per tenant ~3.2; check results
  // fill the rest.
  const std::int64_t n_monitors = std::int64_t(f.tenants.size()) * monitors_each;
  const double domain_events = 3.2 * double(f.tenants.size()) + 4.64 * double(n_monitors);
  const auto checks_per_monitor =
      std::max<std::int64_t>(10, std::llround((double(target) - domain_events) / double(n_monitors)));
  const std::int64_t now = wall_now().get();
  const std::int64_t start = now - (checks_per_monitor + 5) * minute_us;
  std::mt19937_64 rng(7);
  std::int64_t k = 0;
  for (auto& x : f.tenants) {
    std::int64_t tv = 0;  // the tenant aggregate's version
    auto tenant_ev = [&](std::int64_t t, event_data d) {
      out.add(x.partition, domain_event(ids, x.id, "tenant/" + x.id, ++tv, timestamp{t}, std::move(d)));
      ++ex.domain;
    };
    const std::string short_id = x.id.substr(0, 8);
    tenant_ev(start, tenant_created{"Tenant " + short_id, "bench", "u-" + short_id, "owner@" + short_id + ".example.com"});
    tenant_ev(start + 1'000'000, member_added{"v-" + short_id, "dev@" + short_id + ".example.com", "member"});
    const std::string channel = "c-" + short_id;
    tenant_ev(start + 2'000'000, channel_created{channel, "ops", "webhook", "https://hooks.example.com/" + short_id, ""});
    if (rng() % 10 == 0) tenant_ev(start + 30 * minute_us, tenant_renamed{"Renamed " + short_id});
    if (rng() % 10 == 0) tenant_ev(start + 40 * minute_us, tenant_plan_changed{"bench", "pro"});
    for (std::size_t m = 0; m < x.monitors.size(); ++m, ++k) {
      const std::string& mon = x.monitors[m];
      const std::string agg = "monitor/" + mon;
      auto config = http_config("site" + std::to_string(m));
      config.channel_ids = {channel};
      tenant_ev(start + 3'000'000 + std::int64_t(m) * 1000, monitor_created{mon, config});
      std::int64_t mv = 0;  // the monitor aggregate's version
      auto monitor_ev = [&](std::int64_t t, event_data d) {
        out.add(x.partition, domain_event(ids, x.id, agg, ++mv, timestamp{t}, std::move(d)));
        ++ex.domain;
      };
      const std::int64_t first = start + minute_us + (k * minute_us) / n_monitors;
      monitor_status status = monitor_status::pending;
      std::string incident;
      std::int64_t incident_at = 0;
      int failing_left = 0;
      bool paused = false;
      for (std::int64_t i = 0; i < checks_per_monitor; ++i) {
        const std::int64_t t = first + i * minute_us;
        if (i == 20 && rng() % 20 == 0) monitor_ev(t - 1000, monitor_updated{config});
        if (i == 30 && rng() % 50 == 0) {
          monitor_ev(t - 1000, monitor_paused{});
          paused = true;
        }
        if (paused && i == 33) {
          monitor_ev(t - 1000, monitor_resumed{});
          paused = false;
        }
        if (paused) continue;
        // An outage starts now and then (not in the first few checks): three
        // failing checks.
        if (failing_left == 0 && i > 2 && status == monitor_status::up && rng() % 211 == 0) failing_left = 3;
        const bool ok = failing_left == 0;
        out.add(x.partition, check_event(ids, x.id, mon, i + 1, timestamp{t}, ok));
        ++ex.checks;
        if (ok && status != monitor_status::up) {
          monitor_ev(t + 1, monitor_status_changed{status, monitor_status::up, "check succeeded", i + 1});
          if (!incident.empty()) {
            monitor_ev(t + 2, incident_closed{incident, timestamp{incident_at}, (t - incident_at) / 1000});
            monitor_ev(t + 3, notification_delivered{channel, incident, "up", 1, 200});
            incident.clear();
          }
          status = monitor_status::up;
        } else if (!ok) {
          if (status != monitor_status::down) {
            monitor_ev(t + 1, monitor_status_changed{status, monitor_status::down, "timeout after 10000 ms", i + 1});
            incident = ids.next(timestamp{t});
            incident_at = t;
            monitor_ev(t + 2, incident_opened{incident, "timeout after 10000 ms"});
            monitor_ev(t + 3, notification_delivered{channel, incident, "down", 1, 200});
            ++ex.incidents;
            status = monitor_status::down;
          }
          --failing_left;
        }
      }
    }
  }
  return out.in_time_order();
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t target = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  auto& pg = pg_server::get();  // before any other thread exists (it forks)

  temp_dir dir("proj-rebuild");
  auto log = must(storage::rocks_log::open(dir.path, partitions, std::make_shared<event_sealer>()),
                  "rocks_log::open");
  const fleet f(tenants, monitors_each);
  id_source ids;
  expected ex;
  auto t0 = clock_type::now();
  {
    auto recs = history(f, ids, target, ex);
    std::fprintf(stderr, "generated %lld events (%lld check results, %lld domain events, %.1f%% checks) in %.1f s\n",
                 (long long)(ex.checks + ex.domain), (long long)ex.checks, (long long)ex.domain,
                 100.0 * double(ex.checks) / double(ex.checks + ex.domain), seconds_since(t0));
    t0 = clock_type::now();
    append_all(*log, std::move(recs), 5000);
    std::fprintf(stderr, "appended in %.1f s\n", seconds_since(t0));
  }
  const std::int64_t total = ex.checks + ex.domain;

  const auto db = pg.create_read_side("kw_rebuild", plans());
  auto names = projections::projection_names();
  if (argc > 2) {  // only these (for profiling one alone): no headline figure
    names.clear();
    std::string list = argv[2];
    for (std::size_t at = 0; at <= list.size();) {
      const auto comma = std::min(list.find(',', at), list.size());
      names.push_back(list.substr(at, comma - at));
      at = comma + 1;
    }
  }
  std::vector<double> secs(names.size(), 0);
  std::vector<std::int64_t> records(names.size(), 0);
  std::vector<long> batches(names.size(), 0), dead(names.size(), 0);
  std::vector<std::string> errors(names.size());
  cpu_meter cpu;
  t0 = clock_type::now();
  // The runners outlive the CPU report, so that their PostgreSQL backends'
  // CPU time is still there to count.
  std::vector<std::unique_ptr<projections::runner>> runners(names.size());
  {
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < names.size(); ++i)
      threads.emplace_back([&, i] {
        projections::runner_options ro;
        ro.database_url = db;
        auto r = projections::runner::open(projections::make_projection(names[i]), *log, ro);
        if (!r) {
          errors[i] = r.err().message;
          return;
        }
        runners[i] = std::move(*r);
        auto n = runners[i]->catch_up(600s);
        secs[i] = seconds_since(t0);
        if (!n) {
          errors[i] = n.err().message;
          return;
        }
        records[i] = *n;
        batches[i] = long(runners[i]->stats().batches);
        dead[i] = long(runners[i]->stats().dead_letters);
      });
    for (auto& t : threads) t.join();
  }
  const double wall = seconds_since(t0);
  cpu.report("rebuild");
  runners.clear();
  log->close();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!errors[i].empty()) fail(names[i] + ": " + errors[i]);
    std::fprintf(stderr, "  %-10s %8lld records in %6.1f s (%6.0f/s), %5ld batches, %ld dead letters\n",
                 names[i].c_str(), (long long)records[i], secs[i], double(records[i]) / secs[i], batches[i], dead[i]);
  }

  // The read models against what was generated.
  pqxx::connection c(db);
  struct check {
    const char* projection;
    const char* sql;
    std::int64_t want;
  };
  for (const check& k : {check{"dashboard", "SELECT count(*) FROM heartbeats", ex.checks},
                         check{"dashboard", "SELECT coalesce(sum(checks), 0) FROM monitor_stats_day", ex.checks},
                         check{"dashboard", "SELECT count(*) FROM monitors", std::int64_t(tenants) * monitors_each},
                         check{"dashboard", "SELECT count(*) FROM incidents", ex.incidents},
                         check{"usage", "SELECT coalesce(sum(checks), 0) FROM usage_daily", ex.checks},
                         check{"billing", "SELECT count(*) FROM billing_tenants", tenants},
                         check{"audit", "SELECT count(*) FROM audit_log", ex.domain}}) {
    if (std::find(names.begin(), names.end(), k.projection) == names.end()) continue;
    const auto got = scalar(c, k.sql);
    if (got != std::to_string(k.want))
      fail(std::string("after the rebuild, ") + k.sql + " = " + got + ", expected " + std::to_string(k.want));
  }

  if (argc > 2) return 0;
  figure("projections.rebuild", "throughput", double(total) / wall, "events/s", ">= 50000");
  for (std::size_t i = 0; i < names.size(); ++i)
    figure(("projections.rebuild_" + names[i]).c_str(), "seconds", secs[i], "s", "-");
  return 0;
}
