// Gateway benchmarks (issue 5): a real node on the embedded log, the
// projections into a throwaway PostgreSQL, the API behind the real HTTP
// server, loaded by wrk (Debian's package) over keep-alive connections on
// this same machine — the load generator shares the two cores.
//
//  - gateway.monitor_list: authenticated GET /api/v1/monitors?limit=50 (a
//    page of 50 from PostgreSQL under row-level security), 64 connections.
//  - gateway.create_monitor: POST /api/v1/monitors from 16 tenants in turn;
//    each answer means the monitor_created event is durable in the log. 64
//    connections.
//  - gateway.status_page: the public GET /status/<slug> (10 monitors), 64
//    connections.
//  - gateway.stream_latency: a monitor's status flips (a check result sent to
//    its actor, as the prober sends it) until a WebSocket client of
//    /api/v1/stream reads the status_changed message; 200 flips.
//
// Usage: gateway_bench [seconds per run (default 10)]
#include <sys/wait.h>
#include <unistd.h>


#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "../projections/projection_bench.hpp"
#include "actors/host/node.hpp"
#include "gateway/api.hpp"
#include "gateway/live_feed.hpp"
#include "gateway/server.hpp"
#include "tests/bench/gateway/bench_plans.hpp"
#include "tests/bench/gateway/wrk_run.hpp"
#include "projections/service.hpp"

using namespace kw;
using namespace kw::pbench;
using namespace kw::gbench;
using json = nlohmann::json;

namespace {

gateway::http_response call(const gateway::api& a, const std::string& method, const std::string& target,
                            const std::string& token, const std::string& body) {
  gateway::http_request r;
  r.method = method;
  r.target = target;
  gateway::parse_target(target, r.path, r.query);
  r.body = body;
  r.remote_ip = "127.0.0.1";
  r.request_id = gateway::new_request_id();
  if (!body.empty()) r.headers.emplace_back("content-type", "application/json");
  if (!token.empty()) r.headers.emplace_back("authorization", "Bearer " + token);
  return a.handle(r);
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 10;
  auto& pg = pg_server::get();
  const auto plans = gbench::unlimited_plans();
  const std::string db = pg.create_read_side("kw_gateway_bench", plans);
  temp_dir data("gateway-bench");

  node_options o;
  o.data_dir = data.path;
  o.partitions = 4;
  o.plans = plans;
  o.run_checks = false;
  o.allow_private_targets = true;  // monitors created here may point at 127.0.0.1
  auto n = must(node::start(o), "node");
  projections::service_options so;
  so.runner.database_url = db;
  auto views = must(projections::service::start(n->log(), so), "projections");
  gateway::api_options ao;
  ao.database_url = db;
  ao.jwt_key = "bench-key-bench-key-bench-key-bench-key";
  ao.cost = gateway::password_cost::fast;
  ao.plans = plans;
  ao.pool_size = 16;
  gateway::api a(*n, ao);
  auto feed = must(gateway::live_feed::start(n->log()), "live feed");
  gateway::server_options sopts;
  sopts.threads = 16;
  sopts.authorize_stream = [&a](const gateway::http_request& q) { return a.stream_tenant(q); };
  sopts.stream_feed = feed.get();
  auto srv = must(gateway::server::start(sopts, [&a](const gateway::http_request& q) { return a.handle(q); }),
                  "server");

  auto signed_up = call(a, "POST", "/api/v1/auth/signup", "",
                        json{{"email", "bench@example.com"}, {"password", "bench password 1"}, {"tenant_name", "Bench"}}
                            .dump());
  if (signed_up.status != 201) fail("signup: " + signed_up.body);
  const auto tokens = json::parse(signed_up.body);
  const std::string token = tokens["access_token"];
  const std::string tenant = tokens["tenant_id"];

  // A tenant with 200 monitors, all in the read model before measuring.
  std::string last_pos;
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    auto r = call(a, "POST", "/api/v1/monitors", token,
                  json{{"name", "svc-" + std::to_string(i)}, {"url", "https://svc" + std::to_string(i) + ".example/"},
                       {"interval_s", 60}}
                      .dump());
    if (r.status != 201) fail("create monitor: " + r.body);
    auto j = json::parse(r.body);
    ids.push_back(j["monitor_id"]);
    last_pos = std::to_string(j["partition"].get<int>()) + ":" + std::to_string(j["offsets"].back().get<long long>());
  }
  auto caught_up = call(a, "GET", "/api/v1/monitors?limit=1&wait_ms=10000&wait_for=" + last_pos, token, "");
  if (caught_up.status != 200) fail("list: " + caught_up.body);

  report("gateway.monitor_list",
         run_wrk(srv->port(), "/api/v1/monitors?limit=50", lua_headers(token), 64, seconds), ">= 5000",
         "<= 20");
  // Creates spread over 16 tenants (a platform's load; one tenant's
  // commands are decided one after another by its actor).
  std::string tokens_lua = "tokens = {";
  for (int i = 0; i < 16; ++i) {
    auto r = call(a, "POST", "/api/v1/auth/signup", "",
                  json{{"email", "bench" + std::to_string(i) + "@example.com"},
                       {"password", "bench password 1"},
                       {"tenant_name", "Bench " + std::to_string(i)}}
                      .dump());
    if (r.status != 201) fail("signup: " + r.body);
    tokens_lua += "\"" + json::parse(r.body)["access_token"].get<std::string>() + "\",";
  }
  tokens_lua += "}\n";
  const std::string create_lua =
      tokens_lua +
      "local n = 0\n"
      "request = function()\n"
      "  n = n + 1\n"
      "  return wrk.format(\"POST\", \"/api/v1/monitors\", {[\"Authorization\"] = \"Bearer \" .. tokens[n % 16 + 1],"
      " [\"Content-Type\"] = \"application/json\"},"
      " '{\"name\":\"bench\",\"url\":\"https://bench.example/\",\"interval_s\":300}')\n"
      "end\n";
  report("gateway.create_monitor", run_wrk(srv->port(), "/api/v1/monitors", create_lua, 64, seconds), ">= 5000",
         "<= 20");

  // The public status page of 10 of them.
  auto page = call(a, "POST", "/api/v1/status-pages", token,
                   json{{"slug", "bench"}, {"title", "Bench status"},
                        {"monitor_ids", std::vector<std::string>(ids.begin(), ids.begin() + 10)}}
                       .dump());
  if (page.status != 201) fail("status page: " + page.body);
  auto pj = json::parse(page.body);
  const std::string page_pos =
      std::to_string(pj["partition"].get<int>()) + ":" + std::to_string(pj["offsets"].back().get<long long>());
  call(a, "GET", "/api/v1/status-pages?wait_ms=10000&wait_for=" + page_pos, token, "");
  if (call(a, "GET", "/status/bench", "", "").status != 200) fail("status page not served");
  report("gateway.status_page", run_wrk(srv->port(), "/status/bench", lua_headers(""), 64, seconds), ">= 20000",
         "<= 10");

  // Status changes to a WebSocket client.
  {
    namespace beast = boost::beast;
    namespace asio = boost::asio;
    asio::io_context ioc;
    beast::websocket::stream<asio::ip::tcp::socket> ws(ioc);
    ws.next_layer().connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), srv->port()));
    timeval tv{10, 0};
    ::setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ws.handshake("127.0.0.1", "/api/v1/stream?access_token=" + token);
    const std::string mid = ids.front();
    std::vector<double> lat;
    for (int i = 0; i < 200; ++i) {
      monitor::record_check rc;
      rc.ok = i % 2 == 0;  // pending/down -> up, up -> down (retries 0): each one a change
      rc.latency_us = 1000;
      rc.http_status = rc.ok ? 200 : 500;
      rc.incident_id = new_id();
      command_meta m;
      m.command_id = new_id();
      m.actor = system_actor();
      m.time = wall_now();
      const auto t0 = clock_type::now();
      auto r = n->execute(monitor::command{m, {}, rc}, tenant_id{tenant}, mid);
      if (!r) fail("record_check: " + r.err().message);
      for (;;) {
        beast::flat_buffer buf;
        beast::error_code ec;
        ws.read(buf, ec);
        if (ec) fail("stream read: " + ec.message());
        auto msg = json::parse(beast::buffers_to_string(buf.data()), nullptr, false);
        if (msg.value("type", "") == "status_changed" && msg.value("monitor_id", "") == mid) break;
      }
      lat.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    }
    std::fprintf(stderr, "stream latency: p50 %.2f ms, max %.2f ms\n", percentile(lat, 50), percentile(lat, 100));
    figure("gateway.stream_latency", "latency_p99", percentile(lat, 99), "ms", "<= 50");
    beast::error_code ec;
    ws.close(beast::websocket::close_code::normal, ec);
  }

  srv->stop();
  feed->stop();
  views->stop();
  n->stop();
  return 0;
}
