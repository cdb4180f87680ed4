// The live feed (live_feed.hpp): a poller over both topics and a table of
// subscriptions by tenant.
#include "gateway/live_feed.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "events/codec.hpp"

namespace kw::gateway {

using json = nlohmann::json;

// ---- subscription ----------------------------------------------------------

live_subscription::live_subscription(tenant_id t, std::size_t limit, std::function<void()> on_ready)
    : tenant_(std::move(t)), limit_(limit), on_ready_(std::move(on_ready)) {}

std::optional<std::string> live_subscription::pop() {
  std::lock_guard<std::mutex> lk(mu_);
  if (queue_.empty()) return std::nullopt;
  auto m = std::move(queue_.front());
  queue_.pop_front();
  return m;
}

live_end live_subscription::ended() const {
  std::lock_guard<std::mutex> lk(mu_);
  return ended_;
}

void live_subscription::cancel() {
  std::lock_guard<std::mutex> lk(mu_);
  if (ended_ == live_end::none) ended_ = live_end::cancelled;
  queue_.clear();
  on_ready_ = nullptr;
}

bool live_subscription::offer(std::string message) {
  std::lock_guard<std::mutex> lk(mu_);
  if (ended_ != live_end::none) return false;
  if (queue_.size() >= limit_) {
    // A subscriber this far behind would only see stale news: it is told
    // why and must reconnect.
    ended_ = live_end::fell_behind;
    queue_.clear();
    return true;
  }
  queue_.push_back(std::move(message));
  return queue_.size() == 1;
}

void live_subscription::end(live_end why) {
  std::lock_guard<std::mutex> lk(mu_);
  if (ended_ == live_end::none) ended_ = why;
  queue_.clear();
}

void live_subscription::wake() const {
  std::function<void()> f;
  {
    std::lock_guard<std::mutex> lk(mu_);
    f = on_ready_;
  }
  if (f) f();
}

// ---- messages --------------------------------------------------------------

namespace {

// The monitor an event is about: its own field, else the envelope's subject
// ("monitor/<id>").
std::string monitor_of(const event& e) {
  if (auto* c = std::get_if<check_completed>(&e.data)) return c->monitor_id;
  static const std::string prefix = "monitor/";
  if (e.meta.subject.compare(0, prefix.size(), prefix) == 0) return e.meta.subject.substr(prefix.size());
  return {};
}

}  // namespace

std::optional<std::string> live_message(const event& e) {
  json m;
  const bool carried = std::visit(
      overloaded{
          [&](const check_completed& c) {
            m = {{"type", "check"},
                 {"ok", c.ok},
                 {"latency_us", c.latency_us},
                 {"http_status", c.http_status},
                 {"error", c.error},
                 {"seq", e.meta.seq.get()}};
            if (c.cert_expires_at) m["cert_expires_at"] = format_time(*c.cert_expires_at);
            return true;
          },
          [&](const monitor_status_changed& c) {
            m = {{"type", "status_changed"},
                 {"from", to_string(c.from)},
                 {"to", to_string(c.to)},
                 {"reason", c.reason},
                 {"check_seq", c.check_seq}};
            return true;
          },
          [&](const incident_opened& c) {
            m = {{"type", "incident_opened"}, {"incident_id", c.incident_id}, {"cause", c.cause}};
            return true;
          },
          [&](const incident_closed& c) {
            m = {{"type", "incident_closed"},
                 {"incident_id", c.incident_id},
                 {"opened_at", format_time(c.opened_at)},
                 {"duration_ms", c.duration_ms}};
            return true;
          },
          // Name and kind only: a monitor's configuration may hold secrets
          // (push tokens, header values).
          [&](const monitor_created& c) {
            m = {{"type", "monitor_created"}, {"name", c.config.name}, {"kind", to_string(c.config.kind)}};
            return true;
          },
          [&](const monitor_updated& c) {
            m = {{"type", "monitor_updated"}, {"name", c.config.name}, {"kind", to_string(c.config.kind)}};
            return true;
          },
          [&](const monitor_paused&) {
            m = {{"type", "monitor_paused"}};
            return true;
          },
          [&](const monitor_resumed&) {
            m = {{"type", "monitor_resumed"}};
            return true;
          },
          [&](const monitor_deleted&) {
            m = {{"type", "monitor_deleted"}};
            return true;
          },
          [&](const auto&) { return false; },
      },
      e.data);
  if (!carried) return std::nullopt;
  const auto id = monitor_of(e);
  if (id.empty()) return std::nullopt;
  m["monitor_id"] = id;
  m["time"] = format_time(e.meta.time);
  return m.dump();
}

// ---- feed ------------------------------------------------------------------

struct live_feed::impl {
  storage::event_log& log;
  live_feed_options opts;
  // Next offset to read, per topic and partition.
  std::vector<std::int64_t> next_events, next_checks;

  mutable std::mutex mu;  // guards subs and stopping
  std::unordered_map<std::string, std::vector<std::weak_ptr<live_subscription>>> subs;
  std::condition_variable cv;
  bool stopping = false;
  std::thread thread;

  impl(storage::event_log& l, live_feed_options o) : log(l), opts(o) {}

  // The live subscriptions of a tenant, forgetting ended ones.
  std::vector<std::shared_ptr<live_subscription>> followers(const std::string& tenant) {
    std::vector<std::shared_ptr<live_subscription>> out;
    std::lock_guard<std::mutex> lk(mu);
    auto it = subs.find(tenant);
    if (it == subs.end()) return out;
    auto& v = it->second;
    for (auto w = v.begin(); w != v.end();) {
      auto s = w->lock();
      if (!s || s->ended() != live_end::none) {
        w = v.erase(w);
        continue;
      }
      out.push_back(std::move(s));
      ++w;
    }
    if (v.empty()) subs.erase(it);
    return out;
  }

  // Reads one batch of (t, p); true if anything was read.
  bool poll(storage::topic t, int p, std::int64_t& next) {
    auto recs = log.read(t, partition_id{p}, log_offset{next}, opts.batch);
    if (!recs) {
      spdlog::warn("live feed: reading {} partition {}: {}", storage::topic_name(t), p, recs.err().message);
      return false;
    }
    if (recs->empty()) return false;
    for (auto& r : *recs) {
      next = r.offset.get() + 1;
      // Most records are of tenants nobody follows: skip them undecoded.
      auto to = followers(r.key);
      if (to.empty()) continue;
      auto e = decode(r.value);
      if (!e) {
        spdlog::warn("live feed: undecodable record {} {}:{}: {}", storage::topic_name(t), p, r.offset.get(),
                     e.err().message);
        continue;
      }
      if (e->meta.tenant.get() != r.key) continue;
      auto msg = live_message(*e);
      if (!msg) continue;
      for (auto& s : to)
        if (s->offer(*msg)) s->wake();
    }
    return true;
  }

  // With nobody subscribed, moves past what was appended instead of
  // reading it. The ends are read before subscribers are looked at, so a
  // record appended after someone subscribed is never skipped. True if it
  // skipped (nobody was subscribed).
  bool skip_if_unfollowed(int n) {
    std::vector<std::int64_t> ev(std::size_t(n), -1), ck(std::size_t(n), -1);
    for (int p = 0; p < n; ++p) {
      if (auto e = log.end_offset(storage::topic::events, partition_id{p})) ev[std::size_t(p)] = e->get();
      if (auto e = log.end_offset(storage::topic::checks, partition_id{p})) ck[std::size_t(p)] = e->get();
    }
    {
      std::lock_guard<std::mutex> lk(mu);
      if (!subs.empty()) return false;
    }
    for (int p = 0; p < n; ++p) {
      next_events[std::size_t(p)] = std::max(next_events[std::size_t(p)], ev[std::size_t(p)]);
      next_checks[std::size_t(p)] = std::max(next_checks[std::size_t(p)], ck[std::size_t(p)]);
    }
    return true;
  }

  void run() {
    const int n = log.partitions();
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(mu);
        if (stopping) return;
      }
      if (skip_if_unfollowed(n)) {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait_for(lk, opts.idle_poll, [&] { return stopping; });
        continue;
      }
      bool busy = false;
      for (int p = 0; p < n; ++p) {
        busy |= poll(storage::topic::events, p, next_events[std::size_t(p)]);
        busy |= poll(storage::topic::checks, p, next_checks[std::size_t(p)]);
      }
      if (!busy) {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait_for(lk, opts.idle_poll, [&] { return stopping; });
      }
    }
  }
};

live_feed::live_feed(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

live_feed::~live_feed() { stop(); }

result<std::unique_ptr<live_feed>> live_feed::start(storage::event_log& log, live_feed_options o) {
  if (o.queue_limit == 0 || o.batch == 0) return error{errc::invalid, "live feed: queue_limit and batch must be > 0"};
  auto im = std::make_unique<impl>(log, o);
  const int n = log.partitions();
  for (int p = 0; p < n; ++p) {
    for (auto t : {storage::topic::events, storage::topic::checks}) {
      auto end = log.end_offset(t, partition_id{p});
      if (!end) return error{end.err().code, "live feed: " + end.err().message};
      (t == storage::topic::events ? im->next_events : im->next_checks).push_back(end->get());
    }
  }
  auto* p = im.get();
  im->thread = std::thread([p] { p->run(); });
  return std::unique_ptr<live_feed>(new live_feed(std::move(im)));
}

std::shared_ptr<live_subscription> live_feed::subscribe(const tenant_id& t, std::function<void()> on_ready) {
  auto s = std::make_shared<live_subscription>(t, impl_->opts.queue_limit, std::move(on_ready));
  std::lock_guard<std::mutex> lk(impl_->mu);
  if (impl_->stopping) {
    s->end(live_end::feed_stopped);
    return s;
  }
  impl_->subs[t.get()].push_back(s);
  return s;
}

std::size_t live_feed::subscribers() const {
  std::size_t n = 0;
  std::lock_guard<std::mutex> lk(impl_->mu);
  for (auto& [t, v] : impl_->subs)
    for (auto& w : v)
      if (auto s = w.lock(); s && s->ended() == live_end::none) ++n;
  return n;
}

void live_feed::stop() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    if (impl_->stopping && !impl_->thread.joinable()) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  std::vector<std::shared_ptr<live_subscription>> all;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    for (auto& [t, v] : impl_->subs)
      for (auto& w : v)
        if (auto s = w.lock()) all.push_back(std::move(s));
    impl_->subs.clear();
  }
  for (auto& s : all) {
    s->end(live_end::feed_stopped);
    s->wake();
  }
}

}  // namespace kw::gateway
