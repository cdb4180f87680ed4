// Internal to kw_checks: one HTTP/1.1 request and its response over plain TCP
// or TLS, on a single-threaded io_context, bounded by an absolute deadline
// (resolve, connect, TLS handshake, write and read all count against it).
//
// Guarantees: the callback is called exactly once, on the io_context's thread,
// unless the io_context is stopped first. Plain-HTTP connections come from and
// return to a connection_pool when one is given and both sides keep the
// connection alive; a reused connection that fails before a response is read
// is retried once on a fresh connection. With a pool, a new connection is
// opened only within the pool's budget (waiting for a slot until the
// deadline). Every address is judged by the request's target_policy right
// before it is connected to, on every attempt (so on every redirect hop).
// Responses are read up to a body limit; beyond it the status and headers are
// still reported and the connection is dropped. Nothing here throws: every
// failure is a message in the result.
//
// Includes Asio, Beast and OpenSSL: never include this from a public header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <deque>
#include <list>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>

#include "actors/checks/target_policy.hpp"
#include "actors/checks/url.hpp"

namespace kw::checks::detail {

using clock = std::chrono::steady_clock;
using tcp = boost::asio::ip::tcp;

inline constexpr const char* user_agent = "Keepwatch/0.1";
inline constexpr std::size_t default_body_limit = 1024 * 1024;

// The prober's connections on one io_context thread: a budget of open
// connections (idle and in use, plain and TLS, HTTP and TCP checks alike) and
// the idle keep-alive connections by origin (scheme://host:port). Used from
// that thread only, so it does no locking.
//
// - At most max_open connections are open at once. A check that needs a new
//   one when all are taken first closes the longest-idle keep-alive
//   connection; if none is idle it waits (wait()) until one is closed or
//   comes back idle, in arrival order.
// - At most max_idle connections are kept idle (beyond it the longest-idle
//   is closed), at most max_idle_per_origin per origin, none longer than
//   idle_timeout: servers drop them around then, and evict_expired() (called
//   periodically) closes them so connections to origins no longer checked do
//   not hold descriptors.
// - Every reserve() or acquire() that returned a connection is balanced by
//   exactly one release() (back to idle) or closed() (the socket was closed).
struct pool_limits {
  std::size_t max_open = 8000;
  std::size_t max_idle = 8000;
  std::size_t max_idle_per_origin = 512;
  clock::duration idle_timeout = std::chrono::seconds(20);
};

class connection_pool {
public:
  explicit connection_pool(pool_limits limits = {});
  ~connection_pool();

  // An idle connection to `origin` (it keeps its slot), or none.
  std::optional<tcp::socket> acquire(const std::string& origin);
  // A slot for a new connection: true when one was free or an idle
  // connection was closed to make room; false when the budget is spent.
  bool reserve();
  // A connection that holds a slot, kept for reuse (or closed if the idle
  // limits say so).
  void release(const std::string& origin, tcp::socket socket);
  // A connection that held a slot was closed.
  void closed();

  // When reserve() failed: `wake` is called (from release, closed or
  // evict_expired, on this thread; it should post, not work) once a slot may
  // be had — then ask again. The ticket cancels it.
  std::uint64_t wait(std::function<void()> wake);
  void cancel_wait(std::uint64_t ticket);
  // A waiter that was woken but no longer wants a connection (it timed out
  // meanwhile) passes the wake on, so no slot sits free while others wait.
  void wake_next();

  void evict_expired();
  // Closes every idle connection and forgets the waiters (the prober is
  // stopping); later closed() calls only count.
  void clear();
  std::size_t idle_count() const { return idle_.size(); }
  std::size_t open_count() const { return open_; }
  const pool_limits& limits() const { return limits_; }

private:
  struct idle {
    std::string origin;
    tcp::socket socket;
    clock::time_point since;
  };
  using idle_list = std::list<idle>;  // oldest first
  void close_idle(idle_list::iterator it);

  pool_limits limits_;
  std::size_t open_ = 0;
  idle_list idle_;
  std::unordered_map<std::string, std::vector<idle_list::iterator>> by_origin_;  // oldest first
  std::deque<std::pair<std::uint64_t, std::function<void()>>> waiters_;
  std::uint64_t next_ticket_ = 1;
  bool cleared_ = false;
};

// "too many connections in flight ..." for a check that got no slot in time.
std::string no_slot_message(const connection_pool& pool);

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
  // Every address connected to is asked first (null: none refused).
  const target_policy* policy = nullptr;
};

struct exchange_result {
  bool failed = false;     // no response: see error
  bool timed_out = false;  // failed because the deadline passed
  bool refused = false;    // failed because the target policy refused every address
  std::string error;
  int status = 0;
  std::string body;
  bool body_truncated = false;  // the body exceeded the limit and was not read
  std::string location;         // the Location header, if any
  std::optional<std::int64_t> cert_not_after_us;  // when TLS was used
};

// Keeps the endpoints `policy` allows; when it allows none, the refusal of
// the first (the check's error). A null policy allows all.
std::optional<std::string> admit(const target_policy* policy, std::vector<tcp::endpoint>& endpoints);

// `pool`: the prober's budget and keep-alive pool (plain HTTP reuses its
// idle connections, TLS only counts against its budget); null: no pooling
// and no budget (webhooks).
void run_exchange(boost::asio::io_context& ioc, connection_pool* pool,
                  boost::asio::ssl::context& tls, exchange_request req,
                  std::function<void(exchange_result)> done);

// "connection refused", "host not found", ... for the errors users see.
std::string describe(const boost::system::error_code& ec);

}  // namespace kw::checks::detail
