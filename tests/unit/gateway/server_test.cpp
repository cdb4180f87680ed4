// The gateway's HTTP server through real sockets on 127.0.0.1: what a client
// sees for good requests, keep-alive, the JSON error shape for bad ones
// (malformed, oversized body or headers, unknown route, wrong method),
// request ids, idle timeouts and a graceful stop.
#include "gateway/router.hpp"
#include "gateway/server.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

using namespace kw::gateway;

namespace {

// A blocking HTTP/1.1 client on a raw socket: what goes on the wire is
// exactly what the test writes.
class raw_client {
public:
  explicit raw_client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
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

  // True if the server closed the connection (read returns 0).
  bool closed_by_peer() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
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

  router r_;
  std::unique_ptr<server> srv_;
  std::atomic<bool> slow_started_{false};
};

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
