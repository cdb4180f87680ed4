// The projection service: one CAF actor per projection, each running its
// runner (runner.hpp) on a thread of its own (a detached actor: polling the
// log and talking to PostgreSQL block). Started by `keepwatch serve` when a
// database is configured, and by `keepwatch projections run`.
//
// Each actor loops: step; when a poll brings nothing, and at least every
// `tick_interval`, it runs the projection's time-dependent statements. An
// error (database or log down) is logged and retried after a pause; the
// runner's guarantees make a retry safe. A runner that halted (a truncated
// log) is logged once as an error and left idle; problems() says why.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "events/result.hpp"
#include "projections/runner.hpp"

namespace kw::projections {

struct service_options {
  runner_options runner;
  std::vector<std::string> projections;  // empty: all
  std::chrono::milliseconds tick_interval{std::chrono::seconds(60)};
  std::chrono::milliseconds retry_pause{std::chrono::seconds(1)};
};

class service {
public:
  // Opens a runner per projection (connects, joins the groups), then starts
  // their actors. `log` must outlive the service.
  static result<std::unique_ptr<service>> start(storage::event_log& log, service_options o);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  // Records consumed so far, over all projections.
  std::int64_t records() const;

  // Why projections stopped for good (a truncated log: runner.hpp), one
  // line each; empty while every projection runs. /readyz reports them.
  std::vector<std::string> problems() const;

  // Stops every actor (each finishes its batch and leaves its group).
  // Idempotent; the destructor calls it.
  void stop();

  struct impl;

private:
  explicit service(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace kw::projections
