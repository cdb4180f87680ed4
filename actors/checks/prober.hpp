// The prober: performs checks (HTTP/HTTPS with status range and keyword, TCP
// connect) on an asio event loop and hands back a probe_result.
//
// Guarantees:
//  - probe() never blocks and may be called from any thread, including from a
//    done callback. `done` is called exactly once per probe, on a prober
//    thread, and must not block (post the result to the monitor actor and
//    return) — unless stop() comes first: after stop() no callback runs, and
//    checks still in flight are dropped without one.
//  - cfg.timeout_ms bounds the whole check: resolve, connect, TLS, request,
//    every redirect hop and the response. Beyond it: "timeout after N ms".
//  - Response bodies are read up to 1 MiB; a larger body still yields the
//    status, but a keyword check on it fails.
//  - Plain-HTTP connections are kept alive and reused per scheme+host+port; a
//    reused connection that fails is retried once on a new connection.
//  - Descriptors are bounded: at most max_connections connections are open at
//    once across the prober (idle keep-alive ones included, HTTP, TLS and TCP
//    alike; each thread has an equal share), at most max_idle_connections of
//    them idle, and an idle one is closed after idle_timeout. A check that
//    needs a connection when all are taken closes the longest-idle one, or
//    waits for one in arrival order; if none comes before its timeout it
//    fails with "too many connections in flight: ...". A connect refused by
//    the process's or the system's descriptor limit (EMFILE, ENFILE) fails
//    that check only, with a message that says so.
//  - Every address connected to (for HTTP and keyword checks on every
//    redirect hop, for TCP checks too) is first judged by the target policy:
//    a refused one fails the check with the policy's reason ("target address
//    10.0.0.5 is not allowed: private network ...") and is never connected
//    to. Names are judged by what they resolve to at the time of the check.
//  - push monitors are not probed: done(ok=false, "push monitors are not probed").
//
// The implementation runs N threads, each with its own io_context and
// keep-alive pool (io_context-per-thread: no locks on the hot path); probes
// are spread round-robin. Boost and OpenSSL stay behind the pimpl: this header
// is included by CAF code.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "actors/checks/probe_result.hpp"
#include "actors/checks/target_policy.hpp"
#include "events/monitor_config.hpp"

namespace kw::checks {

struct prober_options {
  int threads = 1;                    // checks.prober_threads
  // checks.max_connections: sized for a process allowed 20,000 descriptors,
  // leaving the rest to the log, the gateway and PostgreSQL.
  int max_connections = 8000;
  int max_idle_connections = 8000;    // checks.max_idle_connections
  std::chrono::milliseconds idle_timeout{20'000};  // checks.idle_timeout_ms
  // Where checks may connect; null: the default policy (public addresses
  // only, see target_policy.hpp).
  std::shared_ptr<const target_policy> policy;
};

class prober {
public:
  explicit prober(prober_options o = {});
  ~prober();  // stop()
  prober(const prober&) = delete;
  prober& operator=(const prober&) = delete;

  void probe(const kw::monitor_config& cfg, std::function<void(probe_result)> done);

  // Stops the threads and joins them. Idempotent. Must not be called from a
  // done callback.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kw::checks
