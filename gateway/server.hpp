// The gateway's HTTP/1.1 server: Boost.Beast on an asio thread pool (the
// shape of Beast's advanced server: a listener, one session per connection on
// its own strand, one write at a time). Beast stays in server.cpp.
//
// Guarantees:
//  - Every request gets a response from `handler`, or one of the server's own
//    JSON errors: 400 for a malformed request or target, 413 for a body over
//    `body_limit` (the connection is closed, the body is not read), 431 for
//    headers over `header_limit`. Every response carries X-Request-Id (the
//    client's, when it sent a sane one; else a fresh one).
//  - Keep-alive as the client asks; a connection that sends nothing for
//    `read_timeout` (between requests or within one) is closed.
//  - stop() stops accepting, lets the requests in progress finish (up to
//    `drain_timeout`), closes idle connections, and joins the threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "events/result.hpp"
#include "gateway/http_message.hpp"

namespace kw::gateway {

struct server_options {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (see server::port)
  int threads = 4;
  std::size_t body_limit = 1 << 20;     // bytes
  std::size_t header_limit = 16 << 10;  // bytes
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(10)};
};

// Called on a server thread for every well-formed request (path, query,
// remote_ip and request_id filled in). It may block briefly; it must not
// throw (the router turns exceptions into 500s).
using request_handler = std::function<http_response(const http_request&)>;

class server {
public:
  static result<std::unique_ptr<server>> start(server_options o, request_handler h);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  std::uint16_t port() const noexcept;
  // Idempotent; the destructor calls it.
  void stop();

  struct impl;

private:
  explicit server(std::shared_ptr<impl> i);
  std::shared_ptr<impl> impl_;
};

// A fresh request id (random, 16 hex digits).
std::string new_request_id();

}  // namespace kw::gateway
