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
//  - push monitors are not probed: done(ok=false, "push monitors are not probed").
//
// The implementation runs N threads, each with its own io_context and
// keep-alive pool (io_context-per-thread: no locks on the hot path); probes
// are spread round-robin. Boost and OpenSSL stay behind the pimpl: this header
// is included by CAF code.
#pragma once

#include <functional>
#include <memory>

#include "actors/checks/probe_result.hpp"
#include "events/monitor_config.hpp"

namespace kw::checks {

class prober {
public:
  explicit prober(int threads = 1);
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
