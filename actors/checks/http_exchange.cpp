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

connection_pool::connection_pool(std::size_t max_per_origin, clock::duration max_idle)
  : max_per_origin_(max_per_origin), max_idle_(max_idle) {}

std::optional<tcp::socket> connection_pool::acquire(const std::string& origin) {
  auto it = idle_.find(origin);
  if (it == idle_.end())
    return std::nullopt;
  auto& v = it->second;
  auto now = clock::now();
  // Most recently released first: the least likely to have been closed.
  while (!v.empty()) {
    idle c = std::move(v.back());
    v.pop_back();
    if (now - c.since <= max_idle_ && c.socket.is_open())
      return std::move(c.socket);
    error_code ignored;
    c.socket.close(ignored);
  }
  return std::nullopt;
}

void connection_pool::release(const std::string& origin, tcp::socket socket) {
  auto& v = idle_[origin];
  if (v.size() >= max_per_origin_) {
    error_code ignored;
    socket.close(ignored);
    return;
  }
  v.push_back(idle{std::move(socket), clock::now()});
}

void connection_pool::evict_expired() {
  auto now = clock::now();
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& v = it->second;
    auto keep = std::stable_partition(v.begin(), v.end(), [&](const idle& c) { return now - c.since <= max_idle_; });
    for (auto c = keep; c != v.end(); ++c) {
      error_code ignored;
      c->socket.close(ignored);
    }
    v.erase(keep, v.end());
    it = v.empty() ? idle_.erase(it) : std::next(it);
  }
}

void connection_pool::clear() {
  for (auto& [origin, v] : idle_)
    for (auto& c : v) {
      error_code ignored;
      c.socket.close(ignored);
    }
  idle_.clear();
}

std::size_t connection_pool::idle_count() const {
  std::size_t n = 0;
  for (auto& [origin, v] : idle_)
    n += v.size();
  return n;
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
  if (ec == net::error::eof || ec == http::error::end_of_stream || ec == http::error::partial_message)
    return "connection closed by the server before a complete response";
  return ec.message();
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
      pool_(req.url.tls ? nullptr : pool),
      tls_ctx_(tls),
      req_(std::move(req)),
      done_(std::move(done)),
      resolver_(ioc),
      timer_(ioc) {}

  void start() {
    timer_.expires_at(req_.deadline);
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_deadline(ec); });
    build_request();
    if (pool_ != nullptr) {
      if (auto s = pool_->acquire(req_.url.origin())) {
        plain_.emplace(std::move(*s));
        reused_ = true;
        do_write();
        return;
      }
    }
    do_resolve();
  }

private:
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
    do_connect();
  }

  void do_connect() {
    if (timed_out_)
      return fail(net::error::timed_out);
    if (req_.url.tls)
      tls_.emplace(ioc_, tls_ctx_);
    else
      plain_.emplace(ioc_);
    auto& sock = tls_ ? tls_->next_layer() : *plain_;
    net::async_connect(sock, endpoints_, [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
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
      do_resolve();
      return;
    }
    fail(ec);
  }

  void on_deadline(error_code ec) {
    if (ec == net::error::operation_aborted || finished_)
      return;
    timed_out_ = true;
    resolver_.cancel();
    close();
  }

  void close() {
    error_code ignored;
    if (tls_)
      tls_->next_layer().close(ignored);
    if (plain_)
      plain_->close(ignored);
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
  connection_pool* pool_;
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
