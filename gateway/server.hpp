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
//
// The live stream (DESIGN.md: WebSocket /api/v1/stream), when both
// `authorize_stream` and `stream_feed` are set:
//  - An upgrade request on `stream_path` is authorized by the hook: a refusal
//    is sent as the plain HTTP response it is (no upgrade); a tenant id is
//    accepted as a WebSocket following that tenant, and only that tenant, on
//    the feed. A request on `stream_path` that is not an upgrade gets 426.
//  - Each feed message is one text frame, in feed order, one write at a
//    time. Pings are answered; the server pings an idle client and drops it
//    if it stays silent for `read_timeout`. Frames from the client are read
//    and ignored (at most `stream_message_limit` bytes each).
//  - The server closes the socket with a reason: 1013 (try again later) when
//    the client fell behind the feed, 1001 (going away) on stop() or when the
//    feed stops. A client's close is answered and ends the subscription.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "events/result.hpp"
#include "gateway/http_message.hpp"

namespace kw::gateway {

class live_feed;

// Who may follow the live stream: the tenant to follow, or the response to
// send instead of upgrading. Called on a server thread; it may block briefly.
using stream_authorizer = std::function<std::variant<std::string, http_response>(const http_request&)>;

struct server_options {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (see server::port)
  int threads = 4;
  std::size_t body_limit = 1 << 20;     // bytes
  std::size_t header_limit = 16 << 10;  // bytes
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(10)};
  // The live stream; served only when both are set. The feed must outlive
  // the server.
  std::string stream_path = "/api/v1/stream";
  stream_authorizer authorize_stream;
  live_feed* stream_feed = nullptr;
  std::size_t stream_message_limit = 4096;  // bytes per client frame
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
