// The gateway's HTTP/1.1 server: Boost.Beast on an asio thread pool (the
// shape of Beast's advanced server: a listener, one session per connection on
// its own strand, one write at a time). Beast stays in server.cpp.
//
// Threads: the I/O threads (`threads`) only accept, read and write. Every
// call of `handler` and of the stream authorizer runs on the handler pool
// (`handler_threads`, threads of its own that may block on PostgreSQL, a
// password hash or an actor call); the response is posted back to the
// connection's strand.
//
// Fairness (the handler pool):
//  - Each request is queued under a key from a cheap classifier that verifies
//    nothing (queue_key): the tenant named in an API key `kw_<tenant>_...` or
//    in a JWT's unverified `tenant` (else `sub`) claim, else the client's IP.
//    The key decides only where the request waits; authorization happens in
//    the handler as before.
//  - At most `per_key_concurrency` requests of one key run at once; the rest
//    wait FIFO (at most `per_key_queue` of them, and `queue_limit` in all:
//    beyond, 503 with Retry-After). Free threads take keys round-robin, so
//    one tenant's slow requests never queue in front of another's.
//  - `priority_paths` (/healthz, /readyz, /metrics) run on a lane of their
//    own (`priority_threads`), never behind other work: they answer while
//    the pool is saturated.
//
// Limits:
//  - At most `max_connections` open connections (HTTP and live streams) and
//    `max_connections_per_ip` from one client address. A connection beyond
//    either is answered 503 (Retry-After: 1, Connection: close) and closed
//    without reading it. `max_connections` is the gateway's share of the
//    process's file descriptors; the node logs it at start.
//  - Accept errors that mean "out of descriptors or memory" (EMFILE, ENFILE,
//    ENOBUFS, ENOMEM) pause accepting for `accept_backoff` (logged once per
//    burst), instead of spinning.
//  - Every request gets a response from `handler`, or one of the server's own
//    JSON errors: 400 for a malformed request or target, 413 for a body over
//    `body_limit` (the connection is closed, the body is not read), 431 for
//    headers over `header_limit` bytes or `header_count_limit` fields. Every
//    response carries X-Request-Id (the client's, when it sent a sane one;
//    else a fresh one).
//  - Time: a connection that sends nothing for `read_timeout` between
//    requests is closed; once a request's first byte is in, its headers must
//    all arrive within `header_timeout` and its body within `body_timeout`,
//    however the bytes trickle in (a slow sender is dropped).
//  - Keep-alive as the client asks.
//  - stop() stops accepting, lets the requests in progress finish (up to
//    `drain_timeout`), closes idle connections, and joins the threads.
//
// The live stream (DESIGN.md: WebSocket /api/v1/stream), when both
// `authorize_stream` and `stream_feed` are set:
//  - An upgrade request on `stream_path` is authorized by the hook (on the
//    handler pool): a refusal is sent as the plain HTTP response it is (no
//    upgrade); a grant is accepted as a WebSocket following that tenant, and
//    only that tenant, on the feed — unless the tenant already has
//    `streams_per_tenant` streams open here (429, no upgrade). A request on
//    `stream_path` that is not an upgrade gets 426.
//  - The grant's `recheck` is called every `stream_recheck_interval` on the
//    handler pool: once it names a reason (the key revoked, the token
//    expired or logged out, the member removed, the tenant suspended...) the
//    stream is closed with 1008 (policy violation) and that reason.
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
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "events/result.hpp"
#include "gateway/http_message.hpp"

namespace kw::gateway {

class live_feed;

// A caller allowed to follow the live stream: the tenant, and how to check
// again that the credential it came with still may read it.
struct stream_grant {
  std::string tenant;
  // Empty while the credential is still good; else why it no longer is (the
  // close reason the client sees). Called on the handler pool; it may block
  // briefly. Unset: never re-checked.
  std::function<std::optional<std::string>()> recheck;
};

// Who may follow the live stream: a grant, or the response to send instead
// of upgrading. Called on the handler pool; it may block briefly.
using stream_authorizer = std::function<std::variant<stream_grant, http_response>(const http_request&)>;

struct server_options {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (see server::port)
  int threads = 4;                      // I/O threads: accept, read, write
  int handler_threads = 16;             // the handler pool
  int priority_threads = 2;             // the lane of priority_paths
  std::vector<std::string> priority_paths = {"/healthz", "/readyz", "/metrics"};
  int per_key_concurrency = 4;          // requests of one queue key running at once
  std::size_t per_key_queue = 64;       // waiting per key; beyond: 503
  std::size_t queue_limit = 4096;       // waiting in all; beyond: 503
  std::size_t max_connections = 4096;   // open connections in all (descriptors)
  std::size_t max_connections_per_ip = 256;
  std::chrono::milliseconds accept_backoff{100};  // after EMFILE and the like
  std::size_t body_limit = 1 << 20;     // bytes
  std::size_t header_limit = 16 << 10;  // bytes
  std::size_t header_count_limit = 100; // header fields
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};   // idle, between requests
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)}; // first byte to end of headers
  std::chrono::milliseconds body_timeout{std::chrono::seconds(30)};   // end of headers to end of body
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(10)};
  // The live stream; served only when both are set. The feed must outlive
  // the server.
  std::string stream_path = "/api/v1/stream";
  stream_authorizer authorize_stream;
  live_feed* stream_feed = nullptr;
  std::size_t stream_message_limit = 4096;  // bytes per client frame
  std::size_t streams_per_tenant = 32;      // open live streams of one tenant
  std::chrono::milliseconds stream_recheck_interval{std::chrono::seconds(2)};
};

// Called on the handler pool for every well-formed request (path, query,
// remote_ip and request_id filled in). It may block; it must not throw (the
// router turns exceptions into 500s).
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

// The handler pool's queue key of a request (see "Fairness"): "t:<tenant>"
// from an API key or a JWT's unverified claims (Authorization: Bearer, or
// ?access_token=), "u:<sub>" for a token naming no tenant, else
// "ip:<remote_ip>". Never blocks, never verifies: for queueing only.
std::string queue_key(const http_request& req);

}  // namespace kw::gateway
