// See http_exchange.hpp.
#include "actors/checks/http_exchange.hpp"

#include <algorithm>
#include <ctime>
#include <iterator>
#include <memory>

#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace kw::checks::detail {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using boost::system::error_code;

// -- connection_pool ---------------------------------------------------------

connection_pool::connection_pool(pool_limits limits) : limits_(limits) {
  limits_.max_open = std::max<std::size_t>(limits_.max_open, 1);
}

connection_pool::~connection_pool() { clear(); }

void connection_pool::close_idle(idle_list::iterator it) {
  auto& v = by_origin_[it->origin];
  v.erase(std::find(v.begin(), v.end(), it));
  if (v.empty())
    by_origin_.erase(it->origin);
  error_code ignored;
  it->socket.close(ignored);
  idle_.erase(it);
  --open_;
}

std::optional<tcp::socket> connection_pool::acquire(const std::string& origin) {
  auto now = clock::now();
  // Most recently released first: the least likely to have been closed.
  for (;;) {
    auto found = by_origin_.find(origin);
    if (found == by_origin_.end())
      return std::nullopt;
    auto it = found->second.back();
    if (now - it->since <= limits_.idle_timeout && it->socket.is_open()) {
      tcp::socket s = std::move(it->socket);
      found->second.pop_back();
      if (found->second.empty())
        by_origin_.erase(found);
      idle_.erase(it);
      return s;  // keeps its slot
    }
    close_idle(it);
  }
}

bool connection_pool::reserve() {
  if (open_ >= limits_.max_open && !idle_.empty())
    close_idle(idle_.begin());
  if (open_ >= limits_.max_open)
    return false;
  ++open_;
  return true;
}

void connection_pool::release(const std::string& origin, tcp::socket socket) {
  auto& v = by_origin_[origin];
  if (cleared_ || v.size() >= limits_.max_idle_per_origin || limits_.max_idle == 0) {
    if (v.empty())
      by_origin_.erase(origin);
    error_code ignored;
    socket.close(ignored);
    closed();
    return;
  }
  if (idle_.size() >= limits_.max_idle)
    close_idle(idle_.begin());
  idle_.push_back(idle{origin, std::move(socket), clock::now()});
  by_origin_[origin].push_back(std::prev(idle_.end()));
  wake_next();  // a waiter may reuse it, or close it for a connection of its own
}

void connection_pool::closed() {
  if (open_ > 0)
    --open_;
  wake_next();
}

std::uint64_t connection_pool::wait(std::function<void()> wake) {
  auto ticket = next_ticket_++;
  waiters_.emplace_back(ticket, std::move(wake));
  return ticket;
}

void connection_pool::cancel_wait(std::uint64_t ticket) {
  auto it = std::find_if(waiters_.begin(), waiters_.end(), [&](const auto& w) { return w.first == ticket; });
  if (it == waiters_.end())
    return;
  auto wake = std::move(it->second);  // may own the waiter: destroyed after the erase
  waiters_.erase(it);
}

void connection_pool::wake_next() {
  if (cleared_ || waiters_.empty())
    return;
  auto w = std::move(waiters_.front().second);
  waiters_.pop_front();
  w();
}

void connection_pool::evict_expired() {
  auto now = clock::now();
  while (!idle_.empty() && now - idle_.front().since > limits_.idle_timeout) {
    close_idle(idle_.begin());
    wake_next();
  }
}

void connection_pool::clear() {
  cleared_ = true;
  auto waiters = std::move(waiters_);  // their owners may call cancel_wait as they go
  waiters_.clear();
  waiters.clear();
  while (!idle_.empty())
    close_idle(idle_.begin());
}

std::string no_slot_message(const connection_pool& pool) {
  return "too many connections in flight: no connection free before the timeout (the prober's limit is " +
         std::to_string(pool.limits().max_open) + " open connections per prober thread, checks.max_connections)";
}

// -- helpers -----------------------------------------------------------------

ssl::context make_client_tls_context() {
  ssl::context ctx(ssl::context::tls_client);
  error_code ec;
  ctx.set_default_verify_paths(ec);  // without a trust store, verification fails: that is the right outcome
  ctx.set_verify_mode(ssl::verify_none);
  return ctx;
}

std::string describe(const error_code& ec) {
  if (ec == net::error::connection_refused)
    return "connection refused";
  if (ec == net::error::connection_reset)
    return "connection reset by peer";
  if (ec == net::error::host_not_found || ec == net::error::host_not_found_try_again)
    return "host not found";
  if (ec == net::error::network_unreachable)
    return "network unreachable";
  if (ec == net::error::host_unreachable)
    return "host unreachable";
  if (ec == net::error::no_descriptors)
    return "too many open files in the Keepwatch process (EMFILE): the connection was not attempted";
  if (ec == boost::system::errc::too_many_files_open_in_system)
    return "too many open files on the Keepwatch machine (ENFILE): the connection was not attempted";
  if (ec == net::error::eof || ec == http::error::end_of_stream || ec == http::error::partial_message)
    return "connection closed by the server before a complete response";
  return ec.message();
}

std::optional<std::string> admit(const target_policy* policy, std::vector<tcp::endpoint>& endpoints) {
  if (policy == nullptr)
    return std::nullopt;
  std::optional<std::string> first;
  std::vector<tcp::endpoint> kept;
  for (auto& e : endpoints) {
    ip_address a;
    if (e.address().is_v4()) {
      a = ip_address::v4_of(e.address().to_v4().to_uint());
    } else {
      a.v6 = true;
      a.bytes = e.address().to_v6().to_bytes();
    }
    if (auto why = policy->refusal(a, e.port())) {
      if (!first)
        first = std::move(why);
    } else {
      kept.push_back(e);
    }
  }
  endpoints = std::move(kept);
  if (!endpoints.empty())
    return std::nullopt;
  return first ? first : std::optional<std::string>("no address to connect to");
}

namespace {

std::optional<std::int64_t> peer_not_after_us(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr)
    return std::nullopt;
  std::optional<std::int64_t> out;
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
    out = static_cast<std::int64_t>(timegm(&tm)) * 1'000'000;
  X509_free(cert);
  return out;
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

// One request/response. Lives as long as a handler refers to it.
class http_exchange : public std::enable_shared_from_this<http_exchange> {
public:
  http_exchange(net::io_context& ioc, connection_pool* pool, ssl::context& tls,
                exchange_request req, std::function<void(exchange_result)> done)
    : ioc_(ioc),
      slots_(pool),
      pool_(req.url.tls ? nullptr : pool),
      tls_ctx_(tls),
      req_(std::move(req)),
      done_(std::move(done)),
      resolver_(ioc),
      timer_(ioc) {}

  ~http_exchange() {
    if (ticket_)
      slots_->cancel_wait(*ticket_);
    give_back_slot();
  }

  void start() {
    timer_.expires_at(req_.deadline);
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_deadline(ec); });
    build_request();
    obtain(true);
  }

private:
  // A connection before anything else: an idle one to reuse, or a slot in
  // the pool's budget for a new one, or a place in the queue for a slot.
  void obtain(bool may_reuse) {
    if (may_reuse && pool_ != nullptr) {
      if (auto s = pool_->acquire(req_.url.origin())) {
        plain_.emplace(std::move(*s));
        holds_slot_ = true;
        reused_ = true;
        do_write();
        return;
      }
    }
    if (slots_ != nullptr) {
      if (!slots_->reserve()) {
        ticket_ = slots_->wait([self = shared_from_this(), may_reuse] {
          net::post(self->ioc_, [self, may_reuse] {
            self->ticket_.reset();
            if (self->finished_ || self->timed_out_)
              return self->slots_->wake_next();
            self->obtain(may_reuse);
          });
        });
        return;
      }
      holds_slot_ = true;
    }
    do_resolve();
  }

  void give_back_slot() {
    if (holds_slot_ && slots_ != nullptr)
      slots_->closed();
    holds_slot_ = false;
  }

  template <class F>
  void with_stream(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(*plain_);
  }

  void build_request() {
    request_.method(req_.method);
    request_.target(req_.url.target);
    request_.version(11);
    request_.set(http::field::host, req_.url.host_header());
    request_.set(http::field::user_agent, user_agent);
    request_.set(http::field::accept, "*/*");
    for (auto& [name, value] : req_.headers)
      request_.set(name, value);
    request_.keep_alive(pool_ != nullptr);
    request_.body() = req_.body;
    request_.prepare_payload();
  }

  void do_resolve() {
    error_code ec;
    auto addr = net::ip::make_address(req_.url.host, ec);
    if (!ec) {
      endpoints_.assign(1, tcp::endpoint(addr, static_cast<unsigned short>(std::stoi(req_.url.port))));
      if (auto refused = admit(req_.policy, endpoints_))
        return refuse(*refused);
      do_connect();
      return;
    }
    resolver_.async_resolve(req_.url.host, req_.url.port,
                            [self = shared_from_this()](error_code ec, tcp::resolver::results_type r) {
                              self->on_resolve(ec, std::move(r));
                            });
  }

  void on_resolve(error_code ec, tcp::resolver::results_type results) {
    if (ec)
      return fail(ec);
    endpoints_.clear();
    for (auto& e : results)
      endpoints_.push_back(e.endpoint());
    // Judged here, on the addresses connected to next: what the name
    // resolved to when the monitor was created does not matter.
    if (auto refused = admit(req_.policy, endpoints_))
      return refuse(*refused);
    do_connect();
  }

  void do_connect() {
    if (timed_out_)
      return fail(net::error::timed_out);
    if (req_.url.tls)
      tls_.emplace(ioc_, tls_ctx_);
    else
      plain_.emplace(ioc_);
    do_connect_to(0, {});
  }

  // The admitted endpoints in turn (Asio's range connect would report a
  // socket that could not even be opened, e.g. EMFILE, as "cancelled").
  void do_connect_to(std::size_t i, error_code last) {
    if (i >= endpoints_.size())
      return fail(last ? last : net::error::host_not_found);
    auto& sock = tls_ ? tls_->next_layer() : *plain_;
    error_code ec;
    sock.close(ec);
    sock.open(endpoints_[i].protocol(), ec);
    if (ec)
      return fail(ec);
    sock.async_connect(endpoints_[i], [self = shared_from_this(), i](error_code ec) {
      if (ec && !self->timed_out_ && !self->finished_)
        return self->do_connect_to(i + 1, ec);
      self->on_connect(ec);
    });
  }

  void on_connect(error_code ec) {
    if (ec)
      return fail(ec);
    error_code ignored;
    (tls_ ? tls_->next_layer() : *plain_).set_option(tcp::no_delay(true), ignored);
    if (tls_)
      do_handshake();
    else
      do_write();
  }

  void do_handshake() {
    SSL* ssl = tls_->native_handle();
    bool ip = is_ip_literal(req_.url.host);
    if (!ip)
      SSL_set_tlsext_host_name(ssl, req_.url.host.c_str());
    if (req_.verify_tls) {
      tls_->set_verify_mode(ssl::verify_peer);
      // OpenSSL's own host check, so a mismatch is reported as such.
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      if (ip)
        X509_VERIFY_PARAM_set1_ip_asc(param, req_.url.host.c_str());
      else
        SSL_set1_host(ssl, req_.url.host.c_str());
    } else {
      tls_->set_verify_mode(ssl::verify_none);
    }
    tls_->async_handshake(ssl::stream_base::client,
                          [self = shared_from_this()](error_code ec) { self->on_handshake(ec); });
  }

  void on_handshake(error_code ec) {
    SSL* ssl = tls_->native_handle();
    result_.cert_not_after_us = peer_not_after_us(ssl);
    if (ec) {
      long verify = SSL_get_verify_result(ssl);
      if (!timed_out_ && req_.verify_tls && verify != X509_V_OK)
        return fail(ec, std::string("TLS certificate verification failed: ") +
                            X509_verify_cert_error_string(verify));
      return fail(ec, "TLS handshake failed: " + describe(ec));
    }
    do_write();
  }

  void do_write() {
    with_stream([this](auto& stream) {
      http::async_write(stream, request_, [self = shared_from_this()](error_code ec, std::size_t) {
        self->on_write(ec);
      });
    });
  }

  void on_write(error_code ec) {
    if (ec)
      return retry_or_fail(ec);
    parser_.emplace();
    parser_->body_limit(req_.body_limit);  // enforced by Beast for chunked and to-EOF bodies
    with_stream([this](auto& stream) {
      http::async_read_header(stream, buffer_, *parser_, [self = shared_from_this()](error_code ec, std::size_t) {
        self->on_header(ec);
      });
    });
  }

  void on_header(error_code ec) {
    if (ec)
      return on_read(ec);
    // Beast 1.74 does not apply body_limit to a Content-Length body: check it here.
    if (auto len = parser_->content_length(); len && *len > req_.body_limit)
      return on_read(http::error::body_limit);
    if (parser_->is_done())
      return on_read({});
    with_stream([this](auto& stream) {
      http::async_read(stream, buffer_, *parser_, [self = shared_from_this()](error_code ec, std::size_t) {
        self->on_read(ec);
      });
    });
  }

  void on_read(error_code ec) {
    bool complete = !ec;
    if (ec && !timed_out_ && parser_->is_header_done()) {
      if (ec == http::error::body_limit) {
        result_.body_truncated = true;
        ec = {};
      } else if (ec == ssl::error::stream_truncated) {
        ec = {};  // a body delimited by the end of the connection, without close_notify
      }
    }
    if (ec)
      return retry_or_fail(ec);
    auto& res = parser_->get();
    result_.status = static_cast<int>(res.result_int());
    if (auto it = res.find(http::field::location); it != res.end())
      result_.location = std::string(it->value());
    if (!result_.body_truncated)
      result_.body = std::move(res.body());
    if (pool_ != nullptr && complete && parser_->is_done() && res.keep_alive() && buffer_.size() == 0) {
      pool_->release(req_.url.origin(), std::move(*plain_));
      plain_.reset();
      holds_slot_ = false;  // the idle connection keeps it
    } else {
      close();
    }
    finish();
  }

  void retry_or_fail(error_code ec) {
    if (reused_ && !retried_ && !timed_out_) {
      // The server probably closed the idle connection: try once on a new one.
      close();
      plain_.reset();
      reused_ = false;
      retried_ = true;
      buffer_.clear();
      parser_.reset();
      obtain(false);
      return;
    }
    fail(ec);
  }

  void on_deadline(error_code ec) {
    if (ec == net::error::operation_aborted || finished_)
      return;
    timed_out_ = true;
    if (ticket_) {
      // Still queued for a connection: the budget, not the target, is why.
      slots_->cancel_wait(*ticket_);
      ticket_.reset();
      result_.failed = true;
      result_.error = no_slot_message(*slots_);
      return finish();
    }
    resolver_.cancel();
    close();
  }

  void close() {
    error_code ignored;
    if (tls_)
      tls_->next_layer().close(ignored);
    if (plain_)
      plain_->close(ignored);
    give_back_slot();
  }

  void refuse(std::string why) {
    result_.refused = true;
    fail({}, std::move(why));
  }

  void fail(error_code ec, std::string message = {}) {
    if (finished_)
      return;
    result_.failed = true;
    if (timed_out_) {
      result_.timed_out = true;
      result_.error = "timeout";
    } else {
      result_.error = message.empty() ? describe(ec) : message;
    }
    close();
    finish();
  }

  void finish() {
    if (finished_)
      return;
    finished_ = true;
    timer_.cancel();
    auto done = std::move(done_);
    done(std::move(result_));
  }

  net::io_context& ioc_;
  connection_pool* slots_;  // the budget every connection counts against (null: none)
  connection_pool* pool_;   // idle connections to reuse (plain HTTP only)
  ssl::context& tls_ctx_;
  exchange_request req_;
  std::function<void(exchange_result)> done_;
  tcp::resolver resolver_;
  net::steady_timer timer_;
  std::vector<tcp::endpoint> endpoints_;
  std::optional<tcp::socket> plain_;
  std::optional<ssl::stream<tcp::socket>> tls_;
  boost::beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::string_body>> parser_;
  exchange_result result_;
  std::optional<std::uint64_t> ticket_;  // queued for a slot
  bool holds_slot_ = false;
  bool reused_ = false;
  bool retried_ = false;
  bool timed_out_ = false;
  bool finished_ = false;
};

}  // namespace

void run_exchange(net::io_context& ioc, connection_pool* pool, ssl::context& tls,
                  exchange_request req, std::function<void(exchange_result)> done) {
  std::make_shared<http_exchange>(ioc, pool, tls, std::move(req), std::move(done))->start();
}

}  // namespace kw::checks::detail
