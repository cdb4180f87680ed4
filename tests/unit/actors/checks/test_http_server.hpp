// A small scriptable HTTP/1.1 server for tests (and benchmarks) that talk to
// real sockets: listens on 127.0.0.1, port chosen by the OS, runs its own
// thread, answers each request with whatever the handler returns.
//
// What it guarantees: keep-alive is honoured unless the response says close;
// a response with `hang` is never sent (the connection stays open until the
// server is destroyed), for timeout tests; a response with `delay_ms` is
// sent that much later without holding up other connections; connections
// open at once are counted (now and at most); every request is recorded (method,
// target, headers, body) unless recording is turned off; with a tls_identity
// the server speaks only TLS. make_self_signed() generates a certificate at
// runtime with the OpenSSL API, with a known notAfter, so no key material
// lives in the repository. Header-only; needs Boost.Beast and OpenSSL.
#pragma once

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace kw::test {

struct test_request {
  std::string method;
  std::string target;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of a header (case-insensitive name), or "" when absent.
  std::string header(std::string_view name) const {
    auto eq = [](std::string_view a, std::string_view b) {
      return a.size() == b.size() &&
             std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
             });
    };
    for (auto& [n, v] : headers)
      if (eq(n, name))
        return v;
    return {};
  }
};

struct test_response {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool hang = false;   // never answer; keep the connection open
  bool close = false;  // close the connection after answering
  bool drop = false;   // answer "keep-alive", then close anyway (a server dropping idle connections)
  int delay_ms = 0;    // answer this much later (a slow server; other connections are served meanwhile)
};

// A self-signed certificate and its key, PEM-encoded.
struct tls_identity {
  std::string cert_pem;
  std::string key_pem;
  std::int64_t not_after_s = 0;  // seconds since the epoch, exactly as in the certificate
};

// Self-signed P-256 certificate for CN=localhost with SAN DNS:localhost and
// IP:127.0.0.1, valid from an hour ago until now + valid_days (whole seconds).
inline tls_identity make_self_signed(int valid_days = 30) {
  auto fail = [](const char* what) { throw std::runtime_error(std::string("make_self_signed: ") + what); };
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr)
    fail("key");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::time(nullptr)));
  std::int64_t now = std::time(nullptr);
  std::int64_t not_after = now + std::int64_t{valid_days} * 86400;
  ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(now - 3600));
  ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(not_after));
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  if (san == nullptr)
    fail("san");
  X509_add_ext(x, san, -1);
  X509_EXTENSION_free(san);
  if (X509_sign(x, key, EVP_sha256()) == 0)
    fail("sign");
  auto to_pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(len));
    BIO_free(bio);
    return out;
  };
  tls_identity id;
  id.cert_pem = to_pem([&](BIO* b) { PEM_write_bio_X509(b, x); });
  id.key_pem = to_pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  id.not_after_s = not_after;
  X509_free(x);
  EVP_PKEY_free(key);
  return id;
}

// A port on 127.0.0.1 where nothing listens (bound, then released).
inline unsigned short closed_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  auto port = a.local_endpoint().port();
  a.close();
  return port;
}

class test_http_server {
public:
  using handler = std::function<test_response(const test_request&)>;

  explicit test_http_server(handler h, std::optional<tls_identity> tls = std::nullopt, bool record = true)
    : handler_(std::move(h)), record_(record), ioc_(1), acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    if (tls) {
      ssl_.emplace(boost::asio::ssl::context::tls_server);
      ssl_->use_certificate_chain(boost::asio::buffer(tls->cert_pem));
      ssl_->use_private_key(boost::asio::buffer(tls->key_pem), boost::asio::ssl::context::pem);
    }
    port_ = acceptor_.local_endpoint().port();
    do_accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~test_http_server() {
    ioc_.stop();
    thread_.join();
  }

  test_http_server(const test_http_server&) = delete;
  test_http_server& operator=(const test_http_server&) = delete;

  unsigned short port() const { return port_; }

  std::string url(std::string_view path = "/") const {
    return std::string(ssl_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

  std::vector<test_request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t request_count() const { return request_count_.load(); }
  std::size_t connection_count() const { return connection_count_.load(); }
  // Connections open now (accepted and not yet closed by either side), and
  // the most open at any one time.
  std::size_t open_connections() const { return open_connections_.load(); }
  std::size_t max_open_connections() const { return max_open_connections_.load(); }

private:
  using tcp = boost::asio::ip::tcp;

  template <class Stream>
  struct session : std::enable_shared_from_this<session<Stream>> {
    session(test_http_server& server, Stream stream)
      : server_(server), stream_(std::move(stream)), delay_(boost::beast::get_lowest_layer(stream_).get_executor()) {
      auto now = ++server_.open_connections_;
      auto seen = server_.max_open_connections_.load();
      while (now > seen && !server_.max_open_connections_.compare_exchange_weak(seen, now)) {
      }
    }
    ~session() { --server_.open_connections_; }

    void do_read() {
      request_ = {};
      boost::beast::http::async_read(stream_, buffer_, request_,
                                     [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                                       self->on_read(ec);
                                     });
    }

    void on_read(boost::system::error_code ec) {
      if (ec)
        return;  // closed or broken: drop the session
      test_request req;
      req.method = std::string(request_.method_string());
      req.target = std::string(request_.target());
      req.body = request_.body();
      for (auto& f : request_)
        req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      test_response out = server_.serve(req);
      if (out.hang) {
        server_.park(this->shared_from_this());
        return;
      }
      namespace http = boost::beast::http;
      response_ = {};
      response_.version(11);
      response_.result(static_cast<unsigned>(out.status));
      response_.set(http::field::server, "kw-test");
      for (auto& [n, v] : out.headers)
        response_.set(n, v);
      response_.body() = std::move(out.body);
      response_.keep_alive(request_.keep_alive() && !out.close);
      drop_ = out.drop;
      response_.prepare_payload();
      if (out.delay_ms > 0) {
        delay_.expires_after(std::chrono::milliseconds(out.delay_ms));
        delay_.async_wait([self = this->shared_from_this()](boost::system::error_code) { self->do_write(); });
        return;
      }
      do_write();
    }

    void do_write() {
      boost::beast::http::async_write(stream_, response_,
                                      [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                                        self->on_write(ec);
                                      });
    }

    void on_write(boost::system::error_code ec) {
      if (ec)
        return;
      if (!response_.keep_alive() || drop_) {
        boost::system::error_code ignored;
        auto& sock = boost::beast::get_lowest_layer(stream_);
        sock.shutdown(tcp::socket::shutdown_send, ignored);
        if (drop_)
          sock.close(ignored);
        return;
      }
      do_read();
    }

    test_http_server& server_;
    Stream stream_;
    boost::asio::steady_timer delay_;
    boost::beast::flat_buffer buffer_;
    boost::beast::http::request<boost::beast::http::string_body> request_;
    boost::beast::http::response<boost::beast::http::string_body> response_;
    bool drop_ = false;
  };

  void do_accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec)
        return;
      ++connection_count_;
      socket.set_option(tcp::no_delay(true), ec);
      if (ssl_) {
        using tls_stream = boost::asio::ssl::stream<tcp::socket>;
        auto s = std::make_shared<session<tls_stream>>(*this, tls_stream(std::move(socket), *ssl_));
        s->stream_.async_handshake(boost::asio::ssl::stream_base::server, [s](boost::system::error_code ec) {
          if (!ec)
            s->do_read();
        });
      } else {
        std::make_shared<session<tcp::socket>>(*this, std::move(socket))->do_read();
      }
      do_accept();
    });
  }

  test_response serve(const test_request& req) {
    ++request_count_;
    if (record_) {
      std::lock_guard lock(mutex_);
      requests_.push_back(req);
    }
    return handler_(req);
  }

  void park(std::shared_ptr<void> s) { parked_.push_back(std::move(s)); }

  // Before ioc_: sessions still in it when it is destroyed count themselves out.
  std::atomic<std::size_t> open_connections_{0};
  std::atomic<std::size_t> max_open_connections_{0};
  handler handler_;
  bool record_;
  std::optional<boost::asio::ssl::context> ssl_;  // outlives the sessions in ioc_
  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::vector<std::shared_ptr<void>> parked_;  // hung sessions, touched on the server thread only
  mutable std::mutex mutex_;
  std::vector<test_request> requests_;
  std::atomic<std::size_t> request_count_{0};
  std::atomic<std::size_t> connection_count_{0};
  std::thread thread_;
};

}  // namespace kw::test
