// core.http_checks — how many HTTP checks per second one prober thread
// completes against a local keep-alive target (issue target: >= 5000/s).
//
// The target server runs in a forked child process so it never shares the
// prober's thread or allocator; the parent keeps `in_flight` checks going for
// `seconds` and prints one JSON line (STYLE.md rule 10). Exit status is
// non-zero if any check failed, so a broken prober cannot post a fast figure.
// Usage: http_check_bench [seconds=3] [in_flight=64] [prober_threads=1]
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>

#include "actors/checks/prober.hpp"
#include "tests/unit/actors/checks/test_http_server.hpp"

namespace {

// In the child: serve until the parent goes away (its end of `alive` closes).
[[noreturn]] void serve(int port_fd, int alive_fd) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  kw::test::test_http_server server(
      [](const kw::test::test_request&) { return kw::test::test_response{200, "ok", {}, false, false}; },
      std::nullopt, /*record=*/false);
  unsigned short port = server.port();
  if (write(port_fd, &port, sizeof port) != sizeof port)
    std::_Exit(1);
  char c;
  while (read(alive_fd, &c, 1) > 0) {
  }
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  int in_flight = argc > 2 ? std::atoi(argv[2]) : 64;
  int threads = argc > 3 ? std::atoi(argv[3]) : 1;

  int port_pipe[2], alive_pipe[2];
  if (pipe(port_pipe) != 0 || pipe(alive_pipe) != 0)
    return 1;
  pid_t child = fork();  // before any thread exists in this process
  if (child < 0)
    return 1;
  if (child == 0) {
    close(port_pipe[0]);
    close(alive_pipe[1]);
    serve(port_pipe[1], alive_pipe[0]);
  }
  close(port_pipe[1]);
  close(alive_pipe[0]);
  unsigned short port = 0;
  if (read(port_pipe[0], &port, sizeof port) != sizeof port)
    return 1;

  kw::monitor_config cfg;
  cfg.kind = kw::monitor_kind::http;
  cfg.url = "http://127.0.0.1:" + std::to_string(port) + "/health";
  cfg.timeout_ms = 5000;

  kw::checks::prober_options po;
  po.threads = threads;
  kw::checks::target_policy_options tp;
  tp.allow_private = true;  // the target runs on 127.0.0.1
  po.policy = std::make_shared<const kw::checks::target_policy>(tp);
  kw::checks::prober prober(po);
  std::atomic<long> completed{0}, failed{0};
  std::atomic<bool> running{true};
  std::atomic<int> outstanding{in_flight};
  std::promise<void> drained;

  // Each completed check starts the next one until time is up.
  std::function<void(kw::checks::probe_result)> on_done = [&](kw::checks::probe_result r) {
    if (r.ok)
      completed.fetch_add(1, std::memory_order_relaxed);
    else if (failed.fetch_add(1) == 0)
      std::fprintf(stderr, "check failed: %s\n", r.error.c_str());
    if (running.load(std::memory_order_relaxed))
      prober.probe(cfg, on_done);
    else if (outstanding.fetch_sub(1) == 1)
      drained.set_value();
  };

  // Warm-up: open the connections.
  for (int i = 0; i < in_flight; ++i)
    prober.probe(cfg, on_done);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  long c0 = completed.load();
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  long c1 = completed.load();
  auto t1 = std::chrono::steady_clock::now();
  running = false;
  drained.get_future().wait_for(std::chrono::seconds(10));
  prober.stop();

  close(alive_pipe[1]);
  waitpid(child, nullptr, 0);

  double rate = static_cast<double>(c1 - c0) / std::chrono::duration<double>(t1 - t0).count();
  std::printf("{\"bench\":\"core.http_checks\",\"metric\":\"throughput\",\"value\":%.0f,\"unit\":\"checks/s\",\"target\":\">= 5000\"}\n",
              rate);
  return failed.load() == 0 ? 0 : 2;
}
