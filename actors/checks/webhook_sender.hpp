// Delivers webhook notifications: POST a JSON body to an http(s) URL, signed
// with HMAC-SHA256 when the channel has a secret, retried with exponential
// backoff until a 2xx or the attempts run out.
//
// Guarantees:
//  - deliver() never blocks and may be called from any thread. `done` is called
//    exactly once, on the sender's thread, with the final outcome — unless
//    stop() comes first: then no callback runs.
//  - Each attempt is a fresh connection bounded by timeout_ms. A connect
//    error, a timeout or a non-2xx status is retried after initial_backoff_ms,
//    then twice that, ... capped at max_backoff_ms; waits are timers, not
//    threads, so many deliveries back off at once at no cost.
//  - Headers: Content-Type: application/json, User-Agent: Keepwatch/0.1,
//    X-Keepwatch-Delivery: <delivery_id> when one is given and, with a
//    secret, X-Keepwatch-Signature: sha256=<hex HMAC-SHA256(secret, body)>
//    (see webhook_signature), so receivers can authenticate the body.
//  - Delivery is at-least-once per call: a receiver that answered too slowly
//    may see the same body again. Callers that deliver the same notification
//    again (the monitor actor after a restart) send the same body and
//    delivery id, so a receiver dedupes on X-Keepwatch-Delivery.
//  - stop() drops what is pending here; the sender keeps nothing across a
//    restart. What is owed lives in the caller's state (the monitor's owed
//    notifications, recorded in the log), which re-delivers it.
//  - Every attempt's addresses are judged by the target policy right before
//    connecting (the URL's name is resolved again each time): a refused
//    address is never connected to, and the delivery fails at once, without
//    retries, with the policy's reason as its error ("target address
//    127.0.0.1 is not allowed: loopback ...").
// Boost and OpenSSL stay behind the pimpl.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "actors/checks/target_policy.hpp"

namespace kw::checks {

struct webhook_request {
  std::string url;                 // http:// or https://
  std::string body;                // JSON, sent as is
  std::string secret;              // empty: no signature header
  std::string delivery_id;         // empty: no X-Keepwatch-Delivery header
  int max_attempts = 5;
  int initial_backoff_ms = 500;    // doubles after each failed attempt
  int max_backoff_ms = 60'000;
  int timeout_ms = 10'000;         // per attempt
  bool verify_tls = true;
};

struct delivery_outcome {
  bool delivered = false;
  int attempts = 0;       // attempts made, 1..max_attempts
  int http_status = 0;    // of the last attempt; 0 when it got no response
  std::string error;      // of the last attempt; empty iff delivered
};

// "sha256=" + lowercase hex HMAC-SHA256(secret, body).
std::string webhook_signature(std::string_view secret, std::string_view body);

class webhook_sender {
public:
  // null: the default policy (public addresses only).
  explicit webhook_sender(std::shared_ptr<const target_policy> policy = nullptr);
  ~webhook_sender();  // stop()
  webhook_sender(const webhook_sender&) = delete;
  webhook_sender& operator=(const webhook_sender&) = delete;

  void deliver(webhook_request req, std::function<void(delivery_outcome)> done);

  // Stops the thread and joins it; pending deliveries are dropped. Idempotent.
  // Must not be called from a done callback.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace kw::checks
