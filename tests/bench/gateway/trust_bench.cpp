// Trust benchmark (issue "Trust first"): does /healthz stay prompt while the
// gateway is busy with slow work? A real node on the embedded log, the
// projections into a throwaway PostgreSQL, the API behind the real HTTP
// server with its default options, all on this machine.
//
//  - trust.healthz_p99_under_load: 64 connections keep the gateway busy —
//    48 hold reads that wait for a log offset that never comes
//    (GET /api/v1/monitors?wait_for=0:9223372036854775806&wait_ms=10000),
//    16 send failed logins (a wrong password: a real argon2id verification
//    at the interactive cost) — while one client sends GET /healthz one
//    after another on a keep-alive connection: its p99.
//
// Usage: trust_bench [seconds of measurement (default 15)]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "../projections/projection_bench.hpp"
#include "actors/host/node.hpp"
#include "gateway/api.hpp"
#include "gateway/server.hpp"
#include "tests/bench/gateway/bench_plans.hpp"
#include "projections/service.hpp"

using namespace kw;
using namespace kw::pbench;
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

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 15;
  auto& pg = pg_server::get();
  const auto plans = gbench::unlimited_plans();
  const std::string db = pg.create_read_side("kw_trust_bench", plans);
  temp_dir data("trust-bench");

  node_options o;
  o.data_dir = data.path;
  o.partitions = 4;
  o.plans = plans;
  o.run_checks = false;
  auto n = must(node::start(o), "node");
  projections::service_options so;
  so.runner.database_url = db;
  auto views = must(projections::service::start(n->log(), so), "projections");
  gateway::api_options ao;
  ao.database_url = db;
  ao.jwt_key = "bench-key-bench-key-bench-key-bench-key";
  ao.cost = gateway::password_cost::interactive;  // logins cost what they cost in production
  ao.plans = plans;
  ao.pool_size = 18;
  gateway::api a(*n, ao);
  gateway::server_options sopts;  // the defaults, as a node runs them
  auto srv = must(gateway::server::start(sopts, [&a](const gateway::http_request& q) { return a.handle(q); }),
                  "server");
  const auto port = srv->port();

  auto signed_up = call(a, "POST", "/api/v1/auth/signup", "",
                        json{{"email", "trust@example.com"}, {"password", "trust password 1"}, {"tenant_name", "Trust"}}
                            .dump());
  if (signed_up.status != 201) fail("signup: " + signed_up.body);
  const std::string token = json::parse(signed_up.body)["access_token"];

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
