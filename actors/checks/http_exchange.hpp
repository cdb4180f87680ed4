// Internal to kw_checks: one HTTP/1.1 request and its response over plain TCP
// or TLS, on a single-threaded io_context, bounded by an absolute deadline
// (resolve, connect, TLS handshake, write and read all count against it).
//
// Guarantees: the callback is called exactly once, on the io_context's thread,
// unless the io_context is stopped first. Plain-HTTP connections come from and
// return to a connection_pool when one is given and both sides keep the
// connection alive; a reused connection that fails before a response is read
// is retried once on a fresh connection. Responses are read up to a body limit;
// beyond it the status and headers are still reported and the connection is
// dropped. Nothing here throws: every failure is a message in the result.
//
// Includes Asio, Beast and OpenSSL: never include this from a public header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>

#include "actors/checks/url.hpp"

namespace kw::checks::detail {

using clock = std::chrono::steady_clock;
using tcp = boost::asio::ip::tcp;

inline constexpr const char* user_agent = "Keepwatch/0.1";
inline constexpr std::size_t default_body_limit = 1024 * 1024;

// Idle keep-alive connections by origin (scheme://host:port). Used from one
// io_context thread only, so it does no locking. Connections idle longer than
// max_idle are closed rather than reused: servers drop them around then.
class connection_pool {
public:
  explicit connection_pool(std::size_t max_per_origin = 512,
                           clock::duration max_idle = std::chrono::seconds(20));
  std::optional<tcp::socket> acquire(const std::string& origin);
  void release(const std::string& origin, tcp::socket socket);
  // Closes connections idle longer than max_idle; the prober calls it
  // periodically so connections to origins no longer checked do not linger.
  void evict_expired();
  void clear();
  std::size_t idle_count() const;

private:
  struct idle {
    tcp::socket socket;
    clock::time_point since;
  };
  std::size_t max_per_origin_;
  clock::duration max_idle_;
  std::unordered_map<std::string, std::vector<idle>> idle_;
};

// A TLS client context with the system's default trust store. Verification is
// switched on or off per connection.
boost::asio::ssl::context make_client_tls_context();

struct exchange_request {
  parsed_url url;
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool verify_tls = true;
  std::size_t body_limit = default_body_limit;
  clock::time_point deadline;
};

struct exchange_result {
  bool failed = false;     // no response: see error
  bool timed_out = false;  // failed because the deadline passed
  std::string error;
  int status = 0;
  std::string body;
  bool body_truncated = false;  // the body exceeded the limit and was not read
  std::string location;         // the Location header, if any
  std::optional<std::int64_t> cert_not_after_us;  // when TLS was used
};

void run_exchange(boost::asio::io_context& ioc, connection_pool* pool,
                  boost::asio::ssl::context& tls, exchange_request req,
                  std::function<void(exchange_result)> done);

// "connection refused", "host not found", ... for the errors users see.
std::string describe(const boost::system::error_code& ec);

}  // namespace kw::checks::detail
