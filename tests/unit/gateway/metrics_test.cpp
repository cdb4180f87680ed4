// The gateway's metrics as Prometheus sees them: what a scrape of /metrics
// shows after a few requests and commands, with bounded labels (route
// patterns from the router, never raw paths), and the figures read from the
// node's callbacks at scrape time.
#include "gateway/metrics.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway/router.hpp"

using kw::gateway::http_request;
using kw::gateway::http_response;
using kw::gateway::metrics;
using kw::gateway::metrics_sources;
using kw::gateway::path_params;
using kw::gateway::router;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

http_request request(const std::string& method, const std::string& path) {
  http_request r;
  r.method = method;
  r.path = path;
  r.target = path;
  return r;
}

}  // namespace

TEST(MetricsTest, CountsRequestsByRouteMethodAndStatus) {
  metrics m;
  m.observe_request("/api/v1/monitors/{id}", "GET", 200, 0.002);
  m.observe_request("/api/v1/monitors/{id}", "GET", 200, 0.004);
  m.observe_request("/api/v1/monitors/{id}", "GET", 404, 0.001);
  m.observe_request("/api/v1/monitors", "POST", 201, 0.03);
  const auto text = m.scrape();
  EXPECT_NE(text.find("# TYPE keepwatch_http_requests_total counter"), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_http_requests_total{method="GET",route="/api/v1/monitors/{id}",status="200"} 2)"))
      << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_http_requests_total{method="GET",route="/api/v1/monitors/{id}",status="404"} 1)"))
      << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_http_requests_total{method="POST",route="/api/v1/monitors",status="201"} 1)"))
      << text;
}

TEST(MetricsTest, HistogramOfLatencyByRoute) {
  metrics m;
  m.observe_request("/status/{slug}", "GET", 200, 0.0004);
  m.observe_request("/status/{slug}", "GET", 304, 0.0004);
  m.observe_request("/status/{slug}", "GET", 200, 0.2);
  const auto text = m.scrape();
  EXPECT_NE(text.find("# TYPE keepwatch_http_request_duration_seconds histogram"), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_http_request_duration_seconds_count{route="/status/{slug}"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_http_request_duration_seconds_bucket{route="/status/{slug}",le="0.0005"} 2)"))
      << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_http_request_duration_seconds_bucket{route="/status/{slug}",le="0.25"} 3)"))
      << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_http_request_duration_seconds_bucket{route="/status/{slug}",le="+Inf"} 3)"))
      << text;
}

TEST(MetricsTest, AnUnusualMethodIsCountedAsOther) {
  metrics m;
  m.observe_request("unmatched", "BREW", 404, 0.001);
  m.observe_request("unmatched", "PROPFIND", 404, 0.001);
  const auto text = m.scrape();
  EXPECT_TRUE(has_line(text, R"(keepwatch_http_requests_total{method="other",route="unmatched",status="404"} 2)"))
      << text;
  EXPECT_EQ(text.find("BREW"), std::string::npos);
}

TEST(MetricsTest, CountsCommandsByKindAndOutcome) {
  metrics m;
  m.count_command("create_monitor", "ok");
  m.count_command("create_monitor", "ok");
  m.count_command("create_monitor", "invalid");
  m.count_command("push_beat", "not_found");
  const auto text = m.scrape();
  EXPECT_NE(text.find("# TYPE keepwatch_commands_total counter"), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_commands_total{kind="create_monitor",outcome="ok"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_commands_total{kind="create_monitor",outcome="invalid"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_commands_total{kind="push_beat",outcome="not_found"} 1)")) << text;
}

TEST(MetricsTest, ReadsTheNodesFiguresAtEachScrape) {
  std::int64_t monitors = 3;
  std::int64_t lag = 7;
  metrics_sources s;
  s.appended = [] { return metrics_sources::labelled{{"events", 120}, {"checks", 4500}}; };
  s.projection_lag = [&] { return metrics_sources::labelled{{"dashboard", lag}, {"audit", 0}}; };
  s.active_monitors = [&] { return monitors; };
  metrics m(s);
  auto text = m.scrape();
  EXPECT_NE(text.find("# TYPE keepwatch_log_appended_total counter"), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_log_appended_total{topic="events"} 120)")) << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_log_appended_total{topic="checks"} 4500)")) << text;
  EXPECT_NE(text.find("# TYPE keepwatch_projection_lag gauge"), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_projection_lag{projection="dashboard"} 7)")) << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_projection_lag{projection="audit"} 0)")) << text;
  EXPECT_TRUE(has_line(text, "keepwatch_active_monitors 3")) << text;

  monitors = 5;
  lag = 0;
  text = m.scrape();
  EXPECT_TRUE(has_line(text, "keepwatch_active_monitors 5")) << text;
  EXPECT_TRUE(has_line(text, R"(keepwatch_projection_lag{projection="dashboard"} 0)")) << text;
}

TEST(MetricsTest, WithoutSourcesOnlyTheGatewaysOwnFamilies) {
  metrics m;
  const auto text = m.scrape();
  EXPECT_EQ(text.find("keepwatch_active_monitors"), std::string::npos) << text;
  EXPECT_EQ(text.find("keepwatch_projection_lag"), std::string::npos) << text;
  EXPECT_STREQ(metrics::content_type(), "text/plain; version=0.0.4; charset=utf-8");
}

TEST(RouterPatternTest, NamesThePatternNeverThePath) {
  router r;
  auto ok = [](const http_request&, const path_params&) { return http_response::json(200, nullptr); };
  r.add("GET", "/api/v1/monitors", ok);
  r.add("GET", "/api/v1/monitors/{id}", ok);
  r.add("DELETE", "/api/v1/monitors/{id}", ok);
  r.add("POST", "/api/v1/push/{token}", ok);
  EXPECT_EQ(r.pattern_of(request("GET", "/api/v1/monitors")), "/api/v1/monitors");
  EXPECT_EQ(r.pattern_of(request("GET", "/api/v1/monitors/m_123")), "/api/v1/monitors/{id}");
  EXPECT_EQ(r.pattern_of(request("HEAD", "/api/v1/monitors/m_123")), "/api/v1/monitors/{id}");
  EXPECT_EQ(r.pattern_of(request("DELETE", "/api/v1/monitors/m_9")), "/api/v1/monitors/{id}");
  // A 405: the path's pattern still, so the label stays bounded.
  EXPECT_EQ(r.pattern_of(request("GET", "/api/v1/push/abc")), "/api/v1/push/{token}");
  EXPECT_EQ(r.pattern_of(request("GET", "/api/v1/nothing/here")), "unmatched");
  EXPECT_EQ(r.pattern_of(request("GET", "/api/v1/monitors/")), "unmatched");
}
