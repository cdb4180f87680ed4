// The Beast side of the gateway (server.hpp): listener, HTTP sessions, the
// WebSocket sessions of the live stream, and the handler pool their
// requests run on.
#include "gateway/server.hpp"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>
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

// base64url (no padding) as in a JWT's segments; nullopt if it is not.
std::optional<std::string> base64url_decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const int v = val(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | unsigned(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xff));
    }
  }
  return out;
}

// Out of descriptors or memory: accepting again at once would fail again.
bool starved(const beast::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  const int v = ec.value();
  return v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM;
}

// Runs jobs on threads of its own, queued by key: at most `per_key` of one
// key at once, the rest FIFO behind each other; keys with work are served
// round-robin. Bounded: submit() refuses beyond `per_key_queue` waiting
// jobs of a key or `queue_limit` in all.
class handler_pool {
public:
  handler_pool(const std::string& name, int threads, int per_key, std::size_t per_key_queue, std::size_t queue_limit)
      : name_(name), per_key_(std::max(1, per_key)), per_key_queue_(per_key_queue), queue_limit_(queue_limit) {
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { work(); });
  }
  ~handler_pool() { stop(); }

  // False if the queue is full (or the pool stopped): the job is dropped.
  bool submit(const std::string& key, std::function<void()> job) {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) return false;
    auto& ln = lanes_[key];
    // Waiting for one of the key's free places does not count as queued.
    const std::size_t free = std::size_t(std::max(0, per_key_ - ln.running));
    if (ln.waiting.size() >= per_key_queue_ + free || waiting_ >= queue_limit_) {
      if (ln.running == 0 && ln.waiting.empty()) lanes_.erase(key);
      return false;
    }
    ln.waiting.push_back(std::move(job));
    ++waiting_;
    make_ready(key, ln);
    return true;
  }

  // Joins the threads (jobs running finish); jobs still waiting are dropped.
  void stop() {
    std::unordered_map<std::string, lane> dropped;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stopping_ && threads_.empty()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::lock_guard<std::mutex> lk(mu_);
    dropped.swap(lanes_);
    ready_.clear();
    waiting_ = 0;
  }

private:
  struct lane {
    std::deque<std::function<void()>> waiting;
    int running = 0;
    bool ready = false;  // in ready_
  };

  // Queues the key for a thread if it has work and room to run more.
  void make_ready(const std::string& key, lane& ln) {
    if (ln.ready || ln.waiting.empty() || ln.running >= per_key_) return;
    ln.ready = true;
    ready_.push_back(key);
    cv_.notify_one();
  }

  void work() {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stopping_ || !ready_.empty(); });
      if (stopping_) return;
      std::string key = std::move(ready_.front());
      ready_.pop_front();
      auto& ln = lanes_.at(key);
      ln.ready = false;
      auto job = std::move(ln.waiting.front());
      ln.waiting.pop_front();
      --waiting_;
      ++ln.running;
      make_ready(key, ln);  // the key goes to the back of the round
      lk.unlock();
      try {
        job();
      } catch (const std::exception& e) {
        spdlog::error("gateway: {} pool: a job threw: {}", name_, e.what());
      } catch (...) {
        spdlog::error("gateway: {} pool: a job threw", name_);
      }
      job = nullptr;  // what it held goes before the lock is taken
      lk.lock();
      auto it = lanes_.find(key);
      --it->second.running;
      make_ready(key, it->second);
      if (it->second.running == 0 && it->second.waiting.empty()) lanes_.erase(it);
    }
  }

  const std::string name_;
  const int per_key_;
  const std::size_t per_key_queue_, queue_limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, lane> lanes_;  // keys with work waiting or running
  std::deque<std::string> ready_;                // keys a thread may take, in turn
  std::size_t waiting_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

std::string queue_key(const http_request& req) {
  std::string cred;
  if (auto h = req.header("authorization"); h && h->rfind("Bearer ", 0) == 0) {
    cred = h->substr(7);
  } else if (auto t = req.query.find("access_token"); t != req.query.end()) {
    cred = t->second;
  }
  if (!cred.empty() && cred.size() <= 4096) {
    if (cred.rfind("kw_", 0) == 0) {
      // kw_<tenant>_<random>: tenant ids have no '_'.
      const auto us = cred.rfind('_');
      if (us > 3) return "t:" + cred.substr(3, us - 3);
    } else if (const auto d1 = cred.find('.'); d1 != std::string::npos) {
      const auto d2 = cred.find('.', d1 + 1);
      if (d2 != std::string::npos) {
        if (auto payload = base64url_decode(cred.substr(d1 + 1, d2 - d1 - 1))) {
          auto j = nlohmann::json::parse(*payload, nullptr, false);
          if (j.is_object()) {
            auto claim = [&](const char* k) {
              auto it = j.find(k);
              return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
            };
            if (auto t = claim("tenant"); !t.empty() && t.size() <= 128) return "t:" + t;
            if (auto u = claim("sub"); !u.empty() && u.size() <= 128) return "u:" + u;
          }
        }
      }
    }
  }
  return "ip:" + req.remote_ip;
}

class session;
class ws_session;

struct server::impl : std::enable_shared_from_this<server::impl> {
  server_options opts;
  request_handler handler;
  net::io_context ioc;
  // Keeps the I/O threads running while no socket operation is pending (a
  // request on the handler pool, its response not yet posted back).
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work{ioc.get_executor()};
  tcp::acceptor acceptor{ioc};
  net::steady_timer accept_timer{ioc};
  bool accept_starved = false;  // accept's handler only: logged this burst
  std::vector<std::thread> threads;
  std::unique_ptr<handler_pool> pool;      // handlers and stream authorizers
  std::unique_ptr<handler_pool> priority;  // priority_paths
  std::uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::set<std::shared_ptr<session>> sessions;
  std::set<std::shared_ptr<ws_session>> streams;  // live-stream WebSockets
  std::size_t connections = 0;                    // open, HTTP and WebSocket
  std::unordered_map<std::string, std::size_t> connections_of;  // by client IP
  std::unordered_map<std::string, std::size_t> streams_of;      // by tenant
  bool stopped = false;

  bool serves_stream() const { return opts.authorize_stream && opts.stream_feed; }
  bool is_priority(const std::string& path) const {
    for (auto& p : opts.priority_paths)
      if (p == path) return true;
    return false;
  }
  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket s);
};

// A connection's place under max_connections and max_connections_per_ip,
// held by its session (and handed to its WebSocket on upgrade).
class connection_slot {
public:
  static std::unique_ptr<connection_slot> take(const std::shared_ptr<server::impl>& srv, const std::string& ip) {
    std::lock_guard<std::mutex> lk(srv->mu);
    auto& mine = srv->connections_of[ip];
    if (srv->connections >= srv->opts.max_connections || mine >= srv->opts.max_connections_per_ip) {
      if (mine == 0) srv->connections_of.erase(ip);
      return nullptr;
    }
    ++srv->connections;
    ++mine;
    return std::unique_ptr<connection_slot>(new connection_slot(srv, ip));
  }
  ~connection_slot() {
    std::lock_guard<std::mutex> lk(srv_->mu);
    --srv_->connections;
    auto it = srv_->connections_of.find(ip_);
    if (it != srv_->connections_of.end() && --it->second == 0) srv_->connections_of.erase(it);
  }

private:
  connection_slot(std::shared_ptr<server::impl> srv, std::string ip) : srv_(std::move(srv)), ip_(std::move(ip)) {}
  std::shared_ptr<server::impl> srv_;
  std::string ip_;
};

// A live stream's place under streams_per_tenant.
class stream_slot {
public:
  static std::unique_ptr<stream_slot> take(const std::shared_ptr<server::impl>& srv, const std::string& tenant) {
    std::lock_guard<std::mutex> lk(srv->mu);
    auto& n = srv->streams_of[tenant];
    if (n >= srv->opts.streams_per_tenant) {
      if (n == 0) srv->streams_of.erase(tenant);
      return nullptr;
    }
    ++n;
    return std::unique_ptr<stream_slot>(new stream_slot(srv, tenant));
  }
  ~stream_slot() {
    std::lock_guard<std::mutex> lk(srv_->mu);
    auto it = srv_->streams_of.find(tenant_);
    if (it != srv_->streams_of.end() && --it->second == 0) srv_->streams_of.erase(it);
  }

private:
  stream_slot(std::shared_ptr<server::impl> srv, std::string tenant) : srv_(std::move(srv)), tenant_(std::move(tenant)) {}
  std::shared_ptr<server::impl> srv_;
  std::string tenant_;
};

// One live-stream WebSocket: messages of one tenant's subscription written
// as text frames, one at a time; the client's frames read and ignored, so
// that pings and the close handshake are answered.
class ws_session : public std::enable_shared_from_this<ws_session> {
public:
  ws_session(beast::tcp_stream&& s, std::shared_ptr<server::impl> srv, std::unique_ptr<connection_slot> conn,
             std::unique_ptr<stream_slot> slot)
      : ws_(std::move(s)), srv_(std::move(srv)), conn_(std::move(conn)), slot_(std::move(slot)),
        recheck_timer_(ws_.get_executor()) {}
  ~ws_session() {
    if (sub_) sub_->cancel();
  }

  // Subscribes first, so that nothing the feed reads once the handshake is
  // answered is missed; writing starts when the handshake is done.
  void run(http::request<http::string_body> req, stream_grant grant, const std::string& rid) {
    const tenant_id t{grant.tenant};
    tenant_ = grant.tenant;
    recheck_ = std::move(grant.recheck);
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
    arm_recheck();
  }

  // The credential is checked again every stream_recheck_interval, on the
  // handler pool (under a key of the tenant's streams, so not behind its
  // requests), and the answer comes back to the strand.
  void arm_recheck() {
    if (!recheck_ || closing_ || finished_) return;
    recheck_timer_.expires_after(srv_->opts.stream_recheck_interval);
    recheck_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closing_ || self->finished_) return;
      std::weak_ptr<ws_session> weak = self;
      const bool queued = self->srv_->pool->submit("s:" + self->tenant_, [weak] {
        auto me = weak.lock();
        if (!me) return;
        auto why = me->recheck_();
        net::post(me->ws_.get_executor(), [me, why = std::move(why)] {
          if (!why) return me->arm_recheck();
          // A close reason is at most 123 bytes.
          std::string reason = why->substr(0, 120);
          me->begin_close(websocket::close_code::policy_error, reason);
        });
      });
      if (!queued) self->arm_recheck();  // the pool is full: next time
    });
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

  void begin_close(websocket::close_code code, const std::string& why) {
    if (closing_) return;
    closing_ = true;
    sub_->cancel();
    recheck_timer_.cancel();
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
    recheck_timer_.cancel();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
    std::lock_guard<std::mutex> lk(srv_->mu);
    srv_->streams.erase(shared_from_this());
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<server::impl> srv_;
  std::unique_ptr<connection_slot> conn_;
  std::unique_ptr<stream_slot> slot_;
  net::steady_timer recheck_timer_;
  std::string tenant_;
  std::function<std::optional<std::string>()> recheck_;
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

// One connection: read a request, hand it to the handler pool, write the
// response (posted back to the strand), repeat.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& s, std::shared_ptr<server::impl> srv, std::unique_ptr<connection_slot> conn,
          std::string remote_ip)
      : stream_(std::move(s)), srv_(std::move(srv)), conn_(std::move(conn)), remote_ip_(std::move(remote_ip)) {}

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
  // Waits up to read_timeout for the first byte of a request (unless one is
  // already buffered), then reads its headers within header_timeout.
  void do_read() {
    if (srv_->stopping) return do_close();
    parser_.emplace();
    parser_->body_limit(srv_->opts.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(srv_->opts.header_limit));
    if (buffer_.size() > 0) return read_header();
    stream_.expires_after(srv_->opts.read_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return self->do_close();  // idle too long, or the client left
      self->buffer_.commit(n);
      self->read_header();
    });
  }

  void read_header() {
    stream_.expires_after(srv_->opts.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&session::on_header, shared_from_this()));
  }

  // Read errors and limits, for the headers and for the body.
  bool refused(const beast::error_code& ec) {
    if (!ec) return false;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof) {
      do_close();
    } else if (ec == http::error::body_limit) {
      reply_error(413, "the request body is larger than " + std::to_string(srv_->opts.body_limit) + " bytes");
    } else if (ec == http::error::header_limit) {
      reply_error(431, "the request headers are larger than " + std::to_string(srv_->opts.header_limit) + " bytes");
    } else {
      reply_error(400, "malformed HTTP request: " + ec.message());
    }
    return true;
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (refused(ec)) return;
    const auto& msg = parser_->get();
    if (std::size_t(std::distance(msg.begin(), msg.end())) > srv_->opts.header_count_limit)
      return reply_error(431, "the request has more than " + std::to_string(srv_->opts.header_count_limit) +
                                  " header fields");
    if (parser_->is_done()) return on_request();
    stream_.expires_after(srv_->opts.body_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&session::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (refused(ec)) return;
    on_request();
  }

  void on_request() {
    stream_.expires_never();  // while the handler runs; send() sets the write's
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
    head_ = msg.method() == http::verb::head;
    handling_ = true;
    if (!parse_target(req.target, req.path, req.query)) {
      auto res = http_response::error(400, "bad_request", "malformed request target", req.request_id);
      res.set_header("X-Request-Id", req.request_id);
      return send(std::move(res), req.request_id);
    }
    if (srv_->serves_stream() && req.path == srv_->opts.stream_path) {
      if (!websocket::is_upgrade(msg)) {
        auto res = http_response::error(426, "upgrade_required",
                                        "the live stream is a WebSocket: send an upgrade request", req.request_id);
        res.set_header("Upgrade", "websocket");
        return send(std::move(res), req.request_id);
      }
      const std::string key = queue_key(req);
      auto shared = std::make_shared<http_request>(std::move(req));
      const bool queued = srv_->pool->submit(key, [self = shared_from_this(), shared] {
        auto who = self->srv_->opts.authorize_stream(*shared);
        net::post(self->stream_.get_executor(), [self, shared, who = std::move(who)]() mutable {
          if (auto* g = std::get_if<stream_grant>(&who)) return self->upgrade(std::move(*g), shared->request_id);
          self->send(std::get<http_response>(std::move(who)), shared->request_id);
        });
      });
      if (!queued) busy(*shared);
      return;
    }
    const bool prio = srv_->is_priority(req.path);
    const std::string key = prio ? req.path : queue_key(req);
    auto shared = std::make_shared<http_request>(std::move(req));
    auto& pool = prio ? *srv_->priority : *srv_->pool;
    const bool queued = pool.submit(key, [self = shared_from_this(), shared] {
      auto res = self->srv_->handler(*shared);
      if (res.stream && !self->head_) return self->stream_out(std::move(res), shared->request_id);
      net::post(self->stream_.get_executor(), [self, shared, res = std::move(res)]() mutable {
        self->send(std::move(res), shared->request_id);
      });
    });
    if (!queued) busy(*shared);
  }

  // The request's queue is full.
  void busy(const http_request& req) {
    auto res = http_response::error(503, "unavailable", "too many requests waiting; retry shortly", req.request_id);
    res.set_header("Retry-After", "1");
    send(std::move(res), req.request_id);
  }

  // Hands the connection to a live-stream session, if the tenant has room
  // for one more.
  void upgrade(stream_grant grant, const std::string& rid) {
    auto slot = stream_slot::take(srv_, grant.tenant);
    if (!slot) {
      auto res = http_response::error(
          429, "rate_limited",
          "this tenant has " + std::to_string(srv_->opts.streams_per_tenant) + " live streams open already",
          rid);
      res.set_header("Retry-After", "30");
      return send(std::move(res), rid);
    }
    auto ws = std::make_shared<ws_session>(std::move(stream_), srv_, std::move(conn_), std::move(slot));
    {
      std::lock_guard<std::mutex> lk(srv_->mu);
      srv_->sessions.erase(shared_from_this());
      if (srv_->stopping) return;  // the socket closes with the session
      srv_->streams.insert(ws);
    }
    ws->run(parser_->release(), std::move(grant), rid);
  }

  void reply_error(int status, const std::string& message) {
    const std::string rid = new_request_id();
    auto res = http_response::error(status, error_code_for(status), message, rid);
    res.set_header("X-Request-Id", rid);
    keep_alive_ = false;  // the rest of the stream cannot be trusted
    version_ = 11;
    head_ = false;
    handling_ = true;
    send(std::move(res), rid);
  }

  // The status line and headers of `res` on `out`.
  template <class Message>
  void head_of(Message& out, const http_response& res, const std::string& rid) const {
    out.version(version_);
    out.result(static_cast<unsigned>(res.status));
    out.set(http::field::server, "keepwatch");
    if (!res.content_type.empty()) out.set(http::field::content_type, res.content_type);
    bool has_rid = false;
    for (auto& [n, v] : res.headers) {
      out.set(n, v);
      if (beast::iequals(n, "X-Request-Id")) has_rid = true;
    }
    if (!has_rid) out.set("X-Request-Id", rid);
  }

  // Runs `start(done)` on the connection's strand and waits (on a handler
  // pool thread) for it to call done(ok); false as well once the I/O
  // threads have stopped (the write will never complete).
  template <class Start>
  bool on_strand(Start start) {
    auto p = std::make_shared<std::promise<bool>>();
    auto f = p->get_future();
    net::post(stream_.get_executor(), [p, start = std::move(start)]() mutable {
      start([p](bool ok) { p->set_value(ok); });
    });
    while (f.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready)
      if (srv_->ioc.stopped()) return false;
    return f.get();
  }

  // A streamed response (http_response::stream), on the handler pool thread
  // that made it: the headers, then each piece as a chunk (HTTP/1.0: raw,
  // then close), one write at a time, this thread waiting for each, so a
  // client reading slowly holds back the producer instead of filling memory.
  // A client that takes no piece within body_timeout is dropped.
  void stream_out(http_response res, const std::string& rid) {
    auto self = shared_from_this();
    const bool chunked = version_ >= 11;
    const bool close = !keep_alive_ || srv_->stopping || !chunked;
    auto head = std::make_shared<http::response<http::empty_body>>();
    head_of(*head, res, rid);
    head->keep_alive(!close);
    if (chunked) head->chunked(true);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*head);
    bool ok = on_strand([self, head, sr](auto done) {
      self->stream_.expires_after(self->srv_->opts.body_timeout);
      http::async_write_header(self->stream_, *sr,
                               [done, head, sr](beast::error_code ec, std::size_t) { done(!ec); });
    });
    auto write = [&](const std::string& piece) -> bool {
      if (!ok || srv_->stopping) return ok = false;
      if (piece.empty()) return true;
      auto buf = std::make_shared<std::string>(piece);
      ok = on_strand([self, buf, chunked](auto done) {
        self->stream_.expires_after(self->srv_->opts.body_timeout);
        auto written = [done, buf](beast::error_code ec, std::size_t) { done(!ec); };
        if (chunked) {
          auto c = std::make_shared<http::chunk_body<net::const_buffer>>(http::make_chunk(net::const_buffer(buf->data(), buf->size())));
          net::async_write(self->stream_, *c, [c, written](beast::error_code ec, std::size_t n) { written(ec, n); });
        } else {
          net::async_write(self->stream_, net::buffer(*buf), written);
        }
      });
      return ok;
    };
    if (ok) res.stream(write);
    if (ok && chunked)
      ok = on_strand([self](auto done) {
        self->stream_.expires_after(self->srv_->opts.body_timeout);
        auto last = std::make_shared<http::chunk_last<http::chunk_crlf>>(http::make_chunk_last());
        net::async_write(self->stream_, *last, [last, done](beast::error_code ec, std::size_t) { done(!ec); });
      });
    net::post(stream_.get_executor(), [self, ok, close] {
      self->handling_ = false;
      if (!ok || close) return self->do_close();
      self->do_read();
    });
  }

  void send(http_response res, const std::string& rid) {
    auto out = std::make_shared<http::response<http::string_body>>();
    head_of(*out, res, rid);
    const bool close = !keep_alive_ || srv_->stopping;
    out->keep_alive(!close);
    out->body() = std::move(res.body);
    out->prepare_payload();
    if (head_) out->body().clear();
    response_ = out;
    stream_.expires_after(srv_->opts.body_timeout);  // a client that reads nothing is dropped
    http::async_write(stream_, *out,
                      beast::bind_front_handler(&session::on_write, shared_from_this(), close));
  }

  void on_write(bool close, beast::error_code ec, std::size_t) {
    response_.reset();
    handling_ = false;
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
  std::unique_ptr<connection_slot> conn_;
  std::string remote_ip_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  bool head_ = false;
  bool handling_ = false;  // from a request's end until its response is written
};

// Over max_connections or max_connections_per_ip: a 503 written as is (the
// socket is fresh, so the few bytes fit its send buffer) and the socket
// closed, without reading from it.
static void refuse_connection(tcp::socket& s) {
  const std::string rid = new_request_id();
  const auto body = http_response::error(503, "unavailable", "too many connections; retry shortly", rid).body;
  const std::string out = "HTTP/1.1 503 Service Unavailable\r\nServer: keepwatch\r\nContent-Type: application/json\r\n"
                          "Retry-After: 1\r\nConnection: close\r\nX-Request-Id: " +
                          rid + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  beast::error_code ec;
  s.non_blocking(true, ec);
  s.write_some(net::buffer(out), ec);
  s.shutdown(tcp::socket::shutdown_send, ec);
  s.close(ec);
}

void server::impl::do_accept() {
  acceptor.async_accept(net::make_strand(ioc), beast::bind_front_handler(&impl::on_accept, shared_from_this()));
}

void server::impl::on_accept(beast::error_code ec, tcp::socket s) {
  if (stopping) return;
  if (ec) {
    if (!starved(ec)) return do_accept();  // e.g. the client gave up first
    // Out of descriptors: the connection stays in the backlog; try again
    // after a pause rather than at once (which would spin).
    if (!accept_starved)
      spdlog::warn("gateway: cannot accept connections ({}); retrying every {} ms", ec.message(),
                   opts.accept_backoff.count());
    accept_starved = true;
    accept_timer.expires_after(opts.accept_backoff);
    accept_timer.async_wait([self = shared_from_this()](beast::error_code e) {
      if (!e && !self->stopping) self->do_accept();
    });
    return;
  }
  if (accept_starved) spdlog::info("gateway: accepting connections again");
  accept_starved = false;
  beast::error_code ep_ec;
  auto ep = s.remote_endpoint(ep_ec);
  std::string ip = ep_ec ? std::string() : ep.address().to_string();
  auto conn = connection_slot::take(shared_from_this(), ip);
  if (!conn) {
    refuse_connection(s);
    return do_accept();
  }
  auto sess = std::make_shared<session>(std::move(s), shared_from_this(), std::move(conn), std::move(ip));
  {
    std::lock_guard<std::mutex> lk(mu);
    sessions.insert(sess);
  }
  sess->run();
  do_accept();
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
  im->pool = std::make_unique<handler_pool>("handler", im->opts.handler_threads, im->opts.per_key_concurrency,
                                            im->opts.per_key_queue, im->opts.queue_limit);
  const int lane = std::max(1, im->opts.priority_threads);
  im->priority = std::make_unique<handler_pool>("priority", lane, lane, 256, 1024);
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
    im->accept_timer.cancel();
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
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->pool->stop();
  impl_->priority->stop();
  // Released outside the lock: a session's last owner gives back its
  // connection slot, which takes the lock.
  std::set<std::shared_ptr<session>> sessions;
  std::set<std::shared_ptr<ws_session>> streams;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    sessions.swap(impl_->sessions);
    streams.swap(impl_->streams);
  }
  for (auto& s : streams) s->detach();
}

}  // namespace kw::gateway
