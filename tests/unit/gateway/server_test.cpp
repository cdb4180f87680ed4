// The gateway's HTTP server through real sockets on 127.0.0.1: what a client
// sees for good requests, keep-alive, the JSON error shape for bad ones
// (malformed, oversized body or headers, too many headers, unknown route,
// wrong method), request ids, idle timeouts and a graceful stop; slow
// requests that hold neither /healthz nor another tenant back, one tenant's
// requests queued behind each other and bounded; connection caps, slow
// senders, and running out of file descriptors.
#include "gateway/router.hpp"
#include "gateway/server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

using namespace kw::gateway;

namespace {

// A blocking HTTP/1.1 client on a raw socket: what goes on the wire is
// exactly what the test writes.
class raw_client {
public:
  // `from`: the client's own address (any of 127/8 reaches the server).
  explicit raw_client(std::uint16_t port, const char* from = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (from) {
      sockaddr_in b{};
      b.sin_family = AF_INET;
      ::inet_pton(AF_INET, from, &b.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&b), sizeof b);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~raw_client() { ::close(fd_); }
  bool connected() const { return connected_; }

  void send(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += std::size_t(n);
    }
  }

  struct response {
    int status = 0;
    std::map<std::string, std::string> headers;  // lowercase names
    std::string body;
  };

  // Reads one response (Content-Length framed); status 0 if the connection
  // closed first.
  response read() {
    response r;
    std::size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return r;
    std::string head = buf_.substr(0, head_end);
    buf_.erase(0, head_end + 4);
    auto line_end = head.find("\r\n");
    r.status = std::stoi(head.substr(9, 3));
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      auto e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      auto line = head.substr(pos, e - pos);
      auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = char(std::tolower(c));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = e + 2;
    }
    std::size_t len = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (buf_.size() < len)
      if (!fill()) return r;
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }

  // True if the server closed the connection (read returns 0, or a reset).
  bool closed_by_peer() {
    char c;
    auto n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  // False once the server has closed the connection.
  bool send_ok(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size());
  }

private:
  bool fill() {
    char tmp[4096];
    auto n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, std::size_t(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

std::string get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

class ServerTest : public ::testing::Test {
protected:
  void start(server_options o = {}) {
    r_.add("GET", "/hello/{name}", [](const http_request& q, const path_params& p) {
      return http_response::json(200, {{"hello", p.at("name")}, {"q", q.query.count("x") ? q.query.at("x") : ""},
                                       {"ip", q.remote_ip}});
    });
    r_.add("POST", "/echo", [](const http_request& q, const path_params&) {
      return http_response::json(201, {{"len", q.body.size()}});
    });
    r_.add("GET", "/slow", [this](const http_request&, const path_params&) {
      slow_started_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      return http_response::json(200, {{"slow", true}});
    });
    r_.add("GET", "/healthz", [](const http_request&, const path_params&) {
      return http_response::json(200, {{"status", "ok"}});
    });
    // Blocks until release() (as a handler waiting on PostgreSQL would),
    // counting how many run at once.
    r_.add("GET", "/block", [this](const http_request&, const path_params&) {
      std::unique_lock<std::mutex> lk(block_mu_);
      ++blocked_;
      max_blocked_ = std::max(max_blocked_, blocked_);
      block_cv_.wait_for(lk, std::chrono::seconds(20), [&] { return released_; });
      --blocked_;
      return http_response::json(200, {{"blocked", true}});
    });
    o.threads = 2;
    auto s = server::start(o, [this](const http_request& q) { return r_.route(q); });
    ASSERT_TRUE(s.ok()) << s.err().message;
    srv_ = std::move(*s);
  }

  static void expect_error_shape(const raw_client::response& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status);
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_EQ(j["error"]["code"], code) << r.body;
    EXPECT_TRUE(j["error"]["message"].is_string()) << r.body;
    EXPECT_FALSE(j["error"]["request_id"].get<std::string>().empty());
    EXPECT_EQ(j["error"]["request_id"], r.headers.at("x-request-id"));
  }

  void TearDown() override { release(); }

  void release() {
    {
      std::lock_guard<std::mutex> lk(block_mu_);
      released_ = true;
    }
    block_cv_.notify_all();
  }
  int blocked() {
    std::lock_guard<std::mutex> lk(block_mu_);
    return blocked_;
  }
  int max_blocked() {
    std::lock_guard<std::mutex> lk(block_mu_);
    return max_blocked_;
  }

  router r_;
  std::unique_ptr<server> srv_;
  std::atomic<bool> slow_started_{false};
  std::mutex block_mu_;
  std::condition_variable block_cv_;
  int blocked_ = 0, max_blocked_ = 0;
  bool released_ = false;
};

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

bool eventually(const std::function<bool()>& pred, double seconds = 10) {
  const auto until = clock_type::now() + std::chrono::duration<double>(seconds);
  while (clock_type::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

const std::string key_a = "Authorization: Bearer kw_tenanta_0123456789abcdef\r\n";
const std::string key_b = "Authorization: Bearer kw_tenantb_0123456789abcdef\r\n";

}  // namespace

TEST_F(ServerTest, AnswersARouteWithJsonAndARequestIdAndKeepsTheConnection) {
  start();
  raw_client c(srv_->port());
  ASSERT_TRUE(c.connected());
  c.send(get("/hello/w%C3%B6rld?x=a+b"));
  auto r = c.read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.headers["x-request-id"].size(), 16u);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["hello"], "w\xC3\xB6rld");
  EXPECT_EQ(j["q"], "a b");
  EXPECT_EQ(j["ip"], "127.0.0.1");
  // Same connection, the client's own request id comes back.
  c.send(get("/hello/again", "X-Request-Id: client-42\r\n"));
  r = c.read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-request-id"], "client-42");
  // An unusable request id is replaced.
  c.send(get("/hello/x", "X-Request-Id: bad id <script>\r\n"));
  r = c.read();
  EXPECT_EQ(r.headers["x-request-id"].size(), 16u);
}

TEST_F(ServerTest, UnknownRouteAndWrongMethodAreJsonErrors) {
  start();
  raw_client c(srv_->port());
  c.send(get("/nowhere"));
  expect_error_shape(c.read(), 404, "not_found");
  c.send("DELETE /echo HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r = c.read();
  expect_error_shape(r, 405, "method_not_allowed");
  EXPECT_EQ(r.headers["allow"], "POST");
}

TEST_F(ServerTest, OversizedBodyIs413AndTheBodyIsNotRead) {
  server_options o;
  o.body_limit = 1024;
  start(o);
  raw_client c(srv_->port());
  c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + std::string(2000, 'x'));
  auto r = c.read();
  expect_error_shape(r, 413, "payload_too_large");
  EXPECT_TRUE(c.closed_by_peer());
  // Within the limit it is handled.
  raw_client ok(srv_->port());
  ok.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'x'));
  r = ok.read();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(nlohmann::json::parse(r.body)["len"], 1000);
}

TEST_F(ServerTest, OversizedHeadersAre431) {
  server_options o;
  o.header_limit = 2048;
  start(o);
  raw_client c(srv_->port());
  c.send(get("/hello/x", "X-Big: " + std::string(4000, 'a') + "\r\n"));
  expect_error_shape(c.read(), 431, "headers_too_large");
}

TEST_F(ServerTest, MalformedRequestsAre400) {
  start();
  {
    raw_client c(srv_->port());
    c.send("THIS IS NOT HTTP\r\n\r\n");
    expect_error_shape(c.read(), 400, "bad_request");
  }
  {
    raw_client c(srv_->port());
    c.send(get("/hello/%zz"));
    expect_error_shape(c.read(), 400, "bad_request");
  }
  {
    raw_client c(srv_->port());
    c.send(get("/hello/a%00b"));
    expect_error_shape(c.read(), 400, "bad_request");
  }
}

TEST_F(ServerTest, AnIdleConnectionIsClosedAfterTheReadTimeout) {
  server_options o;
  o.read_timeout = std::chrono::milliseconds(300);
  start(o);
  raw_client c(srv_->port());
  c.send(get("/hello/x"));
  EXPECT_EQ(c.read().status, 200);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST_F(ServerTest, StopFinishesTheRequestInProgressAndClosesIdleConnections) {
  start();
  raw_client idle(srv_->port());
  idle.send(get("/hello/x"));
  ASSERT_EQ(idle.read().status, 200);
  raw_client busy(srv_->port());
  busy.send(get("/slow"));
  while (!slow_started_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto stopped = std::async(std::launch::async, [&] { srv_->stop(); });
  auto r = busy.read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(idle.closed_by_peer());
  stopped.get();
  raw_client after(srv_->port());
  EXPECT_FALSE(after.connected());
}

// Sixteen of one tenant's requests blocked in their handler (as wait_for or
// a slow query would be): /healthz still answers at once, and so does
// another tenant; the blocked tenant runs at most 4 at a time (the
// default), and once released every one of its requests completes.
TEST_F(ServerTest, SlowRequestsHoldBackNeitherHealthzNorAnotherTenant) {
  start();
  std::vector<std::unique_ptr<raw_client>> slow;
  for (int i = 0; i < 16; ++i) {
    slow.push_back(std::make_unique<raw_client>(srv_->port()));
    slow.back()->send(get("/block", key_a));
  }
  ASSERT_TRUE(eventually([&] { return blocked() >= 2; }));
  {
    raw_client h(srv_->port());
    const auto t0 = clock_type::now();
    h.send(get("/healthz"));
    EXPECT_EQ(h.read().status, 200);
    EXPECT_LT(seconds_since(t0), 1.0);
  }
  {
    raw_client b(srv_->port());
    const auto t0 = clock_type::now();
    b.send(get("/hello/b", key_b));
    EXPECT_EQ(b.read().status, 200);
    EXPECT_LT(seconds_since(t0), 1.0);
  }
  EXPECT_LE(max_blocked(), 4);
  release();
  for (auto& c : slow) EXPECT_EQ(c->read().status, 200);
  EXPECT_LE(max_blocked(), 4);
}

// A tenant's waiting requests are bounded (per_key_queue): beyond, 503 with
// Retry-After, at once; another tenant is unaffected.
TEST_F(ServerTest, OneTenantsQueueIsBoundedWith503) {
  server_options o;
  o.per_key_concurrency = 2;
  o.per_key_queue = 3;
  start(o);
  std::vector<std::unique_ptr<raw_client>> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(std::make_unique<raw_client>(srv_->port()));
    held.back()->send(get("/block", key_a));
  }
  ASSERT_TRUE(eventually([&] { return blocked() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the other three are queued
  raw_client over(srv_->port());
  over.send(get("/block", key_a));
  auto r = over.read();
  expect_error_shape(r, 503, "unavailable");
  EXPECT_EQ(r.headers["retry-after"], "1");
  raw_client b(srv_->port());
  b.send(get("/hello/b", key_b));
  EXPECT_EQ(b.read().status, 200);
  release();
  for (auto& c : held) EXPECT_EQ(c->read().status, 200);
  EXPECT_EQ(max_blocked(), 2);
}

// The queue key, from what a request carries (never verified).
TEST(QueueKey, TenantFromAnApiKeyOrATokensClaimsElseTheClientIp) {
  http_request q;
  q.remote_ip = "203.0.113.9";
  EXPECT_EQ(queue_key(q), "ip:203.0.113.9");
  q.headers = {{"authorization", "Bearer kw_acme-1_abcdef"}};
  EXPECT_EQ(queue_key(q), "t:acme-1");
  // {"alg":"HS256"}.{"sub":"u1","tenant":"acme"}.sig
  q.headers = {{"authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSIsInRlbmFudCI6ImFjbWUifQ.c2ln"}};
  EXPECT_EQ(queue_key(q), "t:acme");
  // {"sub":"root","tenant":""}
  q.headers = {{"authorization", "Bearer e30.eyJzdWIiOiJyb290IiwidGVuYW50IjoiIn0.x"}};
  EXPECT_EQ(queue_key(q), "u:root");
  q.headers = {{"authorization", "Bearer not.a-token!.x"}};
  EXPECT_EQ(queue_key(q), "ip:203.0.113.9");
  q.headers.clear();
  q.query["access_token"] = "kw_beta_123";
  EXPECT_EQ(queue_key(q), "t:beta");
}

TEST_F(ServerTest, TooManyHeaderFieldsAre431) {
  start();
  std::string many;
  for (int i = 0; i < 150; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  raw_client c(srv_->port());
  c.send(get("/hello/x", many));
  expect_error_shape(c.read(), 431, "headers_too_large");
  raw_client ok(srv_->port());
  ok.send(get("/hello/x", "X-A: 1\r\nX-B: 2\r\n"));
  EXPECT_EQ(ok.read().status, 200);
}

// A client that trickles its headers a byte at a time is dropped once
// header_timeout has passed since its first byte, though it never goes
// quiet for read_timeout.
TEST_F(ServerTest, ASlowSenderIsDropped) {
  server_options o;
  o.header_timeout = std::chrono::seconds(1);
  o.read_timeout = std::chrono::seconds(30);
  start(o);
  raw_client c(srv_->port());
  c.send("GET /hello/x HTTP/1.1\r\n");
  const auto t0 = clock_type::now();
  bool dropped = false;
  while (seconds_since(t0) < 8) {
    if (!c.send_ok("X")) {
      dropped = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(dropped || c.closed_by_peer());
  EXPECT_LT(seconds_since(t0), 6.0);
  // A prompt client is served.
  raw_client ok(srv_->port());
  ok.send(get("/hello/x"));
  EXPECT_EQ(ok.read().status, 200);
}

// Beyond max_connections the server answers 503 and closes; a place freed
// is taken again.
TEST_F(ServerTest, ConnectionsBeyondTheCapAreRefused) {
  server_options o;
  o.max_connections = 3;
  start(o);
  std::vector<std::unique_ptr<raw_client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<raw_client>(srv_->port()));
    held.back()->send(get("/hello/x"));
    ASSERT_EQ(held.back()->read().status, 200);
  }
  {
    raw_client over(srv_->port());
    auto r = over.read();
    expect_error_shape(r, 503, "unavailable");
    EXPECT_EQ(r.headers["retry-after"], "1");
    EXPECT_TRUE(over.closed_by_peer());
  }
  held.pop_back();
  EXPECT_TRUE(eventually([&] {
    raw_client again(srv_->port());
    again.send(get("/hello/x"));
    return again.read().status == 200;
  }));
}

TEST_F(ServerTest, ConnectionsFromOneAddressAreCapped) {
  server_options o;
  o.max_connections_per_ip = 2;
  start(o);
  std::vector<std::unique_ptr<raw_client>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<raw_client>(srv_->port()));
    held.back()->send(get("/hello/x"));
    ASSERT_EQ(held.back()->read().status, 200);
  }
  raw_client over(srv_->port());
  expect_error_shape(over.read(), 503, "unavailable");
  // Another address is not counted against this one.
  raw_client other(srv_->port(), "127.0.0.2");
  ASSERT_TRUE(other.connected());
  other.send(get("/hello/x"));
  auto r = other.read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body)["ip"], "127.0.0.2");
}

namespace {

int open_descriptors() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n - 3;  // ".", ".." and the directory's own
}

// CPU seconds (user + system) a process has used, from /proc/<pid>/stat.
double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) / double(::sysconf(_SC_CLK_TCK));
}

}  // namespace

// Out of file descriptors (EMFILE), the server neither spins on accept nor
// gives up: a child process serves with a low RLIMIT_NOFILE, more clients
// connect than it can accept, and while they wait it uses little CPU, logs
// the condition once, and serves again once descriptors are free.
TEST(ServerLimits, OutOfDescriptorsTheAcceptLoopBacksOffAndRecovers) {
  char log_path[] = "/tmp/kw_emfile_XXXXXX";
  const int log_fd = ::mkstemp(log_path);
  ASSERT_GE(log_fd, 0);
  int ports[2];
  ASSERT_EQ(::pipe(ports), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(log_fd, 1);  // the server's log
    ::dup2(log_fd, 2);
    router r;
    r.add("GET", "/hello", [](const http_request&, const path_params&) { return http_response::json(200, {}); });
    server_options o;
    o.threads = 2;
    o.handler_threads = 2;
    auto s = server::start(o, [&r](const http_request& q) { return r.route(q); });
    if (!s.ok()) ::_exit(1);
    rlimit lim{};
    lim.rlim_cur = lim.rlim_max = rlim_t(open_descriptors() + 6);
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) ::_exit(2);
    const std::uint16_t port = (*s)->port();
    if (::write(ports[1], &port, sizeof port) != sizeof port) ::_exit(3);
    for (;;) ::pause();
  }
  ::close(ports[1]);
  std::uint16_t port = 0;
  ASSERT_EQ(::read(ports[0], &port, sizeof port), ssize_t(sizeof port));
  ::close(ports[0]);
  {
    std::vector<std::unique_ptr<raw_client>> many;
    for (int i = 0; i < 20; ++i) many.push_back(std::make_unique<raw_client>(port));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const double cpu0 = cpu_seconds(child);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const double used = cpu_seconds(child) - cpu0;
    EXPECT_LT(used, 0.5) << "CPU seconds in 2 s while out of descriptors";
  }
  // The clients are gone: the server accepts and answers again.
  EXPECT_TRUE(eventually([&] {
    raw_client c(port);
    c.send(get("/hello"));
    return c.read().status == 200;
  }, 15));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  std::ifstream f(log_path);
  std::string log((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ::close(log_fd);
  ::unlink(log_path);
  std::size_t warnings = 0;
  for (auto at = log.find("cannot accept"); at != std::string::npos; at = log.find("cannot accept", at + 1)) ++warnings;
  EXPECT_EQ(warnings, 1u) << log;
}
