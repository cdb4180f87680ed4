// See webhook_sender.hpp.
#include "actors/checks/webhook_sender.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "actors/checks/http_exchange.hpp"
#include "actors/checks/url.hpp"

namespace kw::checks {

namespace net = boost::asio;
using boost::system::error_code;
using detail::clock;

std::string webhook_signature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 0xf];
  }
  return out;
}

namespace {

// One webhook, through all its attempts.
class delivery : public std::enable_shared_from_this<delivery> {
public:
  delivery(net::io_context& ioc, net::ssl::context& tls, const target_policy& policy, webhook_request req,
           std::function<void(delivery_outcome)> done)
    : ioc_(ioc), tls_(tls), policy_(policy), req_(std::move(req)), done_(std::move(done)), timer_(ioc) {
    req_.max_attempts = std::max(req_.max_attempts, 1);
    backoff_ms_ = std::max(req_.initial_backoff_ms, 0);
  }

  void start() {
    url_ = parse_url(req_.url);
    if (!url_) {
      outcome_.error = "invalid url \"" + req_.url + "\"";
      return finish();  // permanent: retrying cannot help
    }
    if (!req_.secret.empty())
      signature_ = webhook_signature(req_.secret, req_.body);
    do_attempt();
  }

private:
  void do_attempt() {
    ++outcome_.attempts;
    detail::exchange_request r;
    r.url = *url_;
    r.method = boost::beast::http::verb::post;
    r.body = req_.body;
    r.headers.emplace_back("Content-Type", "application/json");
    if (!req_.delivery_id.empty())
      r.headers.emplace_back("X-Keepwatch-Delivery", req_.delivery_id);
    if (!signature_.empty())
      r.headers.emplace_back("X-Keepwatch-Signature", signature_);
    r.verify_tls = req_.verify_tls;
    r.body_limit = 64 * 1024;  // the receiver's answer is not used
    r.deadline = clock::now() + std::chrono::milliseconds(std::max(req_.timeout_ms, 1));
    r.policy = &policy_;
    detail::run_exchange(ioc_, nullptr, tls_, std::move(r),
                         [self = shared_from_this()](detail::exchange_result x) { self->on_attempt(std::move(x)); });
  }

  void on_attempt(detail::exchange_result x) {
    outcome_.http_status = x.failed ? 0 : x.status;
    if (x.failed)
      outcome_.error = x.timed_out ? "timeout after " + std::to_string(req_.timeout_ms) + " ms" : x.error;
    else if (x.status < 200 || x.status > 299)
      outcome_.error = "status " + std::to_string(x.status);
    else
      outcome_.error.clear();
    outcome_.delivered = outcome_.error.empty();
    // A refused address is the platform's rule, not a passing failure.
    if (outcome_.delivered || x.refused || outcome_.attempts >= req_.max_attempts)
      return finish();
    timer_.expires_after(std::chrono::milliseconds(backoff_ms_));
    backoff_ms_ = std::min(backoff_ms_ * 2, std::max(req_.max_backoff_ms, req_.initial_backoff_ms));
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec)
        self->do_attempt();
    });
  }

  void finish() {
    auto done = std::move(done_);
    done(std::move(outcome_));
  }

  net::io_context& ioc_;
  net::ssl::context& tls_;
  const target_policy& policy_;
  webhook_request req_;
  std::function<void(delivery_outcome)> done_;
  net::steady_timer timer_;
  std::optional<parsed_url> url_;
  std::string signature_;
  int backoff_ms_ = 0;
  delivery_outcome outcome_;
};

}  // namespace

struct webhook_sender::impl {
  net::ssl::context tls = detail::make_client_tls_context();  // outlives the streams in ioc
  std::shared_ptr<const target_policy> policy;
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> guard{ioc.get_executor()};
  std::thread thread;
  std::atomic<bool> stopped{false};
  std::mutex stop_mutex;
};

webhook_sender::webhook_sender(std::shared_ptr<const target_policy> policy) : impl_(std::make_unique<impl>()) {
  impl_->policy = policy ? std::move(policy) : std::make_shared<const target_policy>();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

webhook_sender::~webhook_sender() { stop(); }

void webhook_sender::stop() {
  std::lock_guard lock(impl_->stop_mutex);
  if (impl_->stopped.exchange(true))
    return;
  impl_->ioc.stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

void webhook_sender::deliver(webhook_request req, std::function<void(delivery_outcome)> done) {
  if (impl_->stopped.load(std::memory_order_relaxed))
    return;
  net::post(impl_->ioc, [this, req = std::move(req), done = std::move(done)]() mutable {
    std::make_shared<delivery>(impl_->ioc, impl_->tls, *impl_->policy, std::move(req), std::move(done))->start();
  });
}

}  // namespace kw::checks
