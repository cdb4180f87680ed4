// See prober.hpp. Each worker is one thread running one io_context with its
// own keep-alive pool; a check lives entirely on the worker it was posted to.
#include "actors/checks/prober.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "actors/checks/http_exchange.hpp"
#include "actors/checks/url.hpp"

namespace kw::checks {

namespace net = boost::asio;
using boost::system::error_code;
using detail::clock;
using detail::tcp;

namespace {

// What a check needs from the monitor's configuration; copied once.
struct check_spec {
  monitor_kind kind = monitor_kind::http;
  std::string url;
  std::string host;
  int port = 0;
  int timeout_ms = 10000;
  std::vector<status_range> accepted_status;
  std::string keyword;
  bool keyword_absent = false;
  int max_redirects = 5;
  bool verify_tls = true;

  explicit check_spec(const monitor_config& c)
    : kind(c.kind), url(c.url), host(c.host), port(c.port), timeout_ms(c.timeout_ms),
      accepted_status(c.accepted_status), keyword(c.keyword), keyword_absent(c.keyword_absent),
      max_redirects(c.max_redirects), verify_tls(c.verify_tls) {}
};

using done_fn = std::function<void(probe_result)>;

std::int64_t micros_since(clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count();
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string timeout_message(int timeout_ms) {
  return "timeout after " + std::to_string(timeout_ms) + " ms";
}

// An HTTP or keyword check: one exchange per hop, following redirects, all
// under one deadline.
class http_check : public std::enable_shared_from_this<http_check> {
public:
  http_check(net::io_context& ioc, detail::connection_pool& pool, net::ssl::context& tls,
             const target_policy& policy, check_spec spec, done_fn done)
    : ioc_(ioc), pool_(pool), tls_(tls), policy_(policy), spec_(std::move(spec)), done_(std::move(done)),
      start_(clock::now()), deadline_(start_ + std::chrono::milliseconds(std::max(spec_.timeout_ms, 1))) {}

  void start() {
    auto url = parse_url(spec_.url);
    if (!url)
      return finish("invalid url \"" + spec_.url + "\"");
    do_exchange(std::move(*url));
  }

private:
  void do_exchange(parsed_url url) {
    detail::exchange_request req;
    req.url = std::move(url);
    req.verify_tls = spec_.verify_tls;
    req.deadline = deadline_;
    req.policy = &policy_;
    current_ = req.url;
    detail::run_exchange(ioc_, &pool_, tls_, std::move(req),
                         [self = shared_from_this()](detail::exchange_result r) { self->on_exchange(std::move(r)); });
  }

  void on_exchange(detail::exchange_result r) {
    if (r.cert_not_after_us) {
      auto t = kw::timestamp{*r.cert_not_after_us};
      if (!result_.cert_expires_at || t < *result_.cert_expires_at)
        result_.cert_expires_at = t;
    }
    if (r.failed)
      return finish(r.timed_out ? timeout_message(spec_.timeout_ms) : r.error);
    result_.http_status = r.status;
    // max_redirects == 0 means "do not follow": the 3xx is judged like any status.
    if (is_redirect(r.status) && !r.location.empty() && spec_.max_redirects > 0) {
      if (result_.redirects >= spec_.max_redirects)
        return finish("too many redirects");
      auto next = resolve_location(current_, r.location);
      if (!next)
        return finish("invalid redirect location \"" + r.location + "\"");
      ++result_.redirects;
      return do_exchange(std::move(*next));
    }
    bool accepted = std::any_of(spec_.accepted_status.begin(), spec_.accepted_status.end(),
                                [&](const status_range& s) { return r.status >= s.low && r.status <= s.high; });
    if (!accepted)
      return finish("status " + std::to_string(r.status) + " not accepted");
    if (spec_.kind == monitor_kind::keyword) {
      if (r.body_truncated)
        return finish("response body larger than " + std::to_string(detail::default_body_limit) +
                      " bytes; keyword not searched");
      bool found = r.body.find(spec_.keyword) != std::string::npos;
      if (spec_.keyword_absent && found)
        return finish("keyword \"" + spec_.keyword + "\" found but must be absent");
      if (!spec_.keyword_absent && !found)
        return finish("keyword \"" + spec_.keyword + "\" not found");
    }
    finish({});
  }

  void finish(std::string error) {
    result_.ok = error.empty();
    result_.error = std::move(error);
    result_.latency_us = micros_since(start_);
    auto done = std::move(done_);
    done(std::move(result_));
  }

  net::io_context& ioc_;
  detail::connection_pool& pool_;
  net::ssl::context& tls_;
  const target_policy& policy_;
  check_spec spec_;
  done_fn done_;
  clock::time_point start_;
  clock::time_point deadline_;
  parsed_url current_;
  probe_result result_;
};

// A TCP check: resolve and connect within the deadline, then close.
class tcp_check : public std::enable_shared_from_this<tcp_check> {
public:
  tcp_check(net::io_context& ioc, detail::connection_pool& pool, const target_policy& policy,
             check_spec spec, done_fn done)
    : ioc_(ioc), pool_(pool), policy_(policy), spec_(std::move(spec)), done_(std::move(done)),
      resolver_(ioc), socket_(ioc), timer_(ioc), start_(clock::now()) {}

  ~tcp_check() {
    if (ticket_)
      pool_.cancel_wait(*ticket_);
    give_back_slot();
  }

  void start() {
    if (spec_.host.empty() || spec_.port <= 0 || spec_.port > 65535)
      return finish("invalid host or port");
    timer_.expires_at(start_ + std::chrono::milliseconds(std::max(spec_.timeout_ms, 1)));
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_deadline(ec); });
    obtain_slot();
  }

private:
  // The connection counts against the prober's budget like any other.
  void obtain_slot() {
    if (!pool_.reserve()) {
      ticket_ = pool_.wait([self = shared_from_this()] {
        net::post(self->ioc_, [self] {
          self->ticket_.reset();
          if (self->finished_)
            return self->pool_.wake_next();
          self->obtain_slot();
        });
      });
      return;
    }
    holds_slot_ = true;
    error_code ec;
    auto addr = net::ip::make_address(spec_.host, ec);
    if (!ec) {
      endpoints_.assign(1, tcp::endpoint(addr, static_cast<unsigned short>(spec_.port)));
      return admit_and_connect();
    }
    resolver_.async_resolve(spec_.host, std::to_string(spec_.port),
                            [self = shared_from_this()](error_code ec, tcp::resolver::results_type r) {
                              self->on_resolve(ec, std::move(r));
                            });
  }

  void give_back_slot() {
    if (holds_slot_)
      pool_.closed();
    holds_slot_ = false;
  }

  void on_resolve(error_code ec, tcp::resolver::results_type results) {
    if (ec)
      return fail(ec);
    for (auto& e : results)
      endpoints_.push_back(e.endpoint());
    admit_and_connect();
  }

  void admit_and_connect() {
    if (auto refused = detail::admit(&policy_, endpoints_))
      return finish(*refused);
    do_connect();
  }

  // The admitted endpoints in turn; a socket that cannot be opened (EMFILE)
  // is reported as such, not as a cancellation.
  void do_connect(std::size_t i = 0, error_code last = {}) {
    if (i >= endpoints_.size())
      return fail(last ? last : net::error::host_not_found);
    error_code ec;
    socket_.close(ec);
    socket_.open(endpoints_[i].protocol(), ec);
    if (ec)
      return fail(ec);
    socket_.async_connect(endpoints_[i], [self = shared_from_this(), i](error_code ec) {
      if (ec && !self->timed_out_ && !self->finished_)
        return self->do_connect(i + 1, ec);
      self->on_connect(ec);
    });
  }

  void on_connect(error_code ec) {
    if (ec)
      return fail(ec);
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    finish({});
  }

  void on_deadline(error_code ec) {
    if (ec == net::error::operation_aborted || finished_)
      return;
    timed_out_ = true;
    if (ticket_) {
      pool_.cancel_wait(*ticket_);
      ticket_.reset();
      return finish(detail::no_slot_message(pool_));
    }
    resolver_.cancel();
    error_code ignored;
    socket_.close(ignored);
  }

  void fail(error_code ec) {
    finish(timed_out_ ? timeout_message(spec_.timeout_ms) : detail::describe(ec));
  }

  void finish(std::string error) {
    if (finished_)
      return;
    finished_ = true;
    timer_.cancel();
    error_code ignored;
    socket_.close(ignored);
    give_back_slot();
    probe_result r;
    r.ok = error.empty();
    r.error = std::move(error);
    r.latency_us = micros_since(start_);
    auto done = std::move(done_);
    done(std::move(r));
  }

  net::io_context& ioc_;
  detail::connection_pool& pool_;
  const target_policy& policy_;
  check_spec spec_;
  done_fn done_;
  std::optional<std::uint64_t> ticket_;  // queued for a slot
  bool holds_slot_ = false;
  tcp::resolver resolver_;
  tcp::socket socket_;
  net::steady_timer timer_;
  clock::time_point start_;
  std::vector<tcp::endpoint> endpoints_;
  bool timed_out_ = false;
  bool finished_ = false;
};

}  // namespace

struct prober::impl {
  struct worker {
    // Declared before the io_context, so it outlives the checks that the
    // io_context's destruction still frees (they give their slots back).
    detail::connection_pool pool;
    net::io_context ioc{1};
    net::executor_work_guard<net::io_context::executor_type> guard{ioc.get_executor()};
    net::steady_timer sweep{ioc};
    clock::duration sweep_every;
    std::thread thread;

    explicit worker(detail::pool_limits limits)
      : pool(limits),
        sweep_every(std::clamp<clock::duration>(limits.idle_timeout / 4, std::chrono::milliseconds(10),
                                                std::chrono::seconds(5))) {}

    void do_sweep() {
      sweep.expires_after(sweep_every);
      sweep.async_wait([this](error_code ec) {
        if (ec)
          return;
        pool.evict_expired();
        do_sweep();
      });
    }
  };

  net::ssl::context tls = detail::make_client_tls_context();
  std::shared_ptr<const target_policy> policy;
  std::vector<std::unique_ptr<worker>> workers;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stopped{false};
  std::mutex stop_mutex;
};

prober::prober(prober_options o) : impl_(std::make_unique<impl>()) {
  impl_->policy = o.policy ? o.policy : std::make_shared<const target_policy>();
  auto n = static_cast<std::size_t>(std::max(o.threads, 1));
  // Each thread has its share of the budget: no locks between threads.
  detail::pool_limits limits;
  limits.max_open = std::max<std::size_t>(1, static_cast<std::size_t>(std::max(o.max_connections, 1)) / n);
  limits.max_idle = static_cast<std::size_t>(std::max(o.max_idle_connections, 0)) / n;
  limits.idle_timeout = std::max(o.idle_timeout, std::chrono::milliseconds(1));
  for (std::size_t i = 0; i < n; ++i)
    impl_->workers.push_back(std::make_unique<impl::worker>(limits));
  for (auto& w : impl_->workers) {
    w->do_sweep();
    w->thread = std::thread([w = w.get()] { w->ioc.run(); });
  }
}

prober::~prober() { stop(); }

void prober::stop() {
  std::lock_guard lock(impl_->stop_mutex);
  if (impl_->stopped.exchange(true))
    return;
  for (auto& w : impl_->workers)
    w->ioc.stop();
  for (auto& w : impl_->workers)
    if (w->thread.joinable())
      w->thread.join();
  // The threads are gone: the pools can be touched from here.
  for (auto& w : impl_->workers)
    w->pool.clear();
}

void prober::probe(const kw::monitor_config& cfg, std::function<void(probe_result)> done) {
  if (impl_->stopped.load(std::memory_order_relaxed))
    return;
  auto& w = *impl_->workers[impl_->next.fetch_add(1, std::memory_order_relaxed) % impl_->workers.size()];
  net::post(w.ioc, [&w, &tls = impl_->tls, &policy = *impl_->policy, spec = check_spec(cfg),
                    done = std::move(done)]() mutable {
    switch (spec.kind) {
      case monitor_kind::http:
      case monitor_kind::keyword:
        std::make_shared<http_check>(w.ioc, w.pool, tls, policy, std::move(spec), std::move(done))->start();
        return;
      case monitor_kind::tcp:
        std::make_shared<tcp_check>(w.ioc, w.pool, policy, std::move(spec), std::move(done))->start();
        return;
      case monitor_kind::push: {
        probe_result r;
        r.error = "push monitors are not probed";
        done(std::move(r));
        return;
      }
    }
  });
}

}  // namespace kw::checks
