// A node that works until it is killed: used by node_crash_test, which kills
// it with SIGKILL. It prints one line per acknowledged command, only after
// the acknowledgement:  ack <tenant> <monitor|-> <partition> <offset> <event id>
// (one line per event of the command; a monitor's creation names it).
// Snapshots are taken every second and idle tenants passivated after two,
// and new tenants are born all along, so that kills land between and during
// snapshots, passivations and births.
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "actors/host/node_fixture.hpp"

using namespace kw;
using namespace kw::test;

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  auto o = options(argv[1]);
  o.snapshot_interval_s = 1;
  o.passivate_after_s = 2;
  auto started = node::start(o);
  if (!started) {
    std::fprintf(stderr, "start: %s\n", started.err().message.c_str());
    return 1;
  }
  auto& n = **started;
  std::mutex out;
  auto print = [&](const std::string& t, const std::string& m, const result<command_reply>& r) {
    if (!r) return;
    std::lock_guard<std::mutex> lock(out);
    for (std::size_t i = 0; i < r->event_ids.size(); ++i)
      std::printf("ack %s %s %d %lld %s\n", t.c_str(), m.c_str(), r->partition,
                  static_cast<long long>(r->offsets[i]), r->event_ids[i].c_str());
    std::fflush(stdout);
  };
  std::vector<std::pair<std::string, std::string>> monitors;
  for (int t = 0; t < 4; ++t) {
    std::string tenant = std::string(argc > 2 ? argv[2] : "run") + "-t" + std::to_string(t);
    auto r = n.execute(tcmd(tenant::create_tenant{"Tenant", "big", "u1", "o@example.com"}),
                       tenant_id{tenant});
    print(tenant, "-", r);
    for (int m = 0; m < 8; ++m) {
      std::string id = tenant + "-m" + std::to_string(m);
      auto c = n.execute(tcmd(tenant::create_monitor{id, http_config("http://127.0.0.1:9/")}),
                         tenant_id{tenant});
      print(tenant, id, c);
      if (c) monitors.emplace_back(tenant, id);
    }
  }
  const std::string run = argc > 2 ? argv[2] : "run";
  int born = 0;
  std::atomic<int> in_flight{0};
  for (std::uint64_t i = 0;; ++i) {
    while (in_flight.load() >= 64) std::this_thread::yield();
    if (i % 400 == 399) {  // a new tenant with one monitor, now and then
      std::string tenant = run + "-x" + std::to_string(born++);
      auto r = n.execute(tcmd(tenant::create_tenant{"Tenant", "big", "u1", "o@example.com"}),
                         tenant_id{tenant});
      print(tenant, "-", r);
      std::string id = tenant + "-m0";
      auto c = n.execute(tcmd(tenant::create_monitor{id, http_config("http://127.0.0.1:9/")}),
                         tenant_id{tenant});
      print(tenant, id, c);
      if (c) monitors.emplace_back(tenant, id);
    }
    auto& [t, m] = monitors[i % monitors.size()];
    ++in_flight;
    bool ok = (i / monitors.size()) % 5 != 3;
    n.submit(mcmd(monitor::record_check{ok, 1000, ok ? 200 : 500, ok ? "" : "status 500 not accepted",
                                        std::nullopt, new_id()}),
             tenant_id{t}, m, [&, t = t, m = m](result<command_reply> r) {
               print(t, m, r);
               --in_flight;
             });
  }
}
