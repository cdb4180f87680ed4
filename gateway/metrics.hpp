// The gateway's Prometheus metrics (GET /metrics): what the gateway counts as
// it answers, and figures read from the rest of the node only when scraped.
//
// Counted as requests are answered (thread-safe, cheap enough for every
// request):
//   keepwatch_http_requests_total{route,method,status}       counter
//   keepwatch_http_request_duration_seconds{route}           histogram
//   keepwatch_commands_total{kind,outcome}                   counter
// Read through the sources' callbacks at each scrape (absent when no
// callback was given):
//   keepwatch_log_appended_total{topic}    counter  records in each log topic
//                                                   (the sum of its partitions' end offsets)
//   keepwatch_projection_lag{projection}   gauge    records a projection has yet to apply
//   keepwatch_active_monitors              gauge    monitors the node runs
//
// Labels stay bounded: `route` is a route pattern (router::pattern_of, or
// "unmatched"), never a raw path; a method outside the HTTP verbs the
// gateway serves is counted as "other". prometheus-cpp stays inside
// metrics.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kw::gateway {

// Callbacks the node's owner supplies; each runs on the scraping thread and
// must not block for long.
struct metrics_sources {
  using labelled = std::vector<std::pair<std::string, std::int64_t>>;
  // (topic, records appended so far), e.g. {{"events", 1234}, {"checks", 98765}}.
  std::function<labelled()> appended;
  // (projection, records behind the log's end), e.g. {{"dashboard", 3}}.
  std::function<labelled()> projection_lag;
  // node::monitor_count().
  std::function<std::int64_t()> active_monitors;
};

class metrics {
public:
  explicit metrics(metrics_sources sources = {});
  ~metrics();
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  // One answered request: its route pattern, method, status and how long it
  // took, in seconds.
  void observe_request(const std::string& route, const std::string& method, int status, double seconds);

  // One command the gateway sent to an actor: `kind` as the command is named
  // ("create_monitor", "push_beat", ...), `outcome` "ok", "duplicate" or the
  // rejection's error code ("invalid", "not_found", ...).
  void count_command(const std::string& kind, const std::string& outcome);

  // Every family in the Prometheus text exposition format (version 0.0.4),
  // served with Content-Type "text/plain; version=0.0.4; charset=utf-8".
  std::string scrape() const;

  static const char* content_type() noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kw::gateway
