// Trust benchmark (issue "Trust first"): does the gateway stay prompt and
// fast while it keeps its promises (durable before the 2xx, row-level
// security, per-tenant fairness, limits)? A real node on the embedded log,
// the projections into a throwaway PostgreSQL (ops/pg.sh), the API behind the
// real HTTP server with the options a node runs with by default, real HTTP
// over loopback, all on this machine (wrk and the clients share its cores).
//
//  - trust.monitor_list_64c: authenticated GET /api/v1/monitors?limit=50 (a
//    page of 50 of the tenant's 200 monitors, from PostgreSQL under
//    row-level security), 64 connections of one tenant: the most one tenant
//    gets when no one else is using the node.
//  - trust.monitor_list_64c_16t: the same from 16 tenants in turn (60
//    monitors each), 64 connections: a platform's load.
//  - trust.create_monitor_64c: POST /api/v1/monitors from 16 tenants in
//    turn, 64 connections; each 2xx means the monitor_created event is
//    fsync'd in the log.
//  - trust.create_monitor_64c_1t: the same from one tenant (its commands are
//    decided one after another by its actor).
//  - trust.healthz_p99_under_load: 64 connections keep the gateway busy —
//    48 hold reads that wait for a log offset that never comes
//    (GET /api/v1/monitors?wait_for=0:9223372036854775806&wait_ms=10000),
//    16 send failed logins (a wrong password: a real argon2id verification
//    at the interactive cost) — while one client sends GET /healthz one
//    after another on a keep-alive connection: its p99.
//
// Usage: trust_bench [seconds of measurement (default 15)] [figure...]
// where a figure is monitor_list, create_monitor or healthz (default: all).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "../projections/projection_bench.hpp"
#include "actors/host/node.hpp"
#include "gateway/api.hpp"
#include "gateway/server.hpp"
#include "tests/bench/gateway/bench_plans.hpp"
#include "tests/bench/gateway/wrk_run.hpp"
#include "projections/service.hpp"

using namespace kw;
using namespace kw::pbench;
using namespace kw::gbench;
using json = nlohmann::json;

namespace {

// A blocking keep-alive HTTP/1.1 client (Content-Length framed answers).
class client {
public:
  explicit client(std::uint16_t port) : port_(port) { connect(); }
  ~client() {
    if (fd_ >= 0) ::close(fd_);
  }

  // The status of one exchange (0: the connection failed; it is reopened
  // for the next one).
  int exchange(const std::string& request) {
    if (fd_ < 0 && !connect()) return 0;
    for (std::size_t off = 0; off < request.size();) {
      auto n = ::send(fd_, request.data() + off, request.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return reset();
      off += std::size_t(n);
    }
    std::size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return reset();
    const int status = std::atoi(buf_.c_str() + 9);
    std::size_t len = 0;
    std::string head = buf_.substr(0, head_end);
    for (auto& c : head) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (auto at = head.find("content-length:"); at != std::string::npos) len = std::stoul(head.substr(at + 15));
    const bool close = head.find("connection: close") != std::string::npos;
    while (buf_.size() < head_end + 4 + len)
      if (!fill()) return reset();
    buf_.erase(0, head_end + 4 + len);
    if (close) reset();
    return status;
  }

private:
  bool connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{60, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      reset();
      return false;
    }
    return true;
  }
  int reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
    return 0;
  }
  bool fill() {
    char tmp[8192];
    auto n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, std::size_t(n));
    return true;
  }
  std::uint16_t port_;
  int fd_ = -1;
  std::string buf_;
};

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

// Signs up a tenant; its access token.
std::string sign_up(const gateway::api& a, const std::string& name) {
  auto r = call(a, "POST", "/api/v1/auth/signup", "",
                json{{"email", name + "@example.com"}, {"password", "trust password 1"}, {"tenant_name", name}}.dump());
  if (r.status != 201) fail("signup: " + r.body);
  return json::parse(r.body)["access_token"];
}

// Creates `count` monitors for each token (one thread per tenant) and waits
// until the read model lists them all.
void create_monitors(const gateway::api& a, const std::vector<std::string>& tokens, int count) {
  std::vector<std::string> last(tokens.size());
  std::vector<std::thread> ts;
  for (std::size_t t = 0; t < tokens.size(); ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < count; ++i) {
        auto r = call(a, "POST", "/api/v1/monitors", tokens[t],
                      json{{"name", "svc-" + std::to_string(i)},
                           {"url", "https://svc" + std::to_string(i) + ".example/"},
                           {"interval_s", 60}}
                          .dump());
        if (r.status != 201) fail("create monitor: " + r.body);
        auto j = json::parse(r.body);
        last[t] = std::to_string(j["partition"].get<int>()) + ":" + std::to_string(j["offsets"].back().get<long long>());
      }
    });
  for (auto& t : ts) t.join();
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    auto r = call(a, "GET", "/api/v1/monitors?limit=1&wait_ms=10000&wait_for=" + last[t], tokens[t], "");
    bool stale = false;
    for (auto& [k, v] : r.headers) stale = stale || k == "X-Keepwatch-Stale";
    if (r.status != 200 || stale) fail("list not caught up: " + r.body);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 15;
  std::set<std::string> wanted;
  for (int i = 2; i < argc; ++i) wanted.insert(argv[i]);
  auto want = [&](const char* f) { return wanted.empty() || wanted.count(f) > 0; };
  auto& pg = pg_server::get();
  const auto plans = gbench::unlimited_plans();
  const std::string db = pg.create_read_side("kw_trust_bench", plans);
  temp_dir data("trust-bench");

  node_options o;
  o.data_dir = data.path;
  o.partitions = 4;
  o.plans = plans;
  o.run_checks = false;
  o.allow_private_targets = true;
  auto n = must(node::start(o), "node");
  projections::service_options so;
  so.runner.database_url = db;
  auto views = must(projections::service::start(n->log(), so), "projections");
  gateway::api_options ao;
  ao.database_url = db;
  ao.jwt_key = "bench-key-bench-key-bench-key-bench-key";
  ao.cost = gateway::password_cost::interactive;  // logins cost what they cost in production
  ao.plans = plans;
  gateway::server_options sopts;  // the defaults, as a node runs them
  ao.pool_size = sopts.handler_threads + 2;  // as a node sizes it
  gateway::api a(*n, ao);
  auto srv = must(gateway::server::start(sopts, [&a](const gateway::http_request& q) { return a.handle(q); }),
                  "server");
  const auto port = srv->port();

  const std::string token = sign_up(a, "trust");

  if (want("monitor_list")) {
    create_monitors(a, {token}, 200);
    report("trust.monitor_list_64c", run_wrk(port, "/api/v1/monitors?limit=50", lua_headers(token), 64, seconds),
           ">= 5000", "<= 20");
    std::vector<std::string> many;
    for (int i = 0; i < 16; ++i) many.push_back(sign_up(a, "list" + std::to_string(i)));
    create_monitors(a, many, 60);
    report("trust.monitor_list_64c_16t",
           run_wrk(port, "/", lua_rotating(many, "GET", "/api/v1/monitors?limit=50", ""), 64, seconds), ">= 5000",
           "<= 20");
  }
  if (want("create_monitor")) {
    const std::string body = R"({"name":"bench","url":"https://bench.example/","interval_s":300})";
    std::vector<std::string> many;
    for (int i = 0; i < 16; ++i) many.push_back(sign_up(a, "create" + std::to_string(i)));
    report("trust.create_monitor_64c", run_wrk(port, "/", lua_rotating(many, "POST", "/api/v1/monitors", body), 64, seconds),
           ">= 5000", "<= 20");
    const std::string one = sign_up(a, "create-one");
    report("trust.create_monitor_64c_1t",
           run_wrk(port, "/api/v1/monitors", lua_headers(one, "POST", body), 64, seconds), ">= 5000", "<= 20");
  }
  if (!want("healthz")) {
    srv->stop();
    views->stop();
    n->stop();
    return 0;
  }

  const std::string slow_read = "GET /api/v1/monitors?wait_for=0:9223372036854775806&wait_ms=10000 HTTP/1.1\r\n"
                                "Host: 127.0.0.1\r\nAuthorization: Bearer " +
                                token + "\r\n\r\n";
  const std::string bad_login_body = R"({"email":"trust@example.com","password":"not the password"})";
  const std::string bad_login = "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                "Content-Type: application/json\r\nContent-Length: " +
                                std::to_string(bad_login_body.size()) + "\r\n\r\n" + bad_login_body;

  std::atomic<bool> stop{false};
  std::atomic<long long> slow_done{0}, logins_done{0};
  std::vector<std::thread> load;
  for (int i = 0; i < 64; ++i) {
    const bool reader = i < 48;
    load.emplace_back([&, reader] {
      client c(port);
      while (!stop) {
        const int st = c.exchange(reader ? slow_read : bad_login);
        if (st == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ++(reader ? slow_done : logins_done);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the load is in place

  client h(port);
  const std::string healthz = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  std::vector<double> lat;
  long long failed = 0;
  const auto until = clock_type::now() + std::chrono::seconds(seconds);
  while (clock_type::now() < until) {
    const auto t0 = clock_type::now();
    const int st = h.exchange(healthz);
    lat.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    if (st != 200) ++failed;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  std::fprintf(stderr,
               "trust: %zu /healthz answers (%lld not 200): p50 %.2f ms, p99 %.2f ms, max %.2f ms; "
               "under %lld slow reads and %lld failed logins answered\n",
               lat.size(), failed, percentile(lat, 50), percentile(lat, 99), percentile(lat, 100), slow_done.load(),
               logins_done.load());
  figure("trust.healthz_p99_under_load", "p99_ms", percentile(lat, 99), "ms", "<= 50");
  srv->stop();  // answers the requests in progress, so the load threads end
  for (auto& t : load) t.join();
  views->stop();
  n->stop();
  return 0;
}
