// The Beast side of the gateway (server.hpp): listener, HTTP sessions, and
// the WebSocket sessions of the live stream.
#include "gateway/server.hpp"

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "gateway/live_feed.hpp"

namespace kw::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string new_request_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::uint64_t v = rng();
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[std::size_t(i)] = hex[v & 15];
  return out;
}

namespace {

// A client's request id is kept if it is short and plain.
bool sane_request_id(beast::string_view v) {
  if (v.empty() || v.size() > 128) return false;
  for (char c : v)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

}  // namespace

class session;
class ws_session;

struct server::impl : std::enable_shared_from_this<server::impl> {
  server_options opts;
  request_handler handler;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::set<std::shared_ptr<session>> sessions;
  std::set<std::shared_ptr<ws_session>> streams;  // live-stream WebSockets
  std::atomic<int> busy{0};  // requests being handled or written
  bool stopped = false;

  bool serves_stream() const { return opts.authorize_stream && opts.stream_feed; }
  void do_accept();
};

// One live-stream WebSocket: messages of one tenant's subscription written
// as text frames, one at a time; the client's frames read and ignored, so
// that pings and the close handshake are answered.
class ws_session : public std::enable_shared_from_this<ws_session> {
public:
  ws_session(beast::tcp_stream&& s, std::shared_ptr<server::impl> srv) : ws_(std::move(s)), srv_(std::move(srv)) {}
  ~ws_session() {
    if (sub_) sub_->cancel();
  }

  // Subscribes first, so that nothing the feed reads once the handshake is
  // answered is missed; writing starts when the handshake is done.
  void run(http::request<http::string_body> req, const tenant_id& t, const std::string& rid) {
    beast::get_lowest_layer(ws_).expires_never();  // the WebSocket's own timeouts take over
    websocket::stream_base::timeout to{};
    to.handshake_timeout = srv_->opts.read_timeout;
    to.idle_timeout = srv_->opts.read_timeout;
    to.keep_alive_pings = true;
    ws_.set_option(to);
    ws_.read_message_max(srv_->opts.stream_message_limit);
    ws_.set_option(websocket::stream_base::decorator([rid](websocket::response_type& res) {
      res.set(http::field::server, "keepwatch");
      res.set("X-Request-Id", rid);
    }));
    std::weak_ptr<ws_session> weak = shared_from_this();
    sub_ = srv_->opts.stream_feed->subscribe(t, [weak] {
      // Holding the session keeps the server, and so its io_context, alive.
      if (auto self = weak.lock()) net::post(self->ws_.get_executor(), [self] { self->pump(); });
    });
    req_ = std::move(req);
    ws_.async_accept(req_, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
  }

  // stop(): closes with "going away" (on the session's strand).
  void shut_down() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      if (!self->accepted_) {
        beast::error_code ec;
        beast::get_lowest_layer(self->ws_).socket().close(ec);
        return;
      }
      self->begin_close(websocket::close_code::going_away, "the server is stopping");
    });
  }

  // After the threads are joined: the feed forgets the session even if a
  // handler left in the stopped io_context still holds it.
  void detach() {
    if (sub_) sub_->cancel();
  }

private:
  void on_accept(beast::error_code ec) {
    if (ec) return finish();
    accepted_ = true;
    do_read();
    pump();
  }

  void do_read() {
    ws_.async_read(in_, beast::bind_front_handler(&ws_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return finish();  // the client closed, timed out or misbehaved
    in_.consume(in_.size());
    do_read();
  }

  // Writes the next waiting message, or closes if the subscription ended.
  void pump() {
    if (!accepted_ || closing_ || writing_) return;
    if (auto m = sub_->pop()) {
      writing_ = true;
      out_ = std::move(*m);
      ws_.text(true);
      ws_.async_write(net::buffer(out_), beast::bind_front_handler(&ws_session::on_write, shared_from_this()));
      return;
    }
    switch (sub_->ended()) {
      case live_end::fell_behind:
        return begin_close(websocket::close_code::try_again_later, "fell behind the live feed");
      case live_end::feed_stopped:
        return begin_close(websocket::close_code::going_away, "the live feed stopped");
      case live_end::cancelled:
      case live_end::none:
        return;
    }
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    out_.clear();
    if (ec) return finish();
    if (close_) return do_close();
    pump();
  }

  void begin_close(websocket::close_code code, const char* why) {
    if (closing_) return;
    closing_ = true;
    sub_->cancel();
    close_ = websocket::close_reason(code, why);
    if (!writing_) do_close();
  }

  void do_close() {
    ws_.async_close(*close_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) self->finish();
      // else the pending read completes with `closed` and finishes.
    });
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    if (sub_) sub_->cancel();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
    std::lock_guard<std::mutex> lk(srv_->mu);
    srv_->streams.erase(shared_from_this());
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<server::impl> srv_;
  std::shared_ptr<live_subscription> sub_;
  http::request<http::string_body> req_;
  beast::flat_buffer in_;
  std::string out_;
  std::optional<websocket::close_reason> close_;
  bool accepted_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
};

// One connection: read a request, handle it, write the response, repeat.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& s, std::shared_ptr<server::impl> srv) : stream_(std::move(s)), srv_(std::move(srv)) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ip_ = ep.address().to_string();
  }

  void run() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&session::do_read, shared_from_this()));
  }

  // Closes the connection if it is waiting for a request (stop()).
  void close_if_idle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->handling_) self->do_close();
    });
  }

private:
  void do_read() {
    if (srv_->stopping) return do_close();
    parser_.emplace();
    parser_->body_limit(srv_->opts.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(srv_->opts.header_limit));
    stream_.expires_after(srv_->opts.read_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof)
      return do_close();
    if (ec == http::error::body_limit)
      return reply_error(413, "the request body is larger than " + std::to_string(srv_->opts.body_limit) + " bytes");
    if (ec == http::error::header_limit)
      return reply_error(431, "the request headers are larger than " + std::to_string(srv_->opts.header_limit) +
                                  " bytes");
    if (ec) return reply_error(400, "malformed HTTP request: " + ec.message());

    auto& msg = parser_->get();
    http_request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.remote_ip = remote_ip_;
    auto rid = msg["X-Request-Id"];
    req.request_id = sane_request_id(rid) ? std::string(rid) : new_request_id();
    for (auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    http_response res;
    if (!parse_target(req.target, req.path, req.query)) {
      res = http_response::error(400, "bad_request", "malformed request target", req.request_id);
      res.set_header("X-Request-Id", req.request_id);
    } else if (srv_->serves_stream() && req.path == srv_->opts.stream_path) {
      if (!websocket::is_upgrade(msg)) {
        res = http_response::error(426, "upgrade_required", "the live stream is a WebSocket: send an upgrade request",
                                   req.request_id);
        res.set_header("Upgrade", "websocket");
      } else {
        handling_ = true;
        ++srv_->busy;
        auto who = srv_->opts.authorize_stream(req);
        --srv_->busy;
        handling_ = false;
        if (auto* t = std::get_if<std::string>(&who)) return upgrade(tenant_id{*t}, req.request_id);
        res = std::get<http_response>(std::move(who));
      }
    } else {
      handling_ = true;
      ++srv_->busy;
      res = srv_->handler(req);
      --srv_->busy;
      handling_ = false;
    }
    send(std::move(res), req.request_id, msg.method() == http::verb::head);
  }

  // Hands the connection to a live-stream session.
  void upgrade(const tenant_id& t, const std::string& rid) {
    auto ws = std::make_shared<ws_session>(std::move(stream_), srv_);
    {
      std::lock_guard<std::mutex> lk(srv_->mu);
      srv_->sessions.erase(shared_from_this());
      if (srv_->stopping) return;  // the socket closes with the session
      srv_->streams.insert(ws);
    }
    ws->run(parser_->release(), t, rid);
  }

  void reply_error(int status, const std::string& message) {
    const std::string rid = new_request_id();
    auto res = http_response::error(status, error_code_for(status), message, rid);
    res.set_header("X-Request-Id", rid);
    keep_alive_ = false;  // the rest of the stream cannot be trusted
    version_ = 11;
    send(std::move(res), rid, false);
  }

  void send(http_response res, const std::string& rid, bool head) {
    auto out = std::make_shared<http::response<http::string_body>>();
    out->version(version_);
    out->result(static_cast<unsigned>(res.status));
    out->set(http::field::server, "keepwatch");
    if (!res.content_type.empty()) out->set(http::field::content_type, res.content_type);
    bool has_rid = false;
    for (auto& [n, v] : res.headers) {
      out->set(n, v);
      if (beast::iequals(n, "X-Request-Id")) has_rid = true;
    }
    if (!has_rid) out->set("X-Request-Id", rid);
    const bool close = !keep_alive_ || srv_->stopping;
    out->keep_alive(!close);
    out->body() = std::move(res.body);
    out->prepare_payload();
    if (head) out->body().clear();
    response_ = out;
    http::async_write(stream_, *out,
                      beast::bind_front_handler(&session::on_write, shared_from_this(), close));
  }

  void on_write(bool close, beast::error_code ec, std::size_t) {
    response_.reset();
    if (ec || close) return do_close();
    do_read();
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
    std::lock_guard<std::mutex> lk(srv_->mu);
    srv_->sessions.erase(shared_from_this());
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<void> response_;
  std::shared_ptr<server::impl> srv_;
  std::string remote_ip_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  bool handling_ = false;
};

void server::impl::do_accept() {
  acceptor.async_accept(net::make_strand(ioc), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
    if (ec) {
      if (!self->stopping) self->do_accept();
      return;
    }
    if (self->stopping) return;
    auto sess = std::make_shared<session>(std::move(s), self);
    {
      std::lock_guard<std::mutex> lk(self->mu);
      self->sessions.insert(sess);
    }
    sess->run();
    self->do_accept();
  });
}

server::server(std::shared_ptr<impl> i) : impl_(std::move(i)) {}
server::~server() { stop(); }

result<std::unique_ptr<server>> server::start(server_options o, request_handler h) {
  auto im = std::make_shared<impl>();
  im->opts = std::move(o);
  im->handler = std::move(h);
  beast::error_code ec;
  auto addr = net::ip::make_address(im->opts.address, ec);
  if (ec) return error{errc::invalid, "gateway: bad address '" + im->opts.address + "': " + ec.message()};
  tcp::endpoint ep(addr, im->opts.port);
  im->acceptor.open(ep.protocol(), ec);
  if (!ec) im->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) im->acceptor.bind(ep, ec);
  if (!ec) im->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return error{errc::unavailable, "gateway: cannot listen on " + im->opts.address + ":" +
                                        std::to_string(im->opts.port) + ": " + ec.message()};
  im->port = im->acceptor.local_endpoint().port();
  im->do_accept();
  const int n = std::max(1, im->opts.threads);
  for (int i = 0; i < n; ++i) im->threads.emplace_back([p = im.get()] { p->ioc.run(); });
  return std::unique_ptr<server>(new server(std::move(im)));
}

std::uint16_t server::port() const noexcept { return impl_->port; }

void server::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->stopping = true;
  net::post(impl_->ioc, [im = impl_] {
    beast::error_code ec;
    im->acceptor.close(ec);
  });
  // Idle connections close now; busy ones after their response.
  const auto deadline = std::chrono::steady_clock::now() + impl_->opts.drain_timeout;
  for (;;) {
    std::vector<std::shared_ptr<session>> open;
    std::vector<std::shared_ptr<ws_session>> streams;
    {
      std::lock_guard<std::mutex> lk(impl_->mu);
      open.assign(impl_->sessions.begin(), impl_->sessions.end());
      streams.assign(impl_->streams.begin(), impl_->streams.end());
    }
    if ((open.empty() && streams.empty()) || std::chrono::steady_clock::now() > deadline) break;
    for (auto& s : open) s->close_if_idle();
    for (auto& s : streams) s->shut_down();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->sessions.clear();
  for (auto& s : impl_->streams) s->detach();
  impl_->streams.clear();
}

}  // namespace kw::gateway
