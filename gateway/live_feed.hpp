// The live feed behind WebSocket /api/v1/stream: one background thread that
// follows the node's log from where it ended when the feed started — every
// partition of keepwatch.events.v1 and keepwatch.checks.v1 — and hands each
// monitor event and check result, as one compact JSON text, to the
// subscribers of the event's tenant.
//
// The messages (one JSON object each, "type", "monitor_id" and "time" always):
//   check            ok, latency_us, http_status, error, seq[, cert_expires_at]
//   status_changed   from, to, reason, check_seq
//   incident_opened  incident_id, cause
//   incident_closed  incident_id, opened_at, duration_ms
//   monitor_created  name, kind          monitor_updated  name, kind
//   monitor_paused, monitor_resumed, monitor_deleted   (nothing more)
// Tenant events (members, keys, channels, ...) and notification outcomes are
// not streamed.
//
// Guarantees:
//  - A subscriber gets only messages of its own tenant (the record's key and
//    the decoded envelope's tenant must agree), in log order per partition.
//    Delivery is at most once and "live": nothing from before the feed
//    started, and nothing after the subscription ended.
//  - The feed never blocks on a subscriber. Each has a bounded queue; when a
//    message finds it full, the subscription ends (`fell_behind`) and its
//    queue is emptied. stop() ends every subscription (`feed_stopped`).
//  - `on_ready` runs on the feed's thread (or the caller's, for stop()) when
//    a message lands in an empty queue and when the subscription ends; a
//    subscriber pops until pop() has nothing before it waits again. It must
//    not block and must not call back into the feed (pop() and ended() are
//    fine).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "events/event.hpp"
#include "events/ids.hpp"
#include "events/result.hpp"
#include "storage/event_log.hpp"

namespace kw::gateway {

struct live_feed_options {
  // Sleep between polls when nothing new was read (on Kafka each read is a
  // fetch: keep this well above zero).
  std::chrono::milliseconds idle_poll{25};
  // Records read per (topic, partition) and poll.
  std::size_t batch = 500;
  // Messages a subscriber may have waiting before it is dropped.
  std::size_t queue_limit = 1024;
};

// Why a subscription ended.
enum class live_end { none, fell_behind, feed_stopped, cancelled };

// One follower of a tenant's messages. Thread-safe.
class live_subscription {
public:
  live_subscription(tenant_id t, std::size_t limit, std::function<void()> on_ready);
  ~live_subscription() = default;
  live_subscription(const live_subscription&) = delete;
  live_subscription& operator=(const live_subscription&) = delete;

  const tenant_id& tenant() const noexcept { return tenant_; }

  // The oldest waiting message, if any.
  std::optional<std::string> pop();
  // live_end::none while the subscription is live.
  live_end ended() const;
  // Ends the subscription: the feed forgets it and calls on_ready no more.
  void cancel();

  // The feed's side: queues one message, or ends the subscription if its
  // queue is full. True if the subscriber is to be woken (the queue was
  // empty, or it has just fallen behind).
  bool offer(std::string message);
  void end(live_end why);
  void wake() const;

private:
  const tenant_id tenant_;
  const std::size_t limit_;
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  live_end ended_ = live_end::none;
  std::function<void()> on_ready_;
};

// The JSON text of one event as the stream sends it; nullopt for events the
// stream does not carry.
std::optional<std::string> live_message(const event& e);

class live_feed {
public:
  // Reads the end of every partition of both topics, then starts the thread.
  static result<std::unique_ptr<live_feed>> start(storage::event_log& log, live_feed_options o = {});
  ~live_feed();
  live_feed(const live_feed&) = delete;
  live_feed& operator=(const live_feed&) = delete;

  // Follows `t` from now on. The subscription lives until cancelled, dropped
  // by the feed, or the feed stops; dropping the last reference cancels it.
  std::shared_ptr<live_subscription> subscribe(const tenant_id& t, std::function<void()> on_ready);

  // Subscriptions the feed currently serves (cancelled ones are forgotten
  // within one poll).
  std::size_t subscribers() const;

  // Idempotent; the destructor calls it. Ends every subscription.
  void stop();

  struct impl;

private:
  explicit live_feed(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace kw::gateway
