// The gateway's Prometheus metrics (metrics.hpp) over prometheus-cpp's core:
// a Registry holds the families counted as requests are answered; the
// figures read at scrape time are built as plain MetricFamily values and
// serialized with them, so nothing stale lingers between scrapes.
#include "gateway/metrics.hpp"

#include <array>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace kw::gateway {
namespace {

const std::string& bounded_method(const std::string& m) {
  static const std::array<std::string, 8> known{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"};
  for (std::size_t i = 0; i + 1 < known.size(); ++i)
    if (known[i] == m) return known[i];
  return known.back();
}

// Series handles by their label values, so that the hot path looks a series
// up under a shared lock instead of hashing a label map inside the family.
// A handle from Family::Add lives as long as the family.
template <class T>
class series_cache {
public:
  template <class Make>
  T& get(const std::string& key, Make&& make) {
    {
      std::shared_lock<std::shared_mutex> lk(mu_);
      auto it = by_key_.find(key);
      if (it != by_key_.end()) return *it->second;
    }
    std::unique_lock<std::shared_mutex> lk(mu_);
    auto [it, fresh] = by_key_.try_emplace(key, nullptr);
    if (fresh) it->second = &make();
    return *it->second;
  }

private:
  std::shared_mutex mu_;
  std::unordered_map<std::string, T*> by_key_;
};

prometheus::MetricFamily family_of(const std::string& name, const std::string& help, prometheus::MetricType type,
                                   const std::string& label, const metrics_sources::labelled& values) {
  prometheus::MetricFamily f{name, help, type, {}};
  for (auto& [l, v] : values) {
    prometheus::ClientMetric m;
    if (!label.empty()) m.label.push_back({label, l});
    if (type == prometheus::MetricType::Counter)
      m.counter.value = double(v);
    else
      m.gauge.value = double(v);
    f.metric.push_back(std::move(m));
  }
  return f;
}

}  // namespace

struct metrics::impl {
  explicit impl(metrics_sources s)
      : sources(std::move(s)),
        registry(std::make_shared<prometheus::Registry>()),
        requests(prometheus::BuildCounter()
                     .Name("keepwatch_http_requests_total")
                     .Help("HTTP requests answered, by route pattern, method and status")
                     .Register(*registry)),
        latency(prometheus::BuildHistogram()
                    .Name("keepwatch_http_request_duration_seconds")
                    .Help("Time to answer an HTTP request, by route pattern")
                    .Register(*registry)),
        commands(prometheus::BuildCounter()
                     .Name("keepwatch_commands_total")
                     .Help("Commands the gateway sent to actors, by kind and outcome")
                     .Register(*registry)) {}

  metrics_sources sources;
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& latency;
  prometheus::Family<prometheus::Counter>& commands;
  series_cache<prometheus::Counter> request_series;
  series_cache<prometheus::Histogram> latency_series;
  series_cache<prometheus::Counter> command_series;
};

metrics::metrics(metrics_sources sources) : impl_(std::make_unique<impl>(std::move(sources))) {}

metrics::~metrics() = default;

void metrics::observe_request(const std::string& route, const std::string& method, int status, double seconds) {
  const auto& m = bounded_method(method);
  const std::string st = std::to_string(status);
  auto& im = *impl_;
  im.request_series
      .get(route + '\n' + m + '\n' + st,
           [&]() -> prometheus::Counter& { return im.requests.Add({{"route", route}, {"method", m}, {"status", st}}); })
      .Increment();
  im.latency_series
      .get(route,
           [&]() -> prometheus::Histogram& {
             // From half a millisecond (a cached status page) to ten
             // seconds (a command waiting on a slow log).
             return im.latency.Add({{"route", route}},
                                   prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                           0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
           })
      .Observe(seconds < 0 ? 0 : seconds);
}

void metrics::count_command(const std::string& kind, const std::string& outcome) {
  auto& im = *impl_;
  im.command_series
      .get(kind + '\n' + outcome,
           [&]() -> prometheus::Counter& { return im.commands.Add({{"kind", kind}, {"outcome", outcome}}); })
      .Increment();
}

std::string metrics::scrape() const {
  auto families = impl_->registry->Collect();
  const auto& s = impl_->sources;
  if (s.appended)
    families.push_back(family_of("keepwatch_log_appended_total",
                                 "Records appended to each log topic (the sum of its partitions' end offsets)",
                                 prometheus::MetricType::Counter, "topic", s.appended()));
  if (s.projection_lag)
    families.push_back(family_of("keepwatch_projection_lag", "Records each projection has yet to apply",
                                 prometheus::MetricType::Gauge, "projection", s.projection_lag()));
  if (s.active_monitors)
    families.push_back(family_of("keepwatch_active_monitors", "Monitors the node runs",
                                 prometheus::MetricType::Gauge, "", {{"", s.active_monitors()}}));
  return prometheus::TextSerializer().Serialize(families);
}

const char* metrics::content_type() noexcept { return "text/plain; version=0.0.4; charset=utf-8"; }

}  // namespace kw::gateway
